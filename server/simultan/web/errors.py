"""The one place that maps Simultan errors to HTTP responses (and never leaks a traceback)."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from simultan.errors import RateLimited, SimultanError

log = logging.getLogger("simultan.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(exc: SimultanError) -> dict[str, object]:
    return {"error": exc.code, "message": exc.message, **exc.details}


def wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept


def error_page(title: str, message: str, status: int) -> web.Response:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><link rel=stylesheet href=/static/css/app.css>"
        f"<main class=error-page><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        "</main></html>"
    )
    return web.Response(text=body, status=status, content_type="text/html")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SimultanError as exc:
        if wants_html(request):
            response = error_page("Sorry", exc.message, exc.http_status)
        else:
            response = web.json_response(error_body(exc), status=exc.http_status)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.5)))
        return response
    except web.HTTPException:
        raise
    except Exception:
        log.exception("! unhandled error on %s %s", request.method, request.path)
        if wants_html(request):
            return error_page("Something went wrong", "Please try again in a moment.", 500)
        return web.json_response({"error": "internal", "message": "internal error"}, status=500)
