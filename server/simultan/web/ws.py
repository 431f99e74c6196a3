"""The /ws endpoint: Origin check before the upgrade, token in the first message, then one
actor per connection (a reader that dispatches, a writer that drains a bounded queue)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSMsgType, web

from simultan.core.capabilities import Capability
from simultan.core.ratelimit import Rate
from simultan.errors import AuthError, ProtocolError, RateLimited, SimultanError
from simultan.hub.hub import RESYNC, Connection
from simultan.protocol import messages as m
from simultan.protocol.close import CloseCode
from simultan.ratelimit import Limiter, Throttle
from simultan.session.dispatch import dispatch
from simultan.settings import Settings
from simultan.web.auth import authenticate
from simultan.web.keys import SETTINGS
from simultan.web.session_key import ON_DISCONNECT, SESSION

log = logging.getLogger("simultan.ws")

# Absolute: counted from the upgrade, not restarted by each frame that is not a good hello.
HELLO_TIMEOUT = 10.0
# Offers per token (person) across all their tabs.
OFFER_LIMITS = web.AppKey("ws_offer_limits", Limiter)
# Frames up to this many times the limit are read and refused with a typed error; beyond it
# aiohttp closes the socket (1009) so a client cannot make us buffer without bound.
HARD_LIMIT_FACTOR = 4


def origin_allowed(request: web.Request) -> bool:
    """The upgrade's Origin is ours: with ``public_url`` set, only its origin (and
    ``allowed_origins``); without it, also the origin the browser addressed (local use).
    An Origin equal to the Host header proves nothing once a public name is known: a
    rebound DNS name sends exactly that."""
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    settings = request.app[SETTINGS]
    origin = origin.rstrip("/")
    if origin in settings.origins:
        return True
    return settings.public_url is None and origin == f"{request.scheme}://{request.host}"


def command_rate(settings: Settings) -> Rate:
    return Rate(settings.ws_commands_per_second, settings.ws_command_burst)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[OFFER_LIMITS] = Limiter(
        Rate.per_minute(settings.offers_per_minute, settings.offer_burst), "offers"
    )
    app.router.add_get("/ws", websocket_handler)


def _error(exc: SimultanError, request_id: str | None = None) -> str:
    return m.encode(
        m.ErrorReply(request_id=request_id, code=exc.code, message=exc.message, details=exc.details)
    )


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    if not origin_allowed(request):
        raise web.HTTPForbidden(reason="Origin not allowed", text="websocket Origin not allowed")
    settings = request.app[SETTINGS]
    limit = settings.max_message_bytes
    # No per-message deflate: compressing every event once per connection costs more CPU
    # in the fan-out than the bandwidth it saves (measured in bench/hub_fanout.py).
    ws = web.WebSocketResponse(
        heartbeat=30.0, max_msg_size=limit * HARD_LIMIT_FACTOR, compress=False
    )
    await ws.prepare(request)
    session = request.app[SESSION]

    deadline = asyncio.get_running_loop().time() + HELLO_TIMEOUT
    try:
        # one bucket per socket from the upgrade on: frames before hello count too
        messages = Throttle(command_rate(settings), "messages")
        hello = await _await_hello(ws, limit, deadline, messages)
        if hello is None:
            return ws
        person = await authenticate(request.app, hello.token)
    except AuthError as exc:
        await ws.send_str(_error(exc))
        await _close(ws, CloseCode.UNAUTHORIZED)
        return ws
    if len(session.hub.connections_of(person.id)) >= settings.max_sockets_per_token:
        refusal = RateLimited(
            f"this join link already has {settings.max_sockets_per_token} open connections: "
            "close a tab and try again",
            HELLO_TIMEOUT,
        )
        await ws.send_str(_error(refusal))
        await _close(ws, CloseCode.TOO_MANY_CONNECTIONS)
        return ws

    conn = Connection(person, queue_size=settings.client_queue_size)
    resume = (hello.resume.epoch, hello.resume.seq) if hello.resume else None
    first_tab = not session.hub.connections_of(person.id) and not (
        session.media_sessions is not None and session.media_sessions.held_by(person.id)
    )
    session.hub.attach(conn, resume)
    if hello.media_session is not None:
        registry = session.media_sessions
        resumed = registry is not None and registry.resume(conn, hello.media_session)
        conn.offer(m.encode(m.MediaStatus(session=hello.media_session, resumed=resumed)))
    if first_tab:
        await session.presence(person, True)
    with contextlib.suppress(SimultanError):
        await session.rooms.connected(person)  # a city is admitted (or back in its room)
    if person.can(Capability.BOOTH_MEMBER) and person.booth:
        # an interpreter at the console is present in the booth
        with contextlib.suppress(SimultanError):
            await session.interpreter_present(person, True)
    writer = asyncio.create_task(_write(ws, conn, session), name=f"ws-writer-{person.id[:8]}")
    try:
        limits = _ConnectionLimits(messages, request.app[OFFER_LIMITS])
        await _read(ws, conn, session, person, limit, limits)
    finally:
        session.hub.detach(conn)
        conn.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, 2.0)
        writer.cancel()
        await _media_gone(session, person, conn)
        for hook in request.app.get(ON_DISCONNECT, []):
            with contextlib.suppress(Exception):
                await hook(person, conn)
    return ws


async def _media_gone(session: Any, person: Any, conn: Connection) -> None:
    """The socket is gone: its peer connection stays for the grace period (the tab may be
    reconnecting, see session/media_sessions.py); once the person has neither a socket nor
    media, they have left (an interpreter leaves the booth: the partner is offered the mic,
    listeners fall back to the floor)."""
    registry = session.media_sessions
    if registry is not None:
        registry.detach(conn)
    elif session.stage.media is not None:
        with contextlib.suppress(Exception):
            await session.stage.media.close_session(conn.media_id)
    await person_left(session, person)


async def person_left(session: Any, person: Any) -> None:
    """Presence and booth seat follow the person's last socket, or their last media."""
    if session.hub.connections_of(person.id):
        return
    if session.media_sessions is not None and session.media_sessions.held_by(person.id):
        return
    with contextlib.suppress(SimultanError):
        await session.presence(person, False)
    if person.can(Capability.BOOTH_MEMBER) and person.booth:
        with contextlib.suppress(SimultanError):
            await session.interpreter_present(person, False)


async def _close(ws: web.WebSocketResponse, code: CloseCode) -> None:
    await ws.close(code=code, message=code.reason)


async def _await_hello(
    ws: web.WebSocketResponse, limit: int, deadline: float, messages: Throttle
) -> m.Hello | None:
    """The hello, or None once the socket is closed. A hello that does not validate (a token
    over 4 KB, a token that is not a string) is an AuthError: the socket closes with 4001."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            frame = await asyncio.wait_for(ws.receive(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            await _close(ws, CloseCode.UNAUTHORIZED)
            return None
        if frame.type != WSMsgType.TEXT:
            await ws.close()
            return None
        try:
            messages.check()
            if len(frame.data) > limit:
                raise ProtocolError(f"message too large (limit {limit} bytes)")
            msg = m.parse_client_message(frame.data)
            if not isinstance(msg, m.Hello):
                raise ProtocolError("the first message must be hello with your join token")
            return msg
        except ProtocolError as exc:
            if exc.message_type == "hello":
                raise AuthError(
                    "This join link is not valid: the hello could not be read.",
                    details={"reason": "malformed", "problems": exc.details.get("problems")},
                ) from exc
            await ws.send_str(_error(exc))
        except RateLimited as exc:
            await ws.send_str(_error(exc))


class _ConnectionLimits:
    """What one tab may send: messages per second (its own bucket), offers per minute
    (shared by every tab of the same token)."""

    def __init__(self, messages: Throttle, offers: Limiter) -> None:
        self.messages = messages
        self.offers = offers


async def _read(
    ws: web.WebSocketResponse,
    conn: Connection,
    session: Any,
    person: Any,
    limit: int,
    limits: _ConnectionLimits,
) -> None:
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            if frame.type == WSMsgType.BINARY:
                conn.offer(_error(ProtocolError("binary frames are not accepted")))
                continue
            break
        request_id: str | None = None
        try:
            # every frame counts, good or bad, before any parsing: a flood costs us little
            limits.messages.check()
            if len(frame.data) > limit:
                raise ProtocolError(f"message too large (limit {limit} bytes)")
            msg = m.parse_client_message(frame.data)
            request_id = getattr(msg, "request_id", None)
            if isinstance(msg, m.Hello):
                raise ProtocolError("already authenticated")
            if isinstance(msg, m.RtcOffer):
                limits.offers.check(person.id)
            if isinstance(msg, m.Ping):
                conn.offer(m.encode(m.Pong(request_id=request_id)))
                continue
            result = await dispatch(session, person, msg, conn)
            if isinstance(result, m.RtcAnswer):
                conn.offer(m.encode(result))
            else:
                conn.offer(m.encode(m.Reply(request_id=request_id, data=result)))
        except SimultanError as exc:
            conn.offer(_error(exc, request_id or m.request_id_of(frame.data)))
        except Exception:
            log.exception("! handler failed for %s", person.id[:8])
            conn.offer(
                m.encode(
                    m.ErrorReply(request_id=request_id, code="internal", message="internal error")
                )
            )


async def _write(ws: web.WebSocketResponse, conn: Connection, session: Any) -> None:
    while True:
        item = await conn.queue.get()
        if item is None:
            if conn.close_code is not None:
                await _close(ws, CloseCode(conn.close_code))
            return
        try:
            if item is RESYNC:
                await ws.send_str(session.hub.resync(conn))
            elif isinstance(item, bytes):
                # hub events arrive encoded once for every connection: no per-send encoding
                await ws.send_frame(item, WSMsgType.TEXT)
            else:
                await ws.send_str(item)  # type: ignore[arg-type]
        except (ConnectionResetError, RuntimeError):
            return
