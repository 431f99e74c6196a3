"""Typed application state: one AppKey per shared resource (no module-level state)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from simultan.eventdef import EventDefinition
from simultan.settings import Settings

Clock = Callable[[], datetime]

SETTINGS = web.AppKey("settings", Settings)
EVENT = web.AppKey("event", EventDefinition)
DB = web.AppKey("db", AsyncEngine)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")

# Callbacks run when an organizer revokes a person's access (or re-issues their link):
# the hub closes that person's live connections.
RevokeHook = Callable[[str], Awaitable[None]]
ON_REVOKE = web.AppKey("on_revoke", list[RevokeHook])
