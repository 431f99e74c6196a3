"""Sending mail: through SMTP when a host is configured, else into an outbox folder.

The outbox fallback (one ``.eml`` file per message) lets the demo and a machine without
a mail relay run the whole registration flow; an operator can forward the files later.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from aiohttp import web

from simultan.errors import MailError
from simultan.settings import Settings

log = logging.getLogger("simultan.mail")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30.0

    @property
    def implicit_tls(self) -> bool:
        # Port 465 ("submissions") speaks TLS from the first byte; others upgrade or not.
        return self.port == 465


class Mailer:
    def __init__(
        self,
        *,
        smtp: SmtpConfig | None,
        outbox_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.smtp = smtp
        self.outbox_dir = outbox_dir
        self._clock = clock

    async def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg`` (SMTP) or store it (outbox); MailError when neither works."""
        if self.smtp is None:
            path = await asyncio.to_thread(self._write_outbox, msg)
            log.info("> mail %s to outbox %s", msg["Message-ID"], path)
            return
        smtp = self.smtp
        try:
            await aiosmtplib.send(
                msg,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=smtp.implicit_tls,
                start_tls=smtp.starttls and not smtp.implicit_tls,
                timeout=smtp.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning(
                "! mail %s via %s:%s failed: %s", msg["Message-ID"], smtp.host, smtp.port, exc
            )
            raise MailError(f"The mail server did not accept the message ({exc}).") from exc
        log.info("> mail %s via %s:%s", msg["Message-ID"], smtp.host, smtp.port)

    def _write_outbox(self, msg: EmailMessage) -> Path:
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            stamp = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            path = self.outbox_dir / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
            # Written under a temporary name and renamed: a reader never sees half a mail.
            partial = path.with_suffix(".eml.part")
            partial.write_bytes(msg.as_bytes())
            os.replace(partial, path)
        except OSError as exc:
            raise MailError(f"The mail could not be written to the outbox ({exc}).") from exc
        return path


def mailer_from_settings(settings: Settings) -> Mailer:
    smtp = None
    if settings.smtp_host:
        smtp = SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
    return Mailer(smtp=smtp, outbox_dir=settings.outbox_dir)


MAILER = web.AppKey("mailer", Mailer)
