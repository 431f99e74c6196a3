"""The run-of-show over /ws with an explicit clock: the countdown's warning and danger, the
next-up cue, an overrun that moves every later item and "running late by N min", all with
no moderator command; the item's registered panelists invited when it comes up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition, load_event
from simultan.web.session_key import SESSION
from tests.conftest import SEMINAR, Client, LiveServer
from tests.hub.test_floor_ws import ready


@pytest.fixture
def seminar() -> EventDefinition:
    """The seeded seminar, its opening warning 10 min ahead (the event file's own threshold;
    danger is the default)."""
    defn = load_event(SEMINAR)
    agenda = tuple(
        a.model_copy(update={"warning_minutes": 10}) if a.id == "opening" else a
        for a in defn.agenda
    )
    return defn.model_copy(update={"agenda": agenda})


async def event(
    client: Client, name: str, check: Callable[[dict[str, Any]], bool] = lambda d: True
) -> dict[str, Any]:
    while True:
        msg = await client.recv_type("event", timeout=5.0)
        if msg["name"] == name and check(msg["data"]):
            return dict(msg["data"])


def item(timeline: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(i for i in timeline["items"] if i["id"] == item_id)


async def test_the_run_of_show_runs_by_itself(server: LiveServer) -> None:
    clock = server.clock
    session = server.app[SESSION]
    ros = session.run_of_show
    _, mod = await ready(server, Role.MODERATOR, "Mo Derator")
    # Guadalajara's panelist (the showcase names a speaker of that city) and a participant
    # who merely comes from the same city
    panelist_id, panelist = await ready(
        server, Role.PANELIST, "Ana Ruiz", city="Guadalajara", language="es"
    )
    local_id, _ = await ready(server, Role.PARTICIPANT, "Luis Local", city="Guadalajara")
    _, city = await ready(server, Role.PARTICIPANT, "Aiko Osaka", city="Osaka")
    snap = session.snapshot(next(iter(session.hub.connections)).person)["run_of_show"]
    assert snap["current"] is None and snap["next"]["id"] == "opening"
    assert snap["next"]["cue"] is False and snap["late_minutes"] == 0
    assert not await ros.tick()  # the clock did not move: nothing to say

    # 08:55: the opening's cue is due (5 min ahead, settings), with no command
    clock.advance(minutes=5)
    assert await ros.tick()
    cue = await event(city, "run_of_show")
    assert cue["run_of_show"]["next"] == {
        **snap["next"],
        "cue": True,
    }
    # 09:00: the moderator starts it; the timeline event carries the countdown, once
    clock.advance(minutes=5)
    reply = await mod.request(
        {"type": "timeline", "action": "start", "item_id": "opening", "base_version": 0}
    )
    assert reply["type"] == "reply", reply
    started = await event(city, "timeline")
    show = started["run_of_show"]
    assert show["current"] == "opening" and show["phase"] == "normal"
    assert show["ends_at"].startswith("2026-12-03T08:30")  # 09:30 in Brussels
    # the event file's threshold for this item: warning 10 min before its end
    assert show["warning_at"].startswith("2026-12-03T08:20")
    assert show["danger_at"].startswith("2026-12-03T08:29")
    assert not await ros.tick()

    # 09:20: warning; 09:25: the showcase's cue, and its panelist is invited
    clock.advance(minutes=20)
    assert await ros.tick()
    assert (await event(city, "run_of_show"))["run_of_show"]["phase"] == "warning"
    clock.advance(minutes=5)
    assert await ros.tick()
    data = await event(city, "run_of_show")
    assert data["run_of_show"]["next"]["id"] == "pairs-showcase"
    assert data["run_of_show"]["next"]["cue"] is True
    floor = await event(panelist, "floor", lambda d: bool(d["floor"]["invited"]))
    assert floor["floor"]["invited"] == [panelist_id]  # not the participant from that city
    assert local_id not in floor["floor"]["invited"]
    assert floor["floor"]["people"][panelist_id]["city"] == "Guadalajara"

    # 09:29:30 danger, then the opening runs over: at 09:37 the day is 7 min late and every
    # later item has moved, though nobody pressed anything
    clock.advance(minutes=4, seconds=30)
    assert await ros.tick()
    assert (await event(city, "run_of_show"))["run_of_show"]["phase"] == "danger"
    clock.advance(minutes=7, seconds=30)
    assert await ros.tick()
    late = await event(city, "run_of_show")
    assert late["run_of_show"]["phase"] == "overrun"
    assert late["run_of_show"]["late_minutes"] == 7
    assert late["timeline"]["drift_seconds"] == 7 * 60
    assert item(late["timeline"], "pairs-showcase")["expected_start"] == "2026-12-03T08:37:00Z"
    assert item(late["timeline"], "morning-break")["expected_start"] == "2026-12-03T09:37:00Z"

    # a minute later the server's own clock task says so (no tick() from the test)
    clock.advance(minutes=1)
    later = await event(city, "run_of_show", lambda d: d["run_of_show"]["late_minutes"] == 8)
    assert item(later["timeline"], "pairs-showcase")["expected_start"] == "2026-12-03T08:38:00Z"
    # the moderator's next move is still theirs: the agenda never advances by itself
    assert session.timeline.current == "opening"
