"""Event definitions: the seeded examples load; a bad file names the field and the line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simultan.errors import ConfigError
from simultan.eventdef import ItemKind, load_event, parse_event
from tests.conftest import FORUM, SEMINAR


def test_seminar_follows_the_announcement() -> None:
    defn = load_event(SEMINAR)
    assert defn.event.floor_language == "en"
    assert defn.languages == ("en", "zh", "ja", "es")
    first, last = defn.agenda[0], defn.agenda[-1]
    # Thursday 3 December, 09:00-17:30 CET
    assert defn.planned_start(first) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    end = defn.planned_start(last).timestamp() + last.duration_minutes * 60
    assert datetime.fromtimestamp(end, UTC) == datetime(2026, 12, 3, 16, 30, tzinfo=UTC)
    discussions = [i for i in defn.agenda if i.kind is ItemKind.DISCUSSION]
    assert len(discussions) == 2
    assert "Covid-19" in discussions[0].title and "Green Deal" in discussions[0].title
    assert "climate neutrality" in discussions[1].title


def test_forum_has_five_panels_then_a_b2b_day() -> None:
    defn = load_event(FORUM)
    panels = [i for i in defn.agenda if i.kind is ItemKind.PANEL]
    assert len(panels) == 5
    assert all(any(s.remote for s in p.speakers) for p in panels)
    b2b_days = {i.day for i in defn.agenda if i.kind is ItemKind.B2B}
    assert b2b_days == {defn.event.days[1]}


def bad(text_from: Path, old: str, new: str) -> str:
    text = text_from.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [
        ("timezone: Europe/Brussels", "timezone: Europe/Atlantis", "event.timezone", 8),
        (
            "duration_minutes: 60, kind: panel",
            "duration_minutes: 0, kind: panel",
            "agenda.1.duration_minutes",
            40,
        ),
        (
            'kind: keynote,\n     title: "Welcome',
            'kind: party,\n     title: "Welcome',
            "agenda.0.kind",
            37,
        ),
        (
            "  - id: ja\n    language: ja",
            "  - id: ja\n    language: JAPANESE",
            "booths.1.language",
            24,
        ),
        ("floor_language: en", "floor_language: en\n  colour: blue", "event.colour", 11),
    ],
)
def test_bad_field_is_named_with_its_line(old: str, new: str, field: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_event(bad(SEMINAR, old, new), "seminar.yaml")
    text = str(info.value)
    assert f"seminar.yaml:line {line}: {field}" in text, text


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_event("event:\n  id: [unclosed\n", "broken.yaml")
    assert "broken.yaml:" in str(info.value) and "YAML" in str(info.value)


def test_cross_field_rules() -> None:
    text = bad(SEMINAR, "  - id: zh\n    language: zh", "  - id: zh\n    language: en")
    with pytest.raises(ConfigError, match="floor language"):
        parse_event(text, "x.yaml")
    text = bad(SEMINAR, "{id: lunch, day: 2026-12-03", "{id: opening, day: 2026-12-03")
    with pytest.raises(ConfigError, match="unique"):
        parse_event(text, "x.yaml")


def test_check_config_command_and_server_refuse_a_bad_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        bad(SEMINAR, "duration_minutes: 60, kind: panel", "duration_minutes: -1, kind: panel")
    )
    ok = subprocess.run(
        [sys.executable, "-m", "simultan", "check-config", str(SEMINAR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "OK" in ok.stdout
    for args in (["check-config", str(broken)], ["serve", "--event", str(broken), "--port", "0"]):
        run = subprocess.run(
            [sys.executable, "-m", "simultan", *args], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 2
        assert "agenda.1.duration_minutes" in run.stderr and "line 40" in run.stderr
        assert "Traceback" not in run.stderr


def test_forum_b2b_day_has_a_grid_of_twelve_slots_at_twelve_tables() -> None:
    from simultan.session.b2b import grid_of

    defn = load_event(FORUM)
    grid = grid_of(defn)
    assert grid is not None and grid.tables == 12
    slots = grid.slots()
    assert len(slots) == 12
    local = [s.start.astimezone(defn.zone).strftime("%H:%M") for s in slots]
    assert local[:2] == ["09:00", "09:30"] and local[6] == "13:00" and local[-1] == "15:30"
    assert grid_of(load_event(SEMINAR)) is None
    text = SEMINAR.read_text() + "b2b: {tables: 3}\n"
    with pytest.raises(ConfigError, match="invalid"):
        parse_event(text)


def test_seminar_predefines_groups_with_topics_facilitators_and_a_booth() -> None:
    defn = load_event(SEMINAR)
    assert [t.id for t in defn.topics][:2] == ["covid-recovery", "green-deal"]
    morning = next(i for i in defn.agenda if i.id == "morning-groups")
    assert [g.topic for g in morning.groups] == ["covid-recovery", "green-deal", "green-deal"]
    assert morning.groups[0].facilitator == "facilitator.covid@iuc.example"
    assert morning.groups[2].booth == "es" and morning.groups[2].language == "es"


def test_a_field_found_wrong_later_is_located_in_the_file() -> None:
    """A facilitator nobody registered is found only when the groups are planned: the
    definition still names the file, line and field."""
    defn = load_event(SEMINAR)
    line = next(
        n for n, x in enumerate(SEMINAR.read_text().splitlines(), 1) if "facilitator.covid@" in x
    )
    path = ("agenda", 3, "groups", 0, "facilitator")
    assert defn.locate(path) == f"{SEMINAR}:line {line}: agenda.3.groups.0.facilitator"
    shifted = defn.shifted_to(datetime(2030, 1, 1, tzinfo=UTC))  # the demo's copy keeps it
    assert shifted.locate(path) == defn.locate(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("topic: covid-recovery,\n", "topic: no-such-topic,\n", "unknown topic"),
        ("language: es, booth: es}", "language: es, booth: fr}", "unknown booth"),
        (
            '{id: green-deal, title: "The Green',
            '{id: covid-recovery, title: "The Green',
            "distinct",
        ),
        (
            "kind: break,\n     title: Coffee break}",
            "kind: break, groups: [{id: g, title: G}],\n     title: Coffee break}",
            "not a discussion",
        ),
        (
            'title: "Roadmaps to climate neutrality", topic: climate-neutrality}',
            'title: "Roadmaps", members: [ana@x.example, ana@x.example]}',
            "more than once",
        ),
    ],
)
def test_bad_groups_refused(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_event(bad(SEMINAR, old, new), "x.yaml")
    assert message in str(info.value) or message in " ".join(info.value.problems)
