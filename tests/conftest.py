"""Shared fixtures: the seeded event, a settable clock, a real server on 127.0.0.1 and real
websocket clients (the ``websockets`` package) against it."""

from __future__ import annotations

import gc
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from aiohttp import web

from simultan.app import create_app
from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition, load_event
from simultan.settings import Settings, load_settings
from simultan.store.registrations import create_or_get_registration
from simultan.web.auth import link_for
from simultan.web.keys import DB
from simultan.web.session_key import SESSION

REPO = Path(__file__).resolve().parents[1]
SEMINAR = REPO / "config" / "iuc-city-to-city.yaml"
FORUM = REPO / "config" / "lodz-partner-cities-forum.yaml"
# A secret for servers started by tests (serve refuses to start without one).
TEST_SECRET = "tests-only-secret-0123456789abcdefghijklmnop"


# The collector, kept out of the tests' timing. Over a full suite the heap grows (every
# module, every finished test's reports), and a full collection during a media test paused
# the loop for a median 112 ms, at most 431 ms (39 in a run, 10 of them over 250 ms, which
# is the lag gate's threshold): a timing test then failed about one clean-clone run in
# three. So what survives collection, and then each test, is frozen (``gc.freeze``: no
# collection scans it again), and a test's own collections scan only what it made. Every
# ``_THAW_EVERY`` tests, between tests, it is all thawed and collected once, so garbage
# that formed among frozen objects is still freed. Measured over a full suite (gc.callbacks,
# test bodies only): 7 full collections, median 8.7 ms, at most 24.5 ms; 459 MB at most.
_THAW_EVERY = 50
_tests_since_thaw = 0


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _tests_since_thaw
    try:
        return (yield)
    finally:
        # The item is torn down (its loop closed): collect what it left, freeze the rest.
        _tests_since_thaw += 1
        if _tests_since_thaw >= _THAW_EVERY:
            _tests_since_thaw = 0
            gc.unfreeze()
        gc.collect()
        gc.freeze()


class FakeClock:
    """A settable clock: tests move time explicitly, never sleep for it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def seminar() -> EventDefinition:
    return load_event(SEMINAR)


@pytest.fixture
def clock(seminar: EventDefinition) -> FakeClock:
    first = seminar.planned_start(seminar.agenda[0])
    return FakeClock(first - timedelta(minutes=10))


@dataclass
class LiveServer:
    app: web.Application
    settings: Settings
    url: str
    clock: FakeClock
    clients: list[Any] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    async def person(
        self,
        role: Role | str,
        name: str,
        *,
        booth: str | None = None,
        language: str = "en",
        city: str = "Testville",
        topic: str | None = None,
        email: str | None = None,
        timezone: str = "Asia/Tokyo",
    ) -> tuple[str, str]:
        """Seed an approved person; returns (registration id, join token)."""
        role = Role(role)
        if email is None:
            local = "".join(c for c in name.lower().replace(" ", ".") if c.isalnum() or c == ".")
            email = f"{local}@test.example"
        reg = await create_or_get_registration(
            self.app[DB],
            self.app[SESSION].event_id,
            name=name,
            email=email,
            role=role,
            booth=booth,
            language=language,
            timezone=timezone,
            city=city,
            topic=topic,
            now=self.clock(),
        )
        return reg.id, link_for(self.app, reg).rsplit("/", 1)[1]

    async def connect(
        self,
        token: str,
        *,
        resume: dict[str, Any] | None = None,
        origin: str | None = None,
        media_session: str | None = None,
    ) -> Client:
        ws = await websockets.connect(
            self.ws_url, origin=origin or self.origin, max_size=2**22, close_timeout=0.5
        )
        client = Client(ws)
        self.clients.append(client)
        hello: dict[str, Any] = {"type": "hello", "token": token, "resume": resume}
        if media_session is not None:
            hello["media_session"] = media_session
        await client.send(hello)
        return client


class Client:
    """A websocket client speaking the Simultan protocol, for tests."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.epoch: str | None = None
        self.seq = 0
        self._n = 0
        self.backlog: list[dict[str, Any]] = []  # messages a request() read past

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        return await self._read(timeout)

    async def _read(self, timeout: float) -> dict[str, Any]:
        import asyncio

        msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if msg["type"] in ("welcome", "event"):
            self.epoch, self.seq = msg["epoch"], msg["seq"]
        return msg

    async def recv_type(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            msg = await self.recv(timeout)
            if msg["type"] == kind:
                return msg

    async def request(self, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send with a request id; return the reply or error for it (events are skipped)."""
        self._n += 1
        rid = f"t{self._n}"
        await self.send({**message, "request_id": rid})
        while True:
            msg = await self._read(timeout)
            if msg.get("request_id") == rid and msg["type"] != "event":
                return msg
            self.backlog.append(msg)

    @property
    def resume(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "seq": self.seq}

    async def close(self) -> None:
        await self.ws.close()


async def start_server(
    tmp_path: Path, clock: FakeClock, defn: EventDefinition, **overrides: Any
) -> tuple[web.AppRunner, LiveServer]:
    port = overrides.pop("port", None) or free_port()  # a port of its own, or a restart's
    overrides.setdefault("ice_host_addresses", ("127.0.0.1",))  # media stays on loopback
    # Test peers share the server's process (and its GIL and thread pool): one starved on a
    # loaded machine is not a network loss. The loss tests set the production 0.8 s.
    overrides.setdefault("media_loss_seconds", 2.0)
    settings = load_settings(
        None,
        host="127.0.0.1",
        port=port,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'simultan.sqlite3'}",
        outbox_dir=tmp_path / "outbox",
        recordings_dir=tmp_path / "recordings",
        **{"secret_key": TEST_SECRET, **overrides},
    )
    app = create_app(settings, defn, clock=clock)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, LiveServer(app=app, settings=settings, url=settings.base_url, clock=clock)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(
    tmp_path: Path, clock: FakeClock, seminar: EventDefinition
) -> AsyncIterator[LiveServer]:
    runner, live = await start_server(tmp_path, clock, seminar, media_enabled=False)
    try:
        yield live
    finally:
        for c in live.clients:
            await c.close()
        await runner.cleanup()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
