"""One decision, one transaction: an item's start and the floor language that follows it are
stored together, so a crash between them cannot leave the item started and the floor
language unswitched (real SQLite; the "crash" is a failing second write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition
from simultan.people import Person
from simultan.session.live import LiveSession
from simultan.store import event_log
from simultan.store.database import open_database
from tests.conftest import FakeClock

MODERATOR = Person("mod-1", "Mo Derator", "Brussels", Role.MODERATOR, None, "en", "Europe/Brussels")


async def test_item_start_and_floor_language_commit_together(
    tmp_path: Path, seminar: EventDefinition, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        session = LiveSession(seminar, engine, clock=clock)
        await session.open()
        writes: list[list[str]] = []
        real_append = event_log.append

        async def append_then_crash(*args: Any, **kwargs: Any) -> None:
            writes.append([c.stream for c in args[3]])
            if len(writes) > 1:
                raise RuntimeError("the process died here")
            await real_append(*args, **kwargs)

        monkeypatch.setattr(event_log, "append", append_then_crash)
        version = session.timeline.version
        await session.timeline_command(
            MODERATOR, {"command": "start", "base_version": version, "item_id": "asia-keynote"}
        )
        assert writes == [["timeline", "floor"]]
        assert session.floor.language == "ja"
        monkeypatch.setattr(event_log, "append", real_append)

        # a restart sees exactly what was committed: the keynote live, the floor in Japanese
        again = LiveSession(seminar, engine, clock=clock)
        await again.open()
        current = again.timeline.current
        assert current is not None and again.timeline.run(current).item.id == "asia-keynote"
        assert again.floor.language == "ja"
        assert again.hub.seq == session.hub.seq
    finally:
        await engine.dispose()
