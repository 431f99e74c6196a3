"""The mailer: real SMTP (aiosmtpd on loopback) or the outbox folder."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from simultan.errors import MailError
from simultan.eventdef import EventDefinition
from simultan.mail.mailer import Mailer, SmtpConfig, mailer_from_settings
from simultan.settings import Settings
from tests.mail.test_message import LINK, build, registration
from tests.web.conftest import smtp_server


async def test_smtp_delivers_the_join_mail(seminar: EventDefinition) -> None:
    msg = build(seminar)
    async with smtp_server() as (sink, port):
        await Mailer(smtp=SmtpConfig("127.0.0.1", port), outbox_dir=Path("unused")).send(msg)
    assert len(sink.messages) == 1
    assert sink.envelopes[0].rcpt_tos == ["kenji.mori@kitakyushu.example"]
    assert sink.envelopes[0].mail_from == "no-reply@seminar.example"
    received = sink.messages[0]
    plain = received.get_body(preferencelist=("plain",))
    assert plain is not None and LINK in plain.get_content()
    assert [a.get_filename() for a in received.iter_attachments()] == ["invite.ics"]


async def test_smtp_with_credentials(seminar: EventDefinition) -> None:
    async with smtp_server(credentials=("relay-user", "relay-pass")) as (sink, port):
        smtp = SmtpConfig("127.0.0.1", port, username="relay-user", password="relay-pass")
        await Mailer(smtp=smtp, outbox_dir=Path("unused")).send(build(seminar))
        assert sink.logins == ["relay-user"]
        assert len(sink.messages) == 1
        wrong = SmtpConfig("127.0.0.1", port, username="relay-user", password="nope")
        with pytest.raises(MailError):
            await Mailer(smtp=wrong, outbox_dir=Path("unused")).send(build(seminar))
        assert len(sink.messages) == 1


async def test_smtp_unreachable_raises_mail_error(seminar: EventDefinition) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        mailer = Mailer(smtp=SmtpConfig("127.0.0.1", port, timeout=5), outbox_dir=Path("x"))
        with pytest.raises(MailError) as caught:
            await mailer.send(build(seminar))
    assert caught.value.code == "mail_failed"


async def test_outbox_fallback_writes_an_eml(seminar: EventDefinition, tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox"  # created on first use
    mailer = Mailer(
        smtp=None, outbox_dir=outbox, clock=lambda: datetime(2026, 11, 20, 9, 0, 1, tzinfo=UTC)
    )
    await mailer.send(build(seminar))
    await mailer.send(build(seminar, registration(id="second")))
    files = sorted(outbox.iterdir())
    assert len(files) == 2
    for f in files:
        assert re.fullmatch(r"20261120T090001000000Z-[0-9a-f]{12}\.eml", f.name)
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["To"] == "Kenji Mori <kenji.mori@kitakyushu.example>"
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None and LINK in plain.get_content()


async def test_outbox_that_cannot_be_written(seminar: EventDefinition, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MailError):
        await Mailer(smtp=None, outbox_dir=blocker / "outbox").send(build(seminar))


def test_mailer_from_settings(tmp_path: Path) -> None:
    outbox = mailer_from_settings(Settings(outbox_dir=tmp_path, smtp_host=None))
    assert outbox.smtp is None and outbox.outbox_dir == tmp_path
    smtp = mailer_from_settings(
        Settings(
            smtp_host="mail.example",
            smtp_port=587,
            smtp_username="u",
            smtp_password="p",
            smtp_starttls=True,
        )
    )
    assert smtp.smtp == SmtpConfig("mail.example", 587, "u", "p", starttls=True)
    assert not smtp.smtp.implicit_tls
    assert SmtpConfig("mail.example", 465).implicit_tls
