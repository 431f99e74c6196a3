"""A tab's media session outlives its websocket: ownership, resume and the grace period.

A peer connection is keyed by a *media session id* (the id of the connection that first
offered). When that tab's websocket closes, the media keeps flowing for
``settings.media_grace_seconds``; the tab's next socket names the id in ``hello`` and takes
the session over (only the same person can). A socket that the server still believes open
(a half-open TCP connection after a network loss) loses the session to the new socket, and
its own close later changes nothing. When the grace runs out with no socket, the peer
connection is closed (its published sources go, with the usual fallback) and ``on_expired``
tells the control plane the person may have left. A session the server ends itself (access
revoked: :meth:`MediaSessions.close_person`) is closed at once, without a grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simultan.media.plane import MediaPlane

log = logging.getLogger("simultan.media.sessions")

Expired = Callable[[Any], Awaitable[None]]  # the person whose media session was closed


@dataclass
class _Entry:
    owner: Any  # the Person
    attached: str | None  # connection id holding it now (None: in grace)
    timer: asyncio.TimerHandle | None = None


class MediaSessions:
    def __init__(
        self,
        media: MediaPlane,
        *,
        grace: float,
        on_expired: Expired | None = None,
    ) -> None:
        self.media = media
        self.grace = grace
        self.on_expired = on_expired
        self._entries: dict[str, _Entry] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, conn: Any) -> str:
        """The connection offers media: its session (created on first use) is its own."""
        entry = self._entries.get(conn.media_id)
        if entry is None:
            self._entries[conn.media_id] = _Entry(owner=conn.person, attached=conn.id)
        return str(conn.media_id)

    def resume(self, conn: Any, media_id: str) -> bool:
        """A reconnecting tab names its media session: take it over if it is this person's."""
        entry = self._entries.get(media_id)
        if entry is None or entry.owner.id != conn.person.id:
            return False
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        entry.attached = conn.id
        conn.media_id = media_id
        log.info("= media session %s resumed by connection %s", media_id[:8], conn.id[:8])
        return True

    def detach(self, conn: Any) -> None:
        """The connection's socket closed: keep its media session for the grace period."""
        entry = self._entries.get(conn.media_id)
        if entry is None or entry.attached != conn.id:
            return  # no media, or another socket took the session over
        if conn.media_id not in self.media.session_ids():
            del self._entries[conn.media_id]  # its peer connection is already gone
            return
        entry.attached = None
        loop = asyncio.get_running_loop()
        entry.timer = loop.call_later(self.grace, self._expire, conn.media_id)

    def held_by(self, person_id: str) -> bool:
        """The person still has a live media session (attached, or in grace)."""
        open_now = set(self.media.session_ids())
        return any(
            e.owner.id == person_id and media_id in open_now
            for media_id, e in self._entries.items()
        )

    def owner_of(self, media_id: str) -> str | None:
        entry = self._entries.get(media_id)
        return str(entry.owner.id) if entry else None

    async def close_person(self, person_id: str) -> int:
        """The server ended the person's access (revocation): close every media session of
        theirs now, attached or in grace, with no grace (nothing may linger). Returns how
        many were closed."""
        mine = [k for k, e in self._entries.items() if e.owner.id == person_id]
        for media_id in mine:
            log.info("= media session %s closed: the server ended its access", media_id[:8])
            await self.close(media_id)
        return len(mine)

    def _expire(self, media_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self.close(media_id, expired=True))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, media_id: str, *, expired: bool = False) -> None:
        entry = self._entries.pop(media_id, None)
        if entry is None:
            return
        if entry.timer is not None:
            entry.timer.cancel()
        if expired:
            log.info("= media session %s: grace over, closing", media_id[:8])
        with contextlib.suppress(Exception):
            await self.media.close_session(media_id)
        if self.on_expired is not None:
            try:
                await self.on_expired(entry.owner)
            except Exception:
                log.exception("! on_expired(%s) failed", entry.owner.id[:8])

    async def aclose(self) -> None:
        for entry in self._entries.values():
            if entry.timer is not None:
                entry.timer.cancel()
        self._entries.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)
