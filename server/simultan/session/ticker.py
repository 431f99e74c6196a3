"""A clock task for a session driver: call ``tick`` every ``interval`` seconds, forever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def every(interval: float, tick: Callable[[], Awaitable[Any]], log: logging.Logger) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await tick()
        except Exception:  # never let a bug stop the clock
            log.exception("%s tick failed", log.name)
