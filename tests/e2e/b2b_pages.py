"""Shared by the B2B browser tests and screenshots: the forum's server with companies seeded."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from simultan.core.b2b_profiles import Profile
from simultan.eventdef import ItemKind, load_event
from simultan.store.b2b import B2BStore
from simultan.web.keys import DB, EVENT
from tests.conftest import FORUM, FakeClock, LiveServer, start_server

COMPANIES = (
    ("Ana Nowak", "Widzew Energy", "Energy", "Poland", "Łódź", ("pl", "en")),
    ("Bo Jensen", "Aarhus Water", "Water", "Denmark", "Aarhus", ("da", "en")),
    ("Cy Larsen", "Odense Bikes", "Mobility", "Denmark", "Odense", ("da", "en")),
)


@asynccontextmanager
async def forum_server(
    tmp_path: Path, clock: FakeClock, *, media_enabled: bool, b2b_grace_seconds: int
) -> AsyncIterator[LiveServer]:
    """The forum's server (the B2B event), with ``b2b_grace_seconds`` after a meeting's end;
    cleaned up at the end."""
    runner, live = await start_server(
        tmp_path,
        clock,
        load_event(FORUM),
        media_enabled=media_enabled,
        b2b_grace_seconds=b2b_grace_seconds,
    )
    try:
        yield live
    finally:
        await runner.cleanup()


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG (solid blue), so a browser can decode and show it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x0b\x63\xce" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def b2b_start(server: Any) -> Any:
    defn = server.app[EVENT]
    return defn.planned_start(next(i for i in defn.agenda if i.kind is ItemKind.B2B))


async def seed_companies(
    server: Any,
    language: str = "en",
    zones: dict[str, str] | None = None,
    languages: dict[str, str] | None = None,
) -> dict[str, tuple[str, str]]:
    """name -> (registration id, token), each with a company profile, registered in
    ``language`` (or the one ``languages`` gives by first name), in the time zone ``zones``
    gives by first name, else Asia/Tokyo."""
    out: dict[str, tuple[str, str]] = {}
    store = B2BStore(server.app[DB], server.app[EVENT].event.id)
    for name, org, sector, country, city, langs in COMPANIES:
        first = name.split()[0].lower()
        zone = (zones or {}).get(first, "Asia/Tokyo")
        spoken = (languages or {}).get(first, language)
        rid, token = await server.person(
            "participant", name, city=city, language=spoken, timezone=zone
        )
        profile = Profile(
            org, sector, f"{sector} know-how", "Partners abroad", langs, country, city
        )
        await store.save_profile(rid, profile, server.clock())
        await store.set_logo(rid, tiny_png(), "image/png")
        out[first] = (rid, token)
    return out


def before_day(server: Any) -> None:
    server.clock.now = b2b_start(server) - timedelta(hours=20)


async def organizer_with_two_meetings(
    server: LiveServer, organizer_language: str | None = None
) -> tuple[dict[str, Any], str, str, str, Any, list[Any]]:
    """The seeded companies, an interpreter for Polish and an organizer (in
    ``organizer_language``), the day not begun, and two meetings scheduled by the organizer:
    Ana with Bo in the first slot (m1), Ana with Cy in the second (m2). Returns (people,
    interpreter id, organizer id, organizer token, the schedule, its slots)."""
    from simultan.core import b2b
    from simultan.web.b2b import SCHEDULE

    people = await seed_companies(server)
    ivy, _ = await server.person("interpreter", "Ivy Interpreter", booth="pl", language="pl")
    extra = {"language": organizer_language} if organizer_language else {}
    org_id, org_token = await server.person("organizer", "Olga Organizer", **extra)
    before_day(server)
    schedule = server.app[SCHEDULE]
    slots = schedule.state.grid.slots()
    ana, bo, cy = people["ana"][0], people["bo"][0], people["cy"][0]
    await schedule.run(b2b.Schedule("m1", (ana, bo), slots[0].start, 1), org_id)
    await schedule.run(b2b.Schedule("m2", (ana, cy), slots[1].start, 1), org_id)
    return people, ivy, org_id, org_token, schedule, slots
