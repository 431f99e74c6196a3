"""Routing: table tests of the three rules and properties over any booth states."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simultan.core.booths import Booth
from simultan.core.routing import FLOOR, Routing, Source, live_source, route

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def booth(
    lang: str, *, live: str | None = None, retour: bool = False, coughing: bool = False
) -> Booth:
    """A booth with interpreters ``<lang>-a`` and ``<lang>-b``, both connected."""
    members = {"A": f"{lang}-a", "B": f"{lang}-b"}
    return Booth(
        id=lang,
        language=lang,
        retour=retour,
        members=members,  # type: ignore[arg-type]
        connected=frozenset(members.values()),
        live=live,
        live_since=T0 if live else None,
        coughing=coughing,
    )


def voice(lang: str, seat: str = "a") -> Source:
    return Source("interpreter", f"{lang}-{seat}", lang)


CASES: dict[str, tuple[str, list[Booth], dict[str, Source], dict[str, Source], str | None]] = {
    "a: floor in English, live booths interpret, an empty booth falls back to the floor": (
        "en",
        [booth("zh", live="zh-a"), booth("ja"), booth("es", live="es-b", retour=True)],
        {"en": FLOOR, "zh": voice("zh"), "ja": FLOOR, "es": voice("es", "b")},
        {"zh": FLOOR, "ja": FLOOR, "es": FLOOR},
        None,
    ),
    "a: a cough does not reroute": (
        "en",
        [booth("zh", live="zh-a", coughing=True)],
        {"en": FLOOR, "zh": voice("zh")},
        {"zh": FLOOR},
        None,
    ),
    "b: Spanish floor, retour booth feeds English and relays to the others": (
        "es",
        [booth("zh", live="zh-b"), booth("ja"), booth("es", live="es-a", retour=True)],
        {"en": voice("es"), "es": FLOOR, "zh": voice("zh", "b"), "ja": voice("es")},
        {"es": FLOOR, "zh": voice("es"), "ja": voice("es")},
        "es",
    ),
    "b: Spanish floor, retour booth with nobody live: the floor everywhere else": (
        "es",
        [booth("zh", live="zh-a"), booth("ja"), booth("es", retour=True)],
        {"en": FLOOR, "es": FLOOR, "zh": voice("zh"), "ja": FLOOR},
        {"es": FLOOR, "zh": FLOOR, "ja": FLOOR},
        "es",
    ),
    "b: Chinese floor, booth without retour relays but keeps off the English channel": (
        "zh",
        [booth("zh", live="zh-a"), booth("ja", live="ja-a"), booth("es")],
        {"en": FLOOR, "zh": FLOOR, "ja": voice("ja"), "es": voice("zh")},
        {"zh": FLOOR, "ja": voice("zh"), "es": voice("zh")},
        "zh",
    ),
    "c: a language without a booth: everybody works from the floor": (
        "pl",
        [booth("zh", live="zh-a"), booth("ja"), booth("es", live="es-a", retour=True)],
        {"en": FLOOR, "zh": voice("zh"), "ja": FLOOR, "es": voice("es")},
        {"zh": FLOOR, "ja": FLOOR, "es": FLOOR},
        None,
    ),
    "no booths at all": ("en", [], {"en": FLOOR}, {}, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rules(case: str) -> None:
    floor_language, booths, channels, hears, pivot = CASES[case]
    routing = route("en", floor_language, booths)
    assert dict(routing.channels) == channels
    assert dict(routing.booth_hears) == hears
    assert routing.pivot == pivot


def test_routing_is_json_ready_and_read_only() -> None:
    routing = route("en", "es", [booth("es", live="es-a", retour=True), booth("ja")])
    data = routing.to_dict()
    json.dumps(data)
    assert data["pivot"] == "es"
    assert data["channels"] == {
        "en": {"kind": "interpreter", "person": "es-a", "booth": "es"},
        "es": {"kind": "floor", "person": None, "booth": None},
        "ja": {"kind": "interpreter", "person": "es-a", "booth": "es"},
    }
    with pytest.raises(TypeError):
        routing.channels["en"] = FLOOR  # type: ignore[index]


def test_sources_are_well_formed() -> None:
    with pytest.raises(ValueError):
        Source("floor", "someone", None)
    with pytest.raises(ValueError):
        Source("interpreter", None, "zh")
    assert FLOOR.is_floor and not voice("zh").is_floor
    assert live_source(booth("zh")) is None
    assert live_source(booth("zh", live="zh-b")) == voice("zh", "b")


@pytest.mark.parametrize(
    ("floor_channel", "booths"),
    [
        ("en", [booth("zh"), booth("zh")]),
        ("zh", [booth("zh")]),
    ],
)
def test_inconsistent_layouts_are_refused(floor_channel: str, booths: list[Booth]) -> None:
    with pytest.raises(ValueError):
        route(floor_channel, "en", booths)


# --- properties -----------------------------------------------------------------------------


@st.composite
def booth_states(draw: st.DrawFn, lang: str) -> Booth:
    people = [f"{lang}-a", f"{lang}-b", f"{lang}-c"]
    members = dict(zip(("A", "B", "backup"), people, strict=True))
    connected = draw(st.frozensets(st.sampled_from(people)))
    live = draw(st.none() | st.sampled_from(sorted(connected))) if connected else None
    return Booth(
        id=f"booth-{lang}",
        language=lang,
        retour=draw(st.booleans()),
        members=members,  # type: ignore[arg-type]
        connected=connected,
        live=live,
        live_since=T0 if live else None,
        coughing=live is not None and draw(st.booleans()),
    )


@st.composite
def layouts(draw: st.DrawFn) -> list[Booth]:
    langs = draw(st.lists(st.sampled_from(["zh", "ja", "es", "pl"]), unique=True, max_size=4))
    return [draw(booth_states(lang)) for lang in langs]


def check(routing: Routing, floor_channel: str, booths: list[Booth]) -> None:
    by_id = {b.id: b for b in booths}
    pivot = by_id.get(routing.pivot) if routing.pivot else None
    assert set(routing.channels) == {floor_channel, *(b.language for b in booths)}
    assert set(routing.booth_hears) == set(by_id)
    for source in (*routing.channels.values(), *routing.booth_hears.values()):
        if source.kind == "interpreter":
            assert source.booth is not None
            origin = by_id[source.booth]
            assert source.person == origin.live and source.person in origin.connected
    for booth_id, heard in routing.booth_hears.items():
        assert heard.booth != booth_id, "a booth hears itself"
        assert heard.is_floor or (pivot is not None and heard.booth == pivot.id)
    feed = routing.channels[floor_channel]
    if not feed.is_floor:
        assert pivot is not None and pivot.retour and feed.booth == pivot.id
    for b in booths:
        source = routing.channels[b.language]
        assert source.is_floor or source.booth in (b.id, routing.pivot)


@given(
    booths=layouts(),
    floor_language=st.sampled_from(["en", "zh", "ja", "es", "pl", "fr"]),
)
def test_every_channel_has_a_source_from_someone_live(
    booths: list[Booth], floor_language: str
) -> None:
    routing = route("en", floor_language, booths)
    check(routing, "en", booths)
    pivot = next((b for b in booths if b.language == floor_language), None)
    assert routing.pivot == (pivot.id if pivot else None)
    if pivot is not None:
        assert routing.channels[pivot.language] == FLOOR


# --- rule d: what a booth chose to hear -------------------------------------------------------


def test_a_booth_chooses_relay_or_the_floor_and_automatic_is_the_default() -> None:
    booths = [booth("zh", live="zh-a"), booth("ja", live="ja-b"), booth("es")]
    auto = route("en", "en", booths)
    assert auto.booth_hears["zh"] == FLOOR
    assert route("en", "en", booths, {"zh": "auto"}) == auto
    chosen = route("en", "en", booths, {"zh": "ja"})
    assert chosen.booth_hears == {"zh": voice("ja", "b"), "ja": FLOOR, "es": FLOOR}
    assert chosen.channels == auto.channels  # what listeners hear does not change
    # relay from a booth with nobody live: the floor, never silence
    assert route("en", "en", booths, {"zh": "es"}).booth_hears["zh"] == FLOOR
    # a pivot's relay overridden by the floor
    pivoted = [booth("zh"), booth("ja"), booth("es", live="es-a", retour=True)]
    assert route("en", "es", pivoted).booth_hears["zh"] == voice("es")
    assert route("en", "es", pivoted, {"zh": "floor"}).booth_hears["zh"] == FLOOR
    assert route("en", "es", pivoted, {"zh": "floor"}).booth_hears["ja"] == voice("es")


def test_a_choice_is_checked() -> None:
    from simultan.core.routing import check_choice

    booths = [booth("zh"), booth("ja")]
    assert check_choice("zh", "ja", booths) == "ja"
    assert check_choice("zh", "floor", booths) == "floor"
    assert check_choice("zh", "auto", booths) == "auto"
    with pytest.raises(ValueError, match="itself"):
        check_choice("zh", "zh", booths)
    with pytest.raises(ValueError, match="no booth 'fr'"):
        check_choice("zh", "fr", booths)
    with pytest.raises(ValueError, match="no booth 'xx'"):
        check_choice("xx", "floor", booths)


@given(
    booths=layouts(),
    floor_language=st.sampled_from(["en", "zh", "ja", "es", "pl"]),
    picks=st.dictionaries(
        st.sampled_from(["zh", "ja", "es", "pl"]),
        st.sampled_from(["auto", "floor", "zh", "ja", "es", "pl"]),
    ),
)
def test_a_chosen_source_is_someone_live_in_another_booth_or_the_floor(
    booths: list[Booth], floor_language: str, picks: dict[str, str]
) -> None:
    routing = route("en", floor_language, booths, picks)
    automatic = route("en", floor_language, booths)
    by_id = {b.id: b for b in booths}
    assert routing.channels == automatic.channels
    for booth_id, heard in routing.booth_hears.items():
        assert heard.booth != booth_id, "a booth hears itself"
        if heard.kind == "interpreter":
            assert heard.booth is not None and heard.person == by_id[heard.booth].live
        pick = picks.get(booth_id, "auto")
        if pick == "auto":
            assert heard == automatic.booth_hears[booth_id]
        elif pick == "floor":
            assert heard == FLOOR
        else:
            other = by_id.get(pick)
            live = other.live if other is not None and pick != booth_id else None
            assert heard == (Source("interpreter", live, pick) if live else FLOOR)
