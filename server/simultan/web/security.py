"""What every response carries, who may read /metrics, and what the logs may not say.

- Headers on every response (pages, static files, JSON, errors, the websocket upgrade): a
  Content-Security-Policy without inline script, ``frame-ancestors 'none'``,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and a
  ``Permissions-Policy`` that lets only the pages that publish (stage: a panelist given the
  floor; booth: an interpreter; control: a moderator speaking in a group it visits) ask for
  camera and microphone.
- ``/metrics``: with ``settings.metrics_token``, only ``Authorization: Bearer <token>``;
  without one, only a direct loopback peer (a request through a proxy is refused).
- Logs: the access log writes ``/join/<redacted>`` and ``token=<redacted>``, never a join
  token; a request the HTTP parser refuses is logged as one line, not two tracebacks.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from simultan.web.keys import SETTINGS

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Pages whose tab publishes media: a panelist on the stage, an interpreter in the booth, a
# company in its B2B meeting, a moderator speaking in a group it visits (the control page).
PUBLISHING_PAGES = frozenset({"/stage", "/booth", "/b2b", "/control"})
PUBLISHES = "camera=(self), microphone=(self), geolocation=(), display-capture=()"
NO_DEVICES = "camera=(), microphone=(), geolocation=(), display-capture=()"


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Permissions-Policy"] = PUBLISHES if request.path in PUBLISHING_PAGES else NO_DEVICES


def metrics_allowed(request: web.Request) -> bool:
    token = request.app[SETTINGS].metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, f"Bearer {token.get_secret_value()}".encode())
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False  # through a proxy: the peer address says nothing about the caller
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def check_metrics(request: web.Request) -> None:
    if not metrics_allowed(request):
        if request.app[SETTINGS].metrics_token is not None:
            raise web.HTTPUnauthorized(
                reason="metrics need a bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        raise web.HTTPForbidden(reason="metrics are served to loopback only")


# --- logs ------------------------------------------------------------------------------------

_SECRETS = [
    (re.compile(r"/join/[^\s?#\"]+"), "/join/<redacted>"),
    (re.compile(r"([?&#](?:token|access_token)=)[^&\s\"]+"), r"\1<redacted>"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokens(logging.Filter):
    """On aiohttp's access logger: the line is formatted before it is logged, so the
    message itself is rewritten."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class OneLineParserErrors(logging.Filter):
    """On aiohttp's server logger: a request the parser refused (bad request line, header,
    method, chunking) is the client's doing; one line says so, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            reason = redact(str(getattr(exc, "message", "") or exc)).splitlines()
            said = redact(record.getMessage())
            record.msg = "%s: %s"
            record.args = (said, reason[0] if reason else type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install_log_filters() -> None:
    """Idempotent: every app (and test) may call it."""
    for name, kind in (("aiohttp.access", RedactTokens), ("aiohttp.server", OneLineParserErrors)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


def setup(app: web.Application) -> None:
    install_log_filters()
    app.on_response_prepare.append(add_headers)
