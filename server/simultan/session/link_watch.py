"""The driver around :mod:`simultan.core.link_quality`: once a second, every tab's receiver
reports; a tab whose link is in trouble stops getting floor video (its sound is kept), and
is told so with a ``media`` message; video comes back when its link recovers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from simultan.core import link_quality as lq
from simultan.protocol import messages as m
from simultan.session.live import LiveSession

log = logging.getLogger("simultan.link")

PAUSED = "Video paused to keep the sound: your connection is weak right now."
RESUMED = "Video is back: your connection recovered."


class LinkWatch:
    def __init__(
        self,
        session: LiveSession,
        *,
        resume_after: float = lq.RESUME_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.resume_after = resume_after
        self.clock = clock
        self.links: dict[str, lq.Link] = {}

    async def sample(self) -> None:
        media = self.session.stage.media
        if media is None:
            return
        reports = await media.link_reports()
        now = self.clock()
        for sid in [s for s in self.links if s not in reports]:
            del self.links[sid]
        for sid, report in reports.items():
            link, change = lq.observe(
                self.links.get(sid, lq.Link()),
                lq.Sample(report.audio_loss, report.video_loss),
                now,
                resume_after=self.resume_after,
            )
            self.links[sid] = link
            if change is None:
                continue
            paused = change == "pause"
            log.info("= media session %s: video %s", sid[:8], "paused" if paused else "back")
            media.set_video_paused(sid, paused)
            self._tell(sid, paused)

    def _tell(self, media_id: str, paused: bool) -> None:
        message = m.encode(
            m.MediaStatus(
                session=media_id, video_paused=paused, message=PAUSED if paused else RESUMED
            )
        )
        for conn in self.session.hub.connections:
            if getattr(conn, "media_id", None) == media_id:
                conn.offer(message)

    async def run(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sample()
            except Exception:
                log.exception("! link watch failed")
