"""A registration/admin/join app on a temporary SQLite file, with a real SMTP server.

Built here rather than with ``simultan.app.create_app``: only the pieces these handlers use
(settings, event, database, clock, mailer, tokens, revoke hooks), served by aiohttp's
TestServer on 127.0.0.1, with mail going to an aiosmtpd server on a random loopback port.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition
from simultan.mail.mailer import MAILER, mailer_from_settings
from simultan.settings import Settings
from simultan.store.database import open_database
from simultan.store.registrations import Registration, create_or_get_registration
from simultan.tokens import JoinTokens
from simultan.web import admin, b2b, join, registration
from simultan.web.auth import TOKENS, link_for
from simultan.web.errors import error_middleware
from simultan.web.keys import CLOCK, DB, EVENT, ON_REVOKE, SETTINGS
from tests.conftest import FakeClock

SECRET = "test-secret-not-for-production"
BASE_URL = "http://simultan.test"


class SmtpSink:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.logins: list[str] = []
        self.credentials = credentials

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.envelopes.append(envelope)
        self.messages.append(msg)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self.credentials is not None:
            login = (data.login.decode(), data.password.decode())
            if login == self.credentials:
                self.logins.append(login[0])
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@asynccontextmanager
async def smtp_server(
    credentials: tuple[str, str] | None = None,
) -> AsyncIterator[tuple[SmtpSink, int]]:
    """A real SMTP server on 127.0.0.1 and a random port, in this event loop."""
    sink = SmtpSink(credentials)
    extra: dict[str, Any] = {}
    if credentials is not None:
        extra = {"authenticator": sink.authenticate, "auth_require_tls": False}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="smtp.test", **extra), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield sink, port
    finally:
        server.close()
        await server.wait_closed()


def join_path(msg: EmailMessage) -> str:
    """The path of the join link in a join mail (``/join/<token>``)."""
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(re.escape(BASE_URL) + r"/join/[A-Za-z0-9_.-]+", body.get_content())
    assert found, "no join link in the mail"
    return urlsplit(found.group(0)).path


def token_of(path_or_url: str) -> str:
    return path_or_url.rsplit("/", 1)[1]


@dataclass
class WebApp:
    app: web.Application
    client: TestClient[Any, Any]
    clock: FakeClock
    smtp: SmtpSink
    revoked: list[str] = field(default_factory=list)

    @property
    def mails(self) -> list[EmailMessage]:
        return self.smtp.messages

    async def seed(
        self, role: Role, name: str, *, booth: str | None = None, email: str | None = None
    ) -> tuple[Registration, str]:
        """An approved person and a join token for them."""
        reg = await create_or_get_registration(
            self.app[DB],
            self.app[EVENT].event.id,
            name=name,
            email=email or f"{name.lower().replace(' ', '.')}@seed.example",
            role=role,
            booth=booth,
            language="en",
            timezone="Europe/Brussels",
            city="Brussels",
            country="Belgium",
            now=self.clock(),
        )
        return reg, token_of(link_for(self.app, reg))

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


MakeWebApp = Callable[..., Awaitable[WebApp]]


@pytest.fixture
async def make_web_app(
    tmp_path: Path, seminar: EventDefinition, clock: FakeClock
) -> AsyncIterator[MakeWebApp]:
    """Build (and later close) an app; keyword arguments override settings."""
    stack: list[tuple[TestClient[Any, Any], Any, Any]] = []

    async def make(
        *, smtp: bool = True, defn: EventDefinition | None = None, **overrides: Any
    ) -> WebApp:
        smtp_cm = smtp_server()
        sink, port = await smtp_cm.__aenter__()
        values: dict[str, Any] = {
            "public_url": BASE_URL,
            "secret_key": SECRET,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / f'db{len(stack)}.sqlite3'}",
            "outbox_dir": tmp_path / "outbox",
            "smtp_host": "127.0.0.1" if smtp else None,
            "smtp_port": port,
            **overrides,
        }
        settings = Settings(**values)
        app = web.Application(middlewares=[error_middleware])
        app[SETTINGS] = settings
        app[EVENT] = defn or seminar
        app[CLOCK] = clock
        app[DB] = await open_database(settings.database_url)
        app[MAILER] = mailer_from_settings(settings)
        app[TOKENS] = JoinTokens(settings.secret_key.get_secret_value(), app[EVENT].event.id)
        revoked: list[str] = []

        async def on_revoke(person_id: str) -> None:
            revoked.append(person_id)

        app[ON_REVOKE] = [on_revoke]
        registration.setup(app)
        admin.setup(app)
        join.setup(app)
        b2b.setup(app)
        engine = app[DB]
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        stack.append((client, smtp_cm, engine))
        return WebApp(app=app, client=client, clock=clock, smtp=sink, revoked=revoked)

    yield make
    for client, smtp_cm, engine in reversed(stack):
        await client.close()
        await engine.dispose()
        await smtp_cm.__aexit__(None, None, None)


@pytest.fixture
async def web_app(make_web_app: MakeWebApp) -> WebApp:
    return await make_web_app()
