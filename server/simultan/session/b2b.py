"""The B2B schedule's driver: one lock, the pure ``core.b2b.apply``, the event log, then notices.

Every accepted command is appended to the event log (stream ``b2b``) before the new state is
kept, so a restart replays to the same schedule. After the lock is released each event's
people are told (``on_change`` hooks: the mail notice with an updated calendar, live pages).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from simultan.core import b2b
from simultan.core.b2b import B2BEvent, B2BState, Grid, Rules
from simultan.eventdef import EventDefinition, ItemKind, item_duration
from simultan.store.b2b import B2BStore

log = logging.getLogger("simultan.b2b")

ChangeHook = Callable[[B2BState, B2BEvent], Awaitable[None]]


def grid_of(defn: EventDefinition) -> Grid | None:
    """The event's B2B grid: slots laid inside its agenda items of kind ``b2b``."""
    if defn.b2b is None:
        return None
    windows = tuple(
        (defn.planned_start(item), defn.planned_start(item) + item_duration(item))
        for item in defn.agenda
        if item.kind is ItemKind.B2B
    )
    return Grid(windows, defn.b2b.meeting_minutes, defn.b2b.break_minutes, defn.b2b.tables)


class B2BSchedule:
    def __init__(
        self,
        grid: Grid,
        rules: Rules,
        store: B2BStore,
        *,
        clock: Callable[[], datetime],
        grace: timedelta,
    ) -> None:
        self.state = B2BState(grid=grid, rules=rules)
        self.store = store
        self.clock = clock
        self.grace = grace
        self.on_change: list[ChangeHook] = []
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        records = await self.store.commands()
        self.state = b2b.replay(self.state, records)
        log.info(
            "= b2b schedule replayed: %d commands, version %d", len(records), self.state.version
        )

    async def sweep(self) -> tuple[B2BEvent, ...]:
        """Expire every request whose time is up now, and tell its people (the clock calls
        this every second: an expiry notice goes out when the request expires, not at the
        next command)."""
        if not b2b.due_to_expire(self.state, self.clock()):
            return ()
        return await self.run(b2b.Expire(), "clock")

    async def run(self, command: b2b.Command, actor: str) -> tuple[B2BEvent, ...]:
        """Apply ``command`` now, persist it, keep the new state; then run the change hooks."""
        async with self._lock:
            now = self.clock()
            state, events = b2b.apply(self.state, command, now)
            await self.store.append_command(b2b.command_to_dict(command), now, actor)
            self.state = state
        log.info("= b2b %s by %s: %s", command.name, actor, [e.change.value for e in events])
        for event in events:
            for hook in self.on_change:
                try:
                    await hook(state, event)
                except Exception:
                    # A failing notice must not undo or hide the accepted change.
                    log.exception("! b2b change hook failed for %s", event)
        return events
