"""The hub's fan-out and replay with in-memory connections (no sockets)."""

from __future__ import annotations

import json

import pytest

from simultan.core.capabilities import Role
from simultan.hub.audience import EVERYONE, Audience
from simultan.hub.hub import CLOSE_TOO_SLOW, RESYNC, Connection, Hub
from simultan.people import Person


def person(pid: str, role: Role = Role.PARTICIPANT, booth: str | None = None) -> Person:
    return Person(pid, pid, "City", role, booth, "en", "UTC")


def make_hub(buffer_size: int = 64) -> Hub:
    return Hub(epoch="e1", seq=0, buffer_size=buffer_size, snapshot=lambda p: {"for": p.id})


def publish(hub: Hub, n: int, audience: Audience = EVERYONE) -> None:
    hub.commit(hub.prepare([("notice", {"i": i}, audience) for i in range(n)]))


def drain(conn: Connection) -> list:
    out = []
    while not conn.queue.empty():
        out.append(conn.queue.get_nowait())
    return out


async def test_slow_connection_is_resynced_then_closed_never_waited_for() -> None:
    hub = make_hub()
    fast = Connection(person("fast"), queue_size=8)
    slow = Connection(person("slow"), queue_size=8, max_resyncs=2)
    hub.attach(fast, None)
    hub.attach(slow, None)
    drain(fast)
    received = []
    for _ in range(48):  # the fast one's writer keeps up; nobody drains the slow one
        publish(hub, 1)
        received += drain(fast)
    assert [json.loads(w)["seq"] for w in received] == list(range(1, 49))
    # the slow one: queue overflowed, resyncs recorded, then closed for being too slow
    assert slow.close_code == CLOSE_TOO_SLOW
    assert len(slow._resyncs) == 3


async def test_overflow_replaces_backlog_by_one_resync() -> None:
    hub = make_hub()
    conn = Connection(person("p"), queue_size=4)
    hub.attach(conn, None)
    drain(conn)
    publish(hub, 5)
    items = drain(conn)
    assert items[0] is RESYNC  # the backlog was dropped for one fresh snapshot
    assert len(items) == 1


async def test_resume_replays_only_what_the_person_may_see() -> None:
    hub = make_hub()
    publish(hub, 2)
    publish(hub, 1, Audience(booth="zh"))
    publish(hub, 1)
    zh = Connection(person("zh1", Role.INTERPRETER, "zh"), queue_size=16)
    ja = Connection(person("ja1", Role.INTERPRETER, "ja"), queue_size=16)
    hub.attach(zh, ("e1", 1))
    hub.attach(ja, ("e1", 1))
    zh_items = [json.loads(w) for w in drain(zh)]
    ja_items = [json.loads(w) for w in drain(ja)]
    assert [m.get("seq") for m in zh_items[1:]] == [2, 3, 4]
    assert [m.get("seq") for m in ja_items[1:]] == [2, 4]
    assert zh_items[0]["type"] == ja_items[0]["type"] == "resumed"


async def test_resume_too_far_behind_gets_resync_snapshot() -> None:
    hub = make_hub(buffer_size=16)
    publish(hub, 40)
    conn = Connection(person("p"), queue_size=16)
    hub.attach(conn, ("e1", 5))
    (first,) = drain(conn)
    msg = json.loads(first)
    assert msg["type"] == "welcome" and msg["resync"] is True and msg["seq"] == 40


async def test_commit_refuses_out_of_order() -> None:
    hub = make_hub()
    events = hub.prepare([("a", {}, EVERYONE)])
    hub.commit(events)
    with pytest.raises(RuntimeError, match="out of order"):
        hub.commit(events)
    assert hub.seq == 1
