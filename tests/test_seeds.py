"""The seeded events against the announcements they were shaped by (the seeds): their dates,
times and time zones, and an interpretation for every planned speaker's language."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from simultan.core import booths as bc
from simultan.core.routing import route
from simultan.eventdef import ItemKind, interpretation_gaps, load_event
from tests.conftest import FORUM, SEMINAR


def bad(text_from: Path, old: str, new: str) -> str:
    text = text_from.read_text()
    assert old in text
    return text.replace(old, new, 1)


# What the two announcements (the seeds the events were shaped by) say about when they run:
# IUC (Czech): "ve čtvrtek 3. prosince od 09:00 do 17:30", an EU programme on Brussels time;
# Łódź (Polish): the all-day seminar "8 października", "w kolejnym dniu" (the next day) B2B.
SEEDED_WHEN = {
    "iuc-city-to-city": {
        "timezone": "Europe/Brussels",
        "days": {"seminar": ["2026-12-03"]},
        "weekday": {"2026-12-03": "Thursday"},
        "start": "09:00",
        "end": "17:30",
    },
    "lodz-partner-cities-forum": {
        "timezone": "Europe/Warsaw",
        "days": {"seminar": ["2027-10-08"], "b2b": ["2027-10-09"]},
        "weekday": {"2027-10-08": "Friday", "2027-10-09": "Saturday"},
        "start": "09:00",
        "end": None,
    },
}


@pytest.mark.parametrize("path", [SEMINAR, FORUM], ids=lambda p: p.stem)
def test_seeded_dates_times_and_zones_follow_the_announcements(path: Path) -> None:
    defn = load_event(path)
    want = SEEDED_WHEN[defn.event.id]
    assert defn.event.timezone == want["timezone"]
    days: dict[str, set[str]] = {}
    for item in defn.agenda:
        part = "b2b" if item.day != defn.event.days[0] else "seminar"
        days.setdefault(part, set()).add(item.day.isoformat())
    assert {k: sorted(v) for k, v in days.items()} == want["days"]
    assert [d.isoformat() for d in defn.event.days] == sorted(
        d for ds in want["days"].values() for d in ds
    )
    for day, weekday in want["weekday"].items():
        assert date.fromisoformat(day).strftime("%A") == weekday
    if "b2b" in want["days"]:
        b2b = {i.day.isoformat() for i in defn.agenda if i.kind is ItemKind.B2B}
        assert b2b == set(want["days"]["b2b"])
    first_day = [i for i in defn.agenda if i.day == defn.event.days[0]]
    starts = [defn.planned_start(i).astimezone(defn.zone) for i in first_day]
    ends = [
        s + timedelta(minutes=i.duration_minutes) for s, i in zip(starts, first_day, strict=True)
    ]
    assert min(starts).strftime("%H:%M") == want["start"]
    if want["end"]:
        assert max(ends).strftime("%H:%M") == want["end"]
    assert all(s.tzinfo is not None and s.utcoffset() is not None for s in starts)


@pytest.mark.parametrize("path", [SEMINAR, FORUM], ids=lambda p: p.stem)
def test_english_listeners_hear_every_planned_speaker_interpreted(path: Path) -> None:
    """Each booth whose language a planned speaker uses works into English (retour): with
    one of its interpreters live, the English channel carries that interpreter."""
    defn = load_event(path)
    assert interpretation_gaps(path) == []
    for item in defn.agenda:
        for s in item.speakers:
            if s.language == defn.event.floor_language:
                continue
            booths = [bc.booth_from_definition(b) for b in defn.booths]
            i = next(n for n, b in enumerate(booths) if b.language == s.language)
            first = next(iter(booths[i].members.values()))
            now = datetime(2026, 1, 1, tzinfo=UTC)
            for cmd in (bc.Connect(by=first), bc.TakeMic(by=first)):
                booths[i], _ = bc.apply(booths[i], cmd, now)
            routing = route(defn.event.floor_language, s.language, booths)
            assert routing.channels["en"].kind == "interpreter", (item.id, s.name)


def test_check_config_warns_naming_the_item_and_line(tmp_path: Path) -> None:
    text = bad(
        SEMINAR, "  - id: ja\n    language: ja\n    retour: true", "  - id: ja\n    language: ja"
    )
    path = tmp_path / "seminar.yaml"
    path.write_text(text)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "Japanese prefecture" in t)
    run = subprocess.run(
        [sys.executable, "-m", "simultan", "check-config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    (warning,) = [w for w in run.stdout.splitlines() if w.startswith("warning:")]
    assert f"{path}:line {line}: agenda item 'asia-keynote'" in warning
    assert "channel en would carry it untranslated" in warning and "booth ja" in warning
