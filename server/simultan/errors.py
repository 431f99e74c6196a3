"""One exception tree for Simultan.

SimultanError
├── ConfigError          a settings or event-definition file is invalid (names field and line)
├── ProtocolError        a websocket message is malformed, unknown or too large
│   └── BadOffer         a WebRTC offer the media plane could not negotiate
├── AuthError            a join token is missing, tampered, expired, revoked or foreign
├── ForbiddenError       the caller lacks the capability a command needs
├── ConflictError        a command was based on a stale version
├── CommandError         a command is well formed but not allowed in the current state
├── ValidationError      user input (registration form, API body) is invalid, per field
├── NotFoundError        a referenced object does not exist
├── BodyTooLarge         an HTTP body over its limit (413)
├── UnsupportedMediaType an HTTP body of the wrong content type (415)
├── RateLimited          too many actions of one kind; ``details.retry_after`` seconds (429)
└── MailError            a mail could not be handed to SMTP nor written to the outbox (502)

Each error has a stable ``code`` used on the wire (``error`` messages) and an HTTP status;
``simultan.web.errors`` is the one place that maps them to responses.
"""

from __future__ import annotations


class SimultanError(Exception):
    code = "internal"
    http_status = 500

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConfigError(SimultanError):
    code = "config"
    http_status = 500

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message, details={"problems": problems or []})
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class ProtocolError(SimultanError):
    code = "bad_message"
    http_status = 400
    # the ``type`` of a message that failed validation (a bad hello is an auth failure)
    message_type: str | None = None


class BadOffer(ProtocolError):
    """aiortc refused or failed on an offer (or a renegotiation): the tab's fault or ours,
    answered as ``bad_offer`` so the page can re-offer on a fresh peer connection."""

    code = "bad_offer"


class AuthError(SimultanError):
    code = "unauthorized"
    http_status = 401


class ForbiddenError(SimultanError):
    code = "forbidden"
    http_status = 403


class ConflictError(SimultanError):
    code = "conflict"
    http_status = 409


class CommandError(SimultanError):
    code = "invalid_command"
    http_status = 422


class ValidationError(SimultanError):
    code = "invalid_input"
    http_status = 422

    def __init__(self, message: str, *, fields: dict[str, str]) -> None:
        super().__init__(message, details={"fields": fields})
        self.fields = fields


class NotFoundError(SimultanError):
    code = "not_found"
    http_status = 404


class BodyTooLarge(SimultanError):
    code = "too_large"
    http_status = 413


class UnsupportedMediaType(SimultanError):
    code = "unsupported_media_type"
    http_status = 415


class RateLimited(SimultanError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        wait = max(0.1, round(retry_after + 0.05, 1))
        super().__init__(message, details={"retry_after": wait})
        self.retry_after = wait


class MailError(SimultanError):
    """A message could not be handed to the SMTP server nor written to the outbox."""

    code = "mail_failed"
    http_status = 502
