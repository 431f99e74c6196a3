"""The aiohttp application factory: typed state, resources in cleanup contexts, thin routes."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from simultan.eventdef import EventDefinition
from simultan.mail.mailer import MAILER, mailer_from_settings
from simultan.protocol.close import CloseCode
from simultan.resources import client_dir
from simultan.secret import require_secret
from simultan.session.ice_config import rtc_config_for
from simultan.session.live import LiveSession
from simultan.session.tech import run_tech_view
from simultan.settings import Settings
from simultan.store.database import open_database
from simultan.tokens import JoinTokens
from simultan.web import admin, b2b, join, registration, security, ws
from simultan.web.auth import TOKENS, event_end
from simultan.web.errors import error_middleware
from simultan.web.keys import CLOCK, DB, EVENT, ON_REVOKE, SETTINGS, Clock
from simultan.web.session_key import ON_DISCONNECT, SESSION

log = logging.getLogger("simultan.app")

CLIENT_DIR = client_dir()
PAGES = {"/stage": "stage.html", "/control": "control.html", "/booth": "booth.html"}
METRICS = web.AppKey("metrics", CollectorRegistry)
LOSS_WATCH: web.AppKey[Any] = web.AppKey("loss_watch")
LINK_WATCH: web.AppKey[Any] = web.AppKey("link_watch")


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = await open_database(app[SETTINGS].database_url)
    app[DB] = engine
    yield
    await engine.dispose()


async def _live_session(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = LiveSession(
        app[EVENT],
        app[DB],
        clock=app[CLOCK],
        buffer_size=settings.replay_buffer_size,
        floor_limit=settings.floor_limit,
    )
    await session.open()
    app[SESSION] = session

    async def close_revoked(person_id: str) -> None:
        for conn in session.hub.connections_of(person_id):
            conn.close_code = CloseCode.REVOKED
            conn.stop()
        if session.media_sessions is not None:  # no media outlives revoked access
            await session.media_sessions.close_person(person_id)

    app[ON_REVOKE].append(close_revoked)
    tech = asyncio.create_task(
        run_tech_view(
            session,
            silence_limit=timedelta(seconds=settings.alarm_silence_seconds),
            handover_limit=timedelta(seconds=settings.alarm_handover_seconds),
            lost=lambda: app[LOSS_WATCH].lost if LOSS_WATCH in app else frozenset(),
        ),
        name="tech-view",
    )
    rooms_clock = asyncio.create_task(session.rooms.run(), name="rooms-clock")
    session.run_of_show.configure(
        warning_minutes=settings.run_warning_minutes,
        danger_minutes=settings.run_danger_minutes,
        cue_minutes=settings.booth_cue_minutes,
    )
    agenda_clock = asyncio.create_task(session.run_of_show.run(), name="run-of-show-clock")
    Gauge(
        "simultan_ws_connections", "Open websocket connections", registry=app[METRICS]
    ).set_function(lambda: len(session.hub.connections))
    Gauge("simultan_hub_seq", "Last hub event sequence", registry=app[METRICS]).set_function(
        lambda: session.hub.seq
    )
    yield
    tech.cancel()
    rooms_clock.cancel()
    agenda_clock.cancel()
    for conn in list(session.hub.connections):
        conn.stop()


async def _media_plane(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = app[SESSION]
    session.recordings_dir = settings.recordings_dir
    session.record_with_agenda = settings.record_with_agenda
    session.rtc_config = rtc_config_for(settings, event_end(app[EVENT]))
    session.booth_settings = {
        "rotation_minutes": settings.booth_rotation_minutes,
        "cue_minutes": settings.booth_cue_minutes,
    }
    if not settings.media_enabled:
        yield
        return
    from simultan.media.sfu import EmbeddedSfu
    from simultan.session.link_watch import LinkWatch
    from simultan.session.liveness import LossWatch
    from simultan.session.media_sessions import MediaSessions
    from simultan.web.ws import person_left

    tasks: set[asyncio.Task[None]] = set()
    watch = LossWatch(session, lost_after=settings.media_loss_seconds)

    def source_gone(key: str) -> None:
        watch.forget_gone(key)  # first: it notes whether the interpreter was live
        task = asyncio.get_running_loop().create_task(session.source_gone(key))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def expired(person: Any) -> None:
        await person_left(session, person)

    sfu = EmbeddedSfu(settings, on_source_gone=source_gone)
    sfu.on_floor_levels = session.floor_driver.levels
    session.stage.media = sfu
    session.media_sessions = MediaSessions(
        sfu, grace=settings.media_grace_seconds, on_expired=expired
    )
    app[LOSS_WATCH] = watch
    session.stage.apply_routes(session.floor.language)
    session.floor_driver.apply_media()
    watcher = asyncio.create_task(watch.run(), name="loss-watch")
    links = LinkWatch(session, resume_after=settings.video_resume_seconds)
    app[LINK_WATCH] = links
    link_watcher = asyncio.create_task(links.run(), name="link-watch")
    yield
    watcher.cancel()
    link_watcher.cancel()
    await asyncio.gather(watcher, link_watcher, return_exceptions=True)
    await session.media_sessions.aclose()
    session.media_sessions = None
    session.stage.media = None
    await sfu.close()


async def _b2b_rooms(app: web.Application) -> AsyncIterator[None]:
    """The B2B meetings' rooms and their 1 s clock (open, warn, close on the slot grid)."""
    from simultan.core.b2b import B2BEvent, B2BState
    from simultan.hub.audience import Audience
    from simultan.session.b2b_rooms import B2BRooms

    schedule = app.get(b2b.SCHEDULE)
    if schedule is None:
        yield
        return
    session = app[SESSION]

    async def notify(person_id: str, data: dict[str, Any]) -> None:
        await session.publish("b2b_room", data, Audience(person=person_id))

    async def tell_pages(state: B2BState, event: B2BEvent) -> None:
        # Every accepted change, to the pages of the people it concerns (besides their
        # mail): a request, an answer, a meeting scheduled, moved or cancelled, an
        # interpreter booked or removed. The page fetches its schedule again; a page in
        # that meeting joins its room again if the interpretation changed.
        data = {"change": event.change.value, "subject": event.subject, "version": state.version}
        for person_id in event.notify:
            await session.publish("b2b_schedule", data, Audience(person=person_id))

    schedule.on_change.append(tell_pages)

    def alive(media_id: str) -> bool:
        media = session.stage.media
        held = media is not None and media_id in media.session_ids()
        return held or any(c.media_id == media_id for c in session.hub.connections)

    rooms = B2BRooms(schedule, lambda: session.stage.media, notify, alive=alive)
    session.b2b_rooms = rooms
    clock = asyncio.create_task(rooms.run(), name="b2b-rooms-clock")
    yield
    clock.cancel()
    await asyncio.gather(clock, return_exceptions=True)
    schedule.on_change.remove(tell_pages)
    session.b2b_rooms = None


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        text = (CLIENT_DIR / name).read_text(encoding="utf-8")
        title = html.escape(request.app[EVENT].event.title)
        return web.Response(
            text=text.replace("{{event_title}}", title),
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    return handler


async def _close_sockets(app: web.Application) -> None:
    """On shutdown, tell every open tab we are going away (they reconnect and resume)."""
    session = app.get(SESSION)
    if session is None:
        return
    for conn in list(session.hub.connections):
        conn.close_code = CloseCode.GOING_AWAY
        conn.stop()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "event": request.app[EVENT].event.id})


async def _metrics(request: web.Request) -> web.Response:
    security.check_metrics(request)
    body = generate_latest(request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/register")


def create_app(
    settings: Settings, defn: EventDefinition, *, clock: Clock = utc_now
) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[EVENT] = defn
    app[CLOCK] = clock
    app[ON_REVOKE] = []
    app[ON_DISCONNECT] = []
    app[METRICS] = CollectorRegistry()
    app[MAILER] = mailer_from_settings(settings)
    app[TOKENS] = JoinTokens(require_secret(settings), defn.event.id)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_live_session)
    app.cleanup_ctx.append(_media_plane)
    app.on_shutdown.append(_close_sockets)
    security.setup(app)

    app.router.add_get("/", _index)
    ws.setup(app)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    for path, name in PAGES.items():
        app.router.add_get(path, _page(name))
    app.router.add_static("/static", CLIENT_DIR, append_version=False)
    registration.setup(app)
    admin.setup(app)
    join.setup(app)
    b2b.setup(app)
    app.cleanup_ctx.append(_b2b_rooms)  # after the schedule is opened
    return app
