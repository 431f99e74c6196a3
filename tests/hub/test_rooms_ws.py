"""Group discussions over /ws: open, notices to a room or all, call back; bad input typed;
assignment by the topic and language chosen at registration; the event file's groups,
facilitators and members resolved to registered people; the rapporteurs queued on the
plenary floor once everyone is back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from simultan.core.capabilities import Role
from simultan.eventdef import parse_event
from simultan.web.session_key import SESSION
from tests.conftest import SEMINAR, Client, FakeClock, LiveServer, start_server

FACILITATORS = ("facilitator.covid@iuc.example", "facilitator.greendeal@iuc.example")


async def _join(server: LiveServer, role: Role, name: str) -> tuple[str, Client]:
    person_id, token = await server.person(role, name)
    client = await server.connect(token)
    welcome = await client.recv()
    assert welcome["type"] == "welcome"
    return person_id, client


async def _rooms_event(client: Client, phase: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next rooms event that changed the phase to ``phase``."""
    names = {"open": "groups_opened", "closing": "call_back", "plenary": "groups_closed"}
    while True:
        msg = await client.recv_type("event", timeout)
        if msg["name"] == "rooms" and msg["data"]["rooms"]["phase"] == phase:
            if any(e["name"] == names[phase] for e in msg["data"]["events"]):
                return msg["data"]


def _room_of(rooms: dict[str, Any], person_id: str) -> str:
    return next(r["id"] for r in rooms["rooms"] if person_id in r["members"])


async def _start(mod: Client, item: str) -> None:
    reply = await mod.request(
        {"type": "timeline", "action": "start", "item_id": item, "base_version": 0}
    )
    assert reply["type"] == "reply", reply


async def test_groups_open_notice_reaches_one_room_or_all_and_call_back(
    server: LiveServer,
) -> None:
    _, mod = await _join(server, Role.MODERATOR, "Mo Derator")
    for email in FACILITATORS:  # the event file's facilitators are registered (not here)
        await server.person(Role.PARTICIPANT, email.split("@")[0], email=email)
    cities = [await _join(server, Role.PARTICIPANT, f"City {i}") for i in range(5)]
    # Not during a discussion item: refused, nothing changed.
    reply = await mod.request({"type": "rooms", "action": "plan", "method": "random", "count": 2})
    assert reply["type"] == "error" and reply["code"] == "invalid_command", reply
    assert "discussion" in reply["message"]
    reply = await mod.request(
        {"type": "timeline", "action": "start", "item_id": "morning-groups", "base_version": 0}
    )
    assert reply["type"] == "reply", reply

    # A participant may not plan groups.
    pid0, city0 = cities[0]
    reply = await city0.request({"type": "rooms", "action": "plan", "count": 2})
    assert reply["type"] == "error" and reply["code"] == "forbidden"

    reply = await mod.request({"type": "rooms", "action": "plan", "method": "random", "count": 2})
    assert reply["type"] == "reply", reply
    preview = reply["data"]["rooms"]
    assert preview["phase"] == "preview"
    # The event file's groups: the first two of the morning item.
    assert [r["id"] for r in preview["rooms"]] == ["plenary", "covid-recovery", "green-deal"]
    version = preview["version"]

    # Bad input: a room that does not exist, a person who is not there; nothing changed.
    reply = await mod.request(
        {"type": "rooms", "action": "move", "person_id": pid0, "room": "no-such-room"}
    )
    assert reply["type"] == "error" and reply["code"] == "not_found", reply
    reply = await mod.request(
        {"type": "rooms", "action": "move", "person_id": "nobody", "room": "green-deal"}
    )
    assert reply["type"] == "error" and reply["code"] == "not_found", reply
    reply = await mod.request({"type": "rooms", "action": "move", "room": "Bad Room!"})
    assert reply["type"] == "error" and reply["code"] == "bad_message", reply
    assert server.app[SESSION].rooms.state.version == version

    # Move a city of the group of three into the group of two by hand, then open.
    big, small = sorted(preview["rooms"][1:], key=lambda r: -len(r["members"]))
    pid0 = big["members"][0]
    city0 = next(c for p, c in cities if p == pid0)
    reply = await mod.request(
        {"type": "rooms", "action": "move", "person_id": pid0, "room": small["id"]}
    )
    assert reply["type"] == "reply", reply
    reply = await mod.request({"type": "rooms", "action": "open"})
    assert reply["type"] == "reply", reply
    opened = await _rooms_event(city0, "open")
    assert _room_of(opened["rooms"], pid0) == small["id"]
    assert sorted(len(r["members"]) for r in opened["rooms"]["rooms"][1:]) == [2, 3]
    # The countdown runs to the item's end: 75 minutes after it started (now).
    ends_at = datetime.fromisoformat(opened["rooms"]["ends_at"])
    assert ends_at == server.clock() + timedelta(minutes=75)

    # A participant cannot enter another group.
    reply = await city0.request({"type": "rooms", "action": "enter", "room": big["id"]})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply

    # A notice into one room reaches its members only; into all rooms, everyone.
    reply = await mod.request({"type": "room_notice", "room": small["id"], "text": "5 minutes"})
    assert reply["type"] == "reply", reply
    reply = await mod.request({"type": "room_notice", "text": "Welcome to the groups"})
    assert reply["type"] == "reply", reply
    reply = await mod.request({"type": "room_notice", "room": "nowhere", "text": "x"})
    assert reply["type"] == "error" and reply["code"] == "not_found", reply
    rooms = server.app[SESSION].rooms.state
    for pid, city in cities:
        notices = []
        while len(notices) < 2:
            msg = await city.recv_type("event")
            if msg["name"] == "notice":
                notices.append(msg["data"]["text"])
            if msg["data"].get("text") == "Welcome to the groups":
                break
        in_small = rooms.room_of(pid) == small["id"]
        assert notices == (["5 minutes"] if in_small else []) + ["Welcome to the groups"], pid

    # Call everyone back: a 60 s countdown, then everyone is in the plenary.
    reply = await mod.request({"type": "rooms", "action": "call_back"})
    assert reply["type"] == "reply", reply
    closing = await _rooms_event(city0, "closing")
    assert closing["rooms"]["closes_at"] is not None
    server.clock.advance(seconds=61)
    closed = await _rooms_event(city0, "plenary", timeout=10)
    assert closed["events"][0]["name"] == "groups_closed"
    assert sorted(closed["rooms"]["rooms"][0]["members"]) == sorted(p for p, _ in cities)


async def test_a_city_reconnecting_keeps_its_group_and_comes_back_after_closing(
    server: LiveServer,
) -> None:
    _, mod = await _join(server, Role.MODERATOR, "Mo Derator")
    cities = [await _join(server, Role.PARTICIPANT, f"City {i}") for i in range(4)]
    await mod.request(
        {"type": "timeline", "action": "start", "item_id": "afternoon-groups", "base_version": 0}
    )
    await mod.request({"type": "rooms", "action": "plan", "method": "random", "count": 2})
    await mod.request({"type": "rooms", "action": "open"})
    pid0, city0 = cities[0]
    group = server.app[SESSION].rooms.state.room_of(pid0)
    assert group != "plenary"
    await city0.close()
    await asyncio.sleep(0.2)
    _, token = await server.person(Role.PARTICIPANT, "City 0")
    again = await server.connect(token)
    welcome = await again.recv()
    assert _room_of(welcome["snapshot"]["rooms"], pid0) == group  # back in its group
    await again.close()
    await mod.request({"type": "rooms", "action": "call_back"})
    server.clock.advance(seconds=61)
    await _rooms_event(mod, "plenary", timeout=10)
    # The tab reopens after the groups closed: it is in the plenary.
    third = await server.connect(token)
    welcome = await third.recv()
    assert _room_of(welcome["snapshot"]["rooms"], pid0) == "plenary"


async def test_assignment_by_the_topic_and_the_language_chosen_at_registration(
    server: LiveServer,
) -> None:
    _, mod = await _join(server, Role.MODERATOR, "Mo Derator")
    chosen = {
        "Ana": ("climate-neutrality", "es"),
        "Bo": ("governance", "zh"),
        "Cy": ("climate-neutrality", "zh"),
        "Di": ("governance", "es"),
        "Ed": ("climate-neutrality", "es"),
        "Fa": ("governance", "zh"),
    }
    ids = {}
    for name, (topic, language) in chosen.items():
        pid, token = await server.person(Role.PARTICIPANT, name, topic=topic, language=language)
        ids[pid] = name
        client = await server.connect(token)
        await client.recv_type("welcome")
    await _start(mod, "afternoon-groups")
    reply = await mod.request({"type": "rooms", "action": "plan", "method": "topic", "count": 2})
    assert reply["type"] == "reply", reply
    rooms = {r["id"]: r for r in reply["data"]["rooms"]["rooms"]}
    # The event file's groups have topics: each gets the cities that chose its topic.
    for group, topic in (("neutrality", "climate-neutrality"), ("governance", "governance")):
        members = {ids[p] for p in rooms[group]["members"]}
        assert members == {n for n, (t, _) in chosen.items() if t == topic}, (group, members)
    reply = await mod.request({"type": "rooms", "action": "cancel"})
    assert reply["type"] == "reply", reply
    reply = await mod.request({"type": "rooms", "action": "plan", "method": "language", "count": 2})
    assert reply["type"] == "reply", reply
    by_language = [
        {chosen[ids[p]][1] for p in r["members"]} for r in reply["data"]["rooms"]["rooms"][1:]
    ]
    assert sorted(map(sorted, by_language)) == [["es"], ["zh"]]


def _with_members(text: str) -> str:
    """The seminar with a member named in the green-deal group (by name) and one in
    covid-recovery (by email)."""
    return text.replace(
        "facilitator: facilitator.greendeal@iuc.example}",
        'facilitator: facilitator.greendeal@iuc.example, members: ["Gil Member"]}',
    ).replace(
        "facilitator: facilitator.covid@iuc.example}",
        "facilitator: facilitator.covid@iuc.example, members: [hal.member@test.example]}",
    )


async def test_event_file_groups_resolve_to_registered_people(
    tmp_path: Any, clock: FakeClock
) -> None:
    text = _with_members(SEMINAR.read_text())
    defn = parse_event(text, "config/seminar.yaml")
    runner, server = await start_server(tmp_path, clock, defn)
    try:
        _, mod = await _join(server, Role.MODERATOR, "Mo Derator")
        cities = [await _join(server, Role.PARTICIPANT, f"City {i}") for i in range(4)]
        gil, _ = await _join(server, Role.PARTICIPANT, "Gil Member")
        hal, _ = await _join(server, Role.PARTICIPANT, "Hal Member")
        await _start(mod, "morning-groups")
        # A facilitator nobody registered: a config error naming the file, line and field.
        reply = await mod.request({"type": "rooms", "action": "plan", "count": 2})
        assert reply["type"] == "error" and reply["code"] == "config", reply
        line = text.splitlines().index(
            next(x for x in text.splitlines() if "facilitator.covid@" in x)
        )
        assert reply["message"].startswith(f"config/seminar.yaml:line {line + 1}: "), reply
        assert "agenda.3.groups.0.facilitator" in reply["message"], reply
        assert "facilitator.covid@iuc.example" in reply["message"], reply
        assert server.app[SESSION].rooms.state.phase == "plenary"
        # Registered (and here): the facilitator leads its group; the members are in theirs.
        covid_id, covid_token = await server.person(
            Role.PARTICIPANT, "Fay Covid", email=FACILITATORS[0]
        )
        covid = await server.connect(covid_token)
        await covid.recv_type("welcome")
        await server.person(Role.PARTICIPANT, "Gus Green", email=FACILITATORS[1])  # not here
        for seed in range(3):
            reply = await mod.request(
                {"type": "rooms", "action": "plan", "method": "random", "count": 2, "seed": seed}
            )
            assert reply["type"] == "reply", reply
            rooms = {r["id"]: r for r in reply["data"]["rooms"]["rooms"]}
            assert rooms["covid-recovery"]["facilitator"] == covid_id
            assert covid_id in rooms["covid-recovery"]["members"]
            assert hal in rooms["covid-recovery"]["members"], seed
            assert gil in rooms["green-deal"]["members"], seed
            assert rooms["green-deal"]["facilitator"] is None  # registered but not connected
        assert sum(len(r["members"]) for r in rooms.values()) == len(cities) + 3
        # A name two registrants share cannot say who is meant.
        await server.person(Role.PARTICIPANT, "Gil Member", email="other.gil@test.example")
        reply = await mod.request({"type": "rooms", "action": "plan", "count": 2})
        assert reply["type"] == "error" and reply["code"] == "config", reply
        assert "agenda.3.groups.1.members.0" in reply["message"], reply
        assert "2 registrants" in reply["message"], reply
    finally:
        await runner.cleanup()


async def test_rapporteurs_wait_on_the_plenary_floor_in_group_order(server: LiveServer) -> None:
    _, mod = await _join(server, Role.MODERATOR, "Mo Derator")
    cities = [await _join(server, Role.PARTICIPANT, f"City {i}") for i in range(6)]
    early, early_client = cities[5]
    await _start(mod, "afternoon-groups")
    reply = await mod.request({"type": "rooms", "action": "plan", "method": "random", "count": 2})
    assert reply["type"] == "reply", reply
    reply = await mod.request({"type": "rooms", "action": "open"})
    assert reply["type"] == "reply", reply
    groups = server.app[SESSION].rooms.state.groups
    rapporteurs = []
    for group in reversed(groups):  # named in reverse: the queue follows group order
        members = server.app[SESSION].rooms.state.members(group.id)
        pick = next(p for p in members if p != early)
        reply = await mod.request(
            {"type": "rooms", "action": "roles", "room": group.id, "rapporteur": pick}
        )
        assert reply["type"] == "reply", reply
        rapporteurs.insert(0, pick)
    # Someone's hand was up before: it stays first.
    reply = await early_client.request({"type": "raise_hand", "raised": True})
    assert reply["type"] == "reply", reply
    assert [h.person_id for h in server.app[SESSION].floor.hands] == [early]
    reply = await mod.request({"type": "rooms", "action": "call_back"})
    assert reply["type"] == "reply", reply
    server.clock.advance(seconds=61)
    await _rooms_event(mod, "plenary", timeout=10)
    while True:
        msg = await mod.recv_type("event")
        if msg["name"] == "floor" and len(msg["data"]["floor"]["hands"]) == 3:
            break
    hands = [h["person_id"] for h in msg["data"]["floor"]["hands"]]
    assert hands == [early, *rapporteurs], (hands, rapporteurs)
    assert set(msg["data"]["floor"]["people"]) >= set(rapporteurs)


async def test_bad_input_is_typed_and_changes_nothing(server: LiveServer) -> None:
    """Planning or opening outside a discussion item, and a participant entering another
    group: each a typed error, the rooms state (its snapshot and version) as it was."""
    _, mod = await _join(server, Role.MODERATOR, "Mo Derator")
    cities = [await _join(server, Role.PARTICIPANT, f"City {i}") for i in range(4)]
    rooms = server.app[SESSION].rooms

    def unchanged(before: dict[str, Any]) -> None:
        assert rooms.snapshot() == before
        assert rooms.state.version == before["version"]

    # Planning during a keynote (not a discussion): refused, nothing planned.
    await _start(mod, "opening")
    before = rooms.snapshot()
    reply = await mod.request({"type": "rooms", "action": "plan", "method": "random", "size": 2})
    assert reply["type"] == "error" and reply["code"] == "invalid_command", reply
    assert "discussion" in reply["message"], reply
    unchanged(before)
    assert before["phase"] == "plenary"
    # Opening during the keynote: refused as well (nothing planned, nothing opened).
    reply = await mod.request({"type": "rooms", "action": "open"})
    assert reply["type"] == "error" and reply["code"] == "invalid_command", reply
    unchanged(before)

    # A preview planned during the discussion item; the agenda moves on to the break
    # before the groups open: opening now is refused, the preview kept as it was.
    reply = await mod.request(
        {"type": "timeline", "action": "jump", "item_id": "afternoon-groups", "base_version": 1}
    )
    assert reply["type"] == "reply", reply
    reply = await mod.request({"type": "rooms", "action": "plan", "method": "random", "size": 2})
    assert reply["type"] == "reply", reply
    assert [len(r["members"]) for r in reply["data"]["rooms"]["rooms"]] == [0, 2, 2]
    version = server.app[SESSION].timeline.version
    reply = await mod.request({"type": "timeline", "action": "next", "base_version": version})
    assert reply["type"] == "reply", reply
    before = rooms.snapshot()
    assert before["phase"] == "preview"
    reply = await mod.request({"type": "rooms", "action": "open"})
    assert reply["type"] == "error" and reply["code"] == "invalid_command", reply
    assert "discussion" in reply["message"], reply
    unchanged(before)

    # In the morning's discussion, the groups open; a participant may not enter another group.
    for email in FACILITATORS:  # the morning's groups name their facilitators
        await server.person(Role.PARTICIPANT, email.split("@")[0], email=email)
    version = server.app[SESSION].timeline.version
    reply = await mod.request(
        {"type": "timeline", "action": "jump", "item_id": "morning-groups", "base_version": version}
    )
    assert reply["type"] == "reply", reply
    for msg in ({"action": "cancel"}, {"action": "plan", "size": 2}, {"action": "open"}):
        reply = await mod.request({"type": "rooms", **msg})
        assert reply["type"] == "reply", reply
    assert reply["type"] == "reply", reply
    pid0, city0 = cities[0]
    mine = rooms.state.room_of(pid0)
    other = next(r.id for r in rooms.state.groups if r.id != mine)
    before = rooms.snapshot()
    reply = await city0.request({"type": "rooms", "action": "enter", "room": other})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    unchanged(before)
    assert rooms.state.room_of(pid0) == mine
    # ... nor visit one (staff visit; cities do not).
    reply = await city0.request({"type": "rooms", "action": "visit", "room": other})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    unchanged(before)
