"""The event log: every accepted live-state command, and the hub's numbered events.

Both are written in one transaction per command, so after a crash (even SIGKILL) the
session replays to exactly the state clients last saw, and clients resume their sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from simultan.store.schema import event_log, hub_events, hub_state


@dataclass(frozen=True)
class LoggedCommand:
    stream: str
    command: dict[str, Any]
    at: datetime
    actor: str | None


@dataclass(frozen=True)
class StoredHubEvent:
    seq: int
    payload: dict[str, Any]  # {"name", "data", "audience"}


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def load_commands(engine: AsyncEngine, event_id: str) -> list[LoggedCommand]:
    query = (
        sa.select(event_log.c.stream, event_log.c.command, event_log.c.at, event_log.c.actor)
        .where(event_log.c.event_id == event_id)
        .order_by(event_log.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [LoggedCommand(r.stream, r.command, _aware(r.at), r.actor) for r in rows]


async def load_hub(
    engine: AsyncEngine, event_id: str, keep: int
) -> tuple[str | None, int, list[StoredHubEvent]]:
    """The stored epoch and sequence, and the newest ``keep`` events in order."""
    async with engine.connect() as conn:
        state = (
            await conn.execute(sa.select(hub_state).where(hub_state.c.event_id == event_id))
        ).first()
        if state is None:
            return None, 0, []
        rows = (
            await conn.execute(
                sa.select(hub_events.c.seq, hub_events.c.payload)
                .where(hub_events.c.event_id == event_id, hub_events.c.epoch == state.epoch)
                .order_by(hub_events.c.seq.desc())
                .limit(keep)
            )
        ).all()
    events = [StoredHubEvent(r.seq, r.payload) for r in reversed(rows)]
    return state.epoch, state.seq, events


async def start_epoch(engine: AsyncEngine, event_id: str, epoch: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.delete(hub_events).where(hub_events.c.event_id == event_id))
        await conn.execute(sa.delete(hub_state).where(hub_state.c.event_id == event_id))
        await conn.execute(sa.insert(hub_state).values(event_id=event_id, epoch=epoch, seq=0))


async def append(
    engine: AsyncEngine,
    event_id: str,
    epoch: str,
    commands: Sequence[LoggedCommand],
    events: Sequence[StoredHubEvent],
    keep: int,
) -> None:
    """Persist one accepted command (or none) with the hub events it produced, atomically."""
    async with engine.begin() as conn:
        if commands:
            await conn.execute(
                sa.insert(event_log),
                [
                    {
                        "event_id": event_id,
                        "stream": c.stream,
                        "command": c.command,
                        "at": c.at,
                        "actor": c.actor,
                    }
                    for c in commands
                ],
            )
        if events:
            await conn.execute(
                sa.insert(hub_events),
                [
                    {"event_id": event_id, "seq": e.seq, "epoch": epoch, "payload": e.payload}
                    for e in events
                ],
            )
            last = events[-1].seq
            await conn.execute(
                sa.update(hub_state).where(hub_state.c.event_id == event_id).values(seq=last)
            )
            if last % 256 == 0:
                await conn.execute(
                    sa.delete(hub_events).where(
                        hub_events.c.event_id == event_id, hub_events.c.seq <= last - keep
                    )
                )
