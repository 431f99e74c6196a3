"""The run-of-show driver: the agenda's clock, applied to the live session once a second.

The pure :mod:`simultan.core.runofshow` says, from the timeline and ``now``, when the current
item ends (warning, danger), how late the day runs and which item is next with its cue. This
driver ticks with the session's clock (explicit in tests, like the rooms' clock) and, when
the clock alone changes any of that, publishes a ``run_of_show`` event with the timeline as
it stands, so every page's countdown, "running late by N min" and local-time agenda move
with no moderator action. When an item comes up (it starts, or its cue is due) its named
speakers who are registered are invited to the floor ("you are on next", a camera and mic
check on their pages; the moderator is offered them first). It never starts an item: the
moderator does (docs/architecture.md, "Run-of-show").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simultan.core import runofshow as ros
from simultan.core import timeline as tl
from simultan.core.capabilities import Role
from simultan.hub.audience import EVERYONE
from simultan.session.ticker import every

if TYPE_CHECKING:
    from simultan.session.live import LiveSession

log = logging.getLogger("simultan.runofshow")


class RunOfShowDriver:
    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.defaults = ros.Thresholds()
        self.cue = timedelta(minutes=5)
        self._shown: tuple[Any, ...] | None = None  # what the pages were last told
        self._invited_for: tuple[str | None, str | None] | None = None

    def configure(self, *, warning_minutes: int, danger_minutes: int, cue_minutes: int) -> None:
        self.defaults = ros.thresholds(ros.Thresholds(), warning_minutes, danger_minutes)
        self.cue = timedelta(minutes=cue_minutes)

    # --- views -----------------------------------------------------------------------------

    def per_item(self) -> dict[str, ros.Thresholds]:
        return {
            a.id: ros.thresholds(self.defaults, a.warning_minutes, a.danger_minutes)
            for a in self.session.defn.agenda
        }

    def view(self, now: datetime, timeline: tl.Timeline | None = None) -> ros.RunOfShow:
        return ros.run_of_show(
            timeline or self.session.timeline,
            now,
            defaults=self.defaults,
            per_item=self.per_item(),
            cue=self.cue,
        )

    def to_dict(self, now: datetime, timeline: tl.Timeline | None = None) -> dict[str, Any]:
        return ros.to_dict(self.view(now, timeline), now)

    def shown(self, view: ros.RunOfShow, now: datetime) -> None:
        """The pages have just been told ``view`` (a timeline event carries it). Lock held."""
        self._shown = ros.signature(view, now)

    # --- the clock -------------------------------------------------------------------------

    async def tick(self) -> bool:
        """Publish what the clock changed (if anything), then invite the panelists of the
        item that came up. True when an event went out."""
        session = self.session
        async with session.lock:
            now = session.now()
            view = self.view(now)
            sig = ros.signature(view, now)
            published = self._shown is not None and sig != self._shown
            if published:
                data = {
                    "run_of_show": ros.to_dict(view, now),
                    "timeline": tl.to_dict(session.timeline, now),
                }
                await session.commit([], [("run_of_show", data, EVERYONE)])
            self._shown = sig
        await self._invite(view, now)
        return published

    async def run(self, interval: float = 1.0) -> None:
        await every(interval, self.tick, log)

    # --- panelists -------------------------------------------------------------------------

    async def _invite(self, view: ros.RunOfShow, now: datetime) -> None:
        """The current item's speakers, and the next item's once its cue is due."""
        key = (view.current, view.next.item_id if view.next and view.cue_due(now) else None)
        if key == self._invited_for:
            return
        first = self._invited_for is None
        self._invited_for = key
        if first and key == (None, None):
            return  # nothing is up: leave the moderator's invitations alone
        items = [i for i in key if i is not None]
        ids = await self.panelists(items)
        driver = self.session.floor_driver
        if ids or driver.floor.invited:
            await driver.invite(ids)

    async def panelists(self, item_ids: list[str]) -> tuple[str, ...]:
        from simultan.store.registrations import Status

        wanted = set(item_ids)
        speakers = [
            ros.PanelistRef(s.name, s.city, s.email)
            for item_id in item_ids
            for a in self.session.defn.agenda
            if a.id == item_id and a.id in wanted
            for s in a.speakers
        ]
        if not speakers:
            return ()
        people = [
            ros.Registrant(r.id, r.name, r.city, r.email, r.role is Role.PANELIST)
            for r in await self.session.registrations().list()
            if r.status is Status.APPROVED
        ]
        return ros.panelists(speakers, people)
