"""The /ws endpoint: Origin check before the upgrade, token in the first message, then one
actor per connection (a reader that dispatches, a writer that drains a bounded queue)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSMsgType, web

from simultan.core.capabilities import Capability
from simultan.errors import AuthError, ProtocolError, SimultanError
from simultan.hub.hub import RESYNC, Connection
from simultan.protocol import messages as m
from simultan.session.dispatch import dispatch
from simultan.web.auth import authenticate
from simultan.web.keys import SETTINGS
from simultan.web.session_key import ON_DISCONNECT, SESSION

log = logging.getLogger("simultan.ws")

HELLO_TIMEOUT = 10.0
CLOSE_AUTH = 4001
# Frames up to this many times the limit are read and refused with a typed error; beyond it
# aiohttp closes the socket (1009) so a client cannot make us buffer without bound.
HARD_LIMIT_FACTOR = 4


def origin_allowed(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    allowed = request.app[SETTINGS].origins
    return (
        origin.rstrip("/") in allowed or origin.rstrip("/") == f"{request.scheme}://{request.host}"
    )


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

    hello = await _await_hello(ws, limit)
    if hello is None:
        return ws
    try:
        person = await authenticate(request.app, hello.token)
    except AuthError as exc:
        await ws.send_str(_error(exc))
        await ws.close(code=CLOSE_AUTH, message=b"unauthorized")
        return ws

    conn = Connection(person, queue_size=settings.client_queue_size)
    resume = (hello.resume.epoch, hello.resume.seq) if hello.resume else None
    first_tab = not session.hub.connections_of(person.id)
    session.hub.attach(conn, resume)
    if first_tab:
        await session.presence(person, True)
    if person.can(Capability.BOOTH_MEMBER) and person.booth:
        # an interpreter at the console is present in the booth
        with contextlib.suppress(SimultanError):
            await session.interpreter_present(person, True)
    writer = asyncio.create_task(_write(ws, conn, session), name=f"ws-writer-{person.id[:8]}")
    try:
        await _read(ws, conn, session, person, limit)
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
    """The tab is gone: close its peer connection; an interpreter whose last console closed
    leaves the booth (the partner is offered the mic, listeners fall back to the floor)."""
    media = session.stage.media
    if media is not None:
        with contextlib.suppress(Exception):
            await media.close_session(conn.id)
    if not session.hub.connections_of(person.id):
        with contextlib.suppress(SimultanError):
            await session.presence(person, False)
    if person.can(Capability.BOOTH_MEMBER) and person.booth:
        if not session.hub.connections_of(person.id):
            with contextlib.suppress(SimultanError):
                await session.interpreter_present(person, False)


async def _await_hello(ws: web.WebSocketResponse, limit: int) -> m.Hello | None:
    while True:
        try:
            frame = await asyncio.wait_for(ws.receive(), HELLO_TIMEOUT)
        except TimeoutError:
            await ws.close(code=CLOSE_AUTH, message=b"no hello")
            return None
        if frame.type != WSMsgType.TEXT:
            await ws.close()
            return None
        try:
            if len(frame.data) > limit:
                raise ProtocolError(f"message too large (limit {limit} bytes)")
            msg = m.parse_client_message(frame.data)
            if not isinstance(msg, m.Hello):
                raise ProtocolError("the first message must be hello with your join token")
            return msg
        except ProtocolError as exc:
            await ws.send_str(_error(exc))


async def _read(
    ws: web.WebSocketResponse, conn: Connection, session: Any, person: Any, limit: int
) -> None:
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            if frame.type == WSMsgType.BINARY:
                conn.offer(_error(ProtocolError("binary frames are not accepted")))
                continue
            break
        request_id: str | None = None
        try:
            if len(frame.data) > limit:
                raise ProtocolError(f"message too large (limit {limit} bytes)")
            msg = m.parse_client_message(frame.data)
            request_id = getattr(msg, "request_id", None)
            if isinstance(msg, m.Hello):
                raise ProtocolError("already authenticated")
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
                reason = {4008: b"too slow", 4003: b"access revoked"}.get(conn.close_code, b"")
                await ws.close(code=conn.close_code, message=reason)
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
