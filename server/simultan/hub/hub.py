"""The live-state hub: numbered events, fan-out to connection actors, replay on resume.

Events carry a sequence number within an epoch. The hub keeps the newest events in a
bounded replay buffer (persisted by the live session, so a restart keeps it). A client that
resumes from (epoch, seq) receives exactly the events after seq that are addressed to it,
in order; if the buffer no longer reaches back that far, or the epoch is another one, it
gets a fresh snapshot instead. Fan-out never waits: each connection has a bounded queue and
a connection that overflows is resynced (its queue replaced by one fresh snapshot), and
closed if it keeps overflowing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from simultan.hub.audience import EVERYONE, Audience
from simultan.people import Person
from simultan.protocol.close import CloseCode
from simultan.protocol.messages import Event, Resumed, ServerMessage, Welcome, encode

log = logging.getLogger("simultan.hub")


@dataclass(frozen=True)
class HubEvent:
    seq: int
    name: str
    data: dict[str, Any]
    audience: Audience
    wire: bytes  # encoded once (JSON, UTF-8), shared by every connection


def make_event(
    epoch: str, seq: int, name: str, data: dict[str, Any], audience: Audience
) -> HubEvent:
    wire = encode(Event(epoch=epoch, seq=seq, name=name, data=data)).encode()
    return HubEvent(seq=seq, name=name, data=data, audience=audience, wire=wire)


class _Resync:
    """Queue marker: replace what was dropped by a fresh snapshot."""


RESYNC = _Resync()
CLOSE_TOO_SLOW = CloseCode.TOO_SLOW


class Connection:
    """One client's outgoing side: a bounded queue drained by one writer task."""

    def __init__(
        self,
        person: Person,
        *,
        queue_size: int,
        max_resyncs: int = 3,
        resync_window: float = 60.0,
    ) -> None:
        self.person = person
        self.id = uuid.uuid4().hex
        # This tab's media session: its own id, or the one it resumed (media_sessions.py).
        self.media_id = self.id
        self.media_publish: str | None = None
        self.queue: asyncio.Queue[str | bytes | _Resync | None] = asyncio.Queue(maxsize=queue_size)
        self._resyncs: deque[float] = deque()
        self._max_resyncs = max_resyncs
        self._resync_window = resync_window
        self.close_code: int | None = None
        self.log = logging.getLogger(f"simultan.hub.conn.{person.id[:8]}")

    def offer(self, wire: str | bytes | _Resync) -> None:
        """Queue a message without ever waiting; overflow turns into a resync."""
        if self.close_code is not None:
            return
        try:
            self.queue.put_nowait(wire)
        except asyncio.QueueFull:
            self._overflow()

    def _overflow(self) -> None:
        now = time.monotonic()
        while self._resyncs and now - self._resyncs[0] > self._resync_window:
            self._resyncs.popleft()
        self._resyncs.append(now)
        while not self.queue.empty():
            self.queue.get_nowait()
        if len(self._resyncs) > self._max_resyncs:
            self.log.warning("! too slow, closing")
            self.close_code = CLOSE_TOO_SLOW
            self.queue.put_nowait(None)
        else:
            self.log.info("= queue overflow, resync")
            self.queue.put_nowait(RESYNC)

    def stop(self) -> None:
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Hub:
    """Numbering, buffering and fan-out of live-state events."""

    def __init__(
        self,
        *,
        epoch: str,
        seq: int,
        buffer: Iterable[HubEvent] = (),
        buffer_size: int = 2048,
        snapshot: Callable[[Person], dict[str, Any]],
    ) -> None:
        self.epoch = epoch
        self.seq = seq
        self._buffer: deque[HubEvent] = deque(buffer, maxlen=buffer_size)
        self._snapshot = snapshot
        self.connections: set[Connection] = set()
        # Which room a person is in (events for one room); set by the live session.
        self.room_of: Callable[[str], str] | None = None

    # --- producing ---------------------------------------------------------------------------

    def prepare(self, items: Iterable[tuple[str, dict[str, Any], Audience]]) -> list[HubEvent]:
        """Number events without publishing them (the session persists them first)."""
        events = []
        seq = self.seq
        for name, data, audience in items:
            seq += 1
            events.append(make_event(self.epoch, seq, name, data, audience))
        return events

    def commit(self, events: Iterable[HubEvent]) -> None:
        """Publish prepared (and persisted) events to every admitted connection."""
        for event in events:
            if event.seq != self.seq + 1:
                raise RuntimeError(f"hub events out of order: {event.seq} after {self.seq}")
            self.seq = event.seq
            self._buffer.append(event)
            for conn in self.connections:
                if event.audience is EVERYONE or event.audience.admits(conn.person, self.room_of):
                    conn.offer(event.wire)

    def send_to(self, person_id: str, message: ServerMessage) -> None:
        """An unnumbered message for one person's connections (not replayed)."""
        wire = encode(message)
        for conn in self.connections:
            if conn.person.id == person_id:
                conn.offer(wire)

    def send_where(self, message: ServerMessage, audience: Audience) -> None:
        """An unnumbered message for every admitted connection (gauges, not state)."""
        wire = encode(message)
        for conn in self.connections:
            if audience.admits(conn.person, self.room_of):
                conn.offer(wire)

    # --- consuming ---------------------------------------------------------------------------

    def welcome(self, person: Person, *, resync: bool) -> str:
        snap = self._snapshot(person)
        you = {**person.public(), "capabilities": sorted(person.capabilities)}
        you["booth"] = person.booth
        you["language"] = person.language
        you["timezone"] = person.timezone
        return encode(
            Welcome(epoch=self.epoch, seq=self.seq, resync=resync, you=you, snapshot=snap)
        )

    def attach(self, conn: Connection, resume: tuple[str, int] | None) -> None:
        """Register a connection and queue what it must see first: a replay or a snapshot."""
        first = self._catch_up(conn.person, resume)
        for wire in first:
            conn.offer(wire)
        self.connections.add(conn)

    def _catch_up(self, person: Person, resume: tuple[str, int] | None) -> list[str | bytes]:
        if resume is None:
            return [self.welcome(person, resync=False)]
        epoch, seq = resume
        oldest = self._buffer[0].seq if self._buffer else self.seq + 1
        if epoch != self.epoch or seq > self.seq or seq < oldest - 1:
            return [self.welcome(person, resync=True)]
        resumed = encode(Resumed(epoch=self.epoch, from_seq=seq, to_seq=self.seq))
        missed = [
            e.wire for e in self._buffer if e.seq > seq and e.audience.admits(person, self.room_of)
        ]
        return [resumed, *missed]

    def resync(self, conn: Connection) -> str:
        return self.welcome(conn.person, resync=True)

    def detach(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def connections_of(self, person_id: str) -> list[Connection]:
        return [c for c in self.connections if c.person.id == person_id]
