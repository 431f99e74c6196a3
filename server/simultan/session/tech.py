"""The organizers' tech view: once a second, every booth's state, levels, connection quality,
minutes on mic and the current alarms, sent (unnumbered, never replayed: it is a live
gauge) to every connection whose role has the tech_view capability."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from simultan.core.alarms import alarms
from simultan.core.capabilities import Capability
from simultan.hub.audience import Audience
from simultan.media.plane import SPEAKER_PREFIX
from simultan.protocol.messages import Tech
from simultan.session.live import LiveSession

log = logging.getLogger("simultan.tech")

TECH_AUDIENCE = Audience(capability=Capability.TECH_VIEW)


def tech_view(
    session: LiveSession,
    *,
    silence_limit: timedelta = timedelta(seconds=10),
    handover_limit: timedelta = timedelta(seconds=30),
    lost: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``lost``: source keys whose packets stopped (session/liveness.py)."""
    now = session.now()
    media = session.stage.media
    stats = media.stats() if media is not None else None
    levels: dict[str, float | None] = {}
    silent: dict[str, float] = {}
    quality: dict[str, dict[str, Any]] = {}
    for booth in session.stage.booths.values():
        for _, person in booth.seated():
            key = f"interpreter:{person}"
            if media is None or stats is None or key not in stats.sources:
                continue
            meter_of = getattr(media, "meter", None)  # an external engine may not meter
            if meter_of is None:
                continue
            meter = meter_of(key)  # decodes this source once, only while metered
            levels[person] = None if math.isinf(meter.level_dbfs) else round(meter.level_dbfs, 1)
            silent[person] = meter.silent_for()
            src = stats.sources[key]
            states = [s for s in stats.per_session.values() if s.publish == key]
            quality[person] = {
                "frames_in": src.frames_in,
                "frames_out": src.frames_out,
                "connection": states[0].connection_state if states else None,
                "drops": sum(s.drops for s in states),
                "packets": "stopped" if key in lost else "flowing",
            }
    booths = []
    for booth in session.stage.booths.values():
        data = session.stage.booth_dict(booth, now)
        data["levels_dbfs"] = {p: levels.get(p) for p in booth.connected}
        data["quality"] = {p: quality.get(p) for _, p in booth.seated()}
        booths.append(data)
    found = alarms(
        list(session.stage.booths.values()),
        silent,
        now,
        silence_limit=silence_limit,
        handover_limit=handover_limit,
        lost=frozenset(k.removeprefix("interpreter:") for k in lost),
        lost_speakers=_lost_speakers(session, lost),
    )
    media_summary = None
    if stats is not None:
        media_summary = {
            "sessions": stats.sessions,
            "frames_in": stats.frames_in,
            "frames_out": stats.frames_out,
            "drops": stats.drops,
            "routes": dict(stats.routes),
            "lost": sorted(lost),
        }
    return {
        "at": now.isoformat(),
        "booths": booths,
        "alarms": [a.to_dict() for a in found],
        "media": media_summary,
    }


def _lost_speakers(session: LiveSession, lost: frozenset[str]) -> dict[str, str]:
    """Live floor speakers among the lost source keys, by id, with their names."""
    driver = session.floor_driver
    out: dict[str, str] = {}
    for key in lost:
        person = key.removeprefix(SPEAKER_PREFIX)
        if key.startswith(SPEAKER_PREFIX) and driver.floor.is_live(person):
            out[person] = str(driver.people.get(person, {}).get("name", person))
    return out


async def run_tech_view(
    session: LiveSession,
    interval: float = 1.0,
    *,
    silence_limit: timedelta = timedelta(seconds=10),
    handover_limit: timedelta = timedelta(seconds=30),
    lost: Callable[[], frozenset[str]] = frozenset,
) -> None:
    """Publish the tech view while anyone who may see it is connected."""
    while True:
        await asyncio.sleep(interval)
        if not any(c.person.can(Capability.TECH_VIEW) for c in session.hub.connections):
            continue
        try:
            view = tech_view(
                session,
                silence_limit=silence_limit,
                handover_limit=handover_limit,
                lost=lost(),
            )
            session.hub.send_where(Tech(view=view), TECH_AUDIENCE)
        except Exception:
            log.exception("! tech view failed")
