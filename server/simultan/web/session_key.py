"""App keys for the live session and connection lifecycle hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simultan.session.live import LiveSession

SESSION = web.AppKey("session", LiveSession)
DisconnectHook = Callable[[Any, Any], Awaitable[None]]
ON_DISCONNECT = web.AppKey("on_disconnect", list[DisconnectHook])
