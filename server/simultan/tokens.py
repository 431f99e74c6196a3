"""Join tokens: signed, self-contained claims carried in each person's join link.

A token names the event, the person (their registration id), the role and booth it was
issued for, the registration's token generation and an expiry. It is signed with the
server's secret (itsdangerous, with a salt for this purpose only, so no other signed value
of ours can pass as a join token). Expiry is checked against an injected ``now``.

Decoding checks only what the token itself proves; whether the registration still stands
(approved, same generation) is checked by ``simultan.web.auth``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadData, BadPayload, BadSignature, URLSafeSerializer

from simultan.core.capabilities import Role
from simultan.errors import AuthError

SALT = "simultan.join-token.v1"
# What our tokens look like: URL-safe base64 payload, a dot, URL-safe base64 signature.
_SHAPE = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Claims:
    event_id: str
    person_id: str
    role: Role
    booth: str | None
    generation: int
    expires_at: datetime  # aware


class JoinTokens:
    """Issues and decodes the join tokens of one event."""

    def __init__(self, secret: str, event_id: str) -> None:
        if not secret:
            raise ValueError("a join-token secret is required")
        self.event_id = event_id
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def issue(self, claims: Claims) -> str:
        if claims.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        payload = {
            "e": claims.event_id,
            "p": claims.person_id,
            "r": claims.role.value,
            "b": claims.booth,
            "g": claims.generation,
            "x": int(claims.expires_at.timestamp()),
        }
        token = self._serializer.dumps(payload)
        assert isinstance(token, str)
        return token

    def decode(self, token: str, now: datetime) -> Claims:
        """The claims of a genuine, unexpired token of this event; AuthError otherwise."""
        if len(token) > 2048 or not _SHAPE.fullmatch(token):
            raise _malformed()
        try:
            payload = self._serializer.loads(token)
        except BadPayload as exc:
            # The signature matched but the content does not decode: not one of our tokens.
            raise _malformed() from exc
        except BadSignature as exc:
            raise AuthError(
                "This join link is not valid: it was changed or cut short. "
                "Open the link exactly as it was mailed to you.",
                details={"reason": "tampered"},
            ) from exc
        except BadData as exc:
            raise _malformed() from exc
        claims = _claims(payload)
        if claims.event_id != self.event_id:
            raise AuthError(
                "This join link is for another event.", details={"reason": "foreign_event"}
            )
        if now >= claims.expires_at:
            raise AuthError(
                "This join link has expired. Ask the organizers for a new one.",
                details={"reason": "expired"},
            )
        return claims


def _malformed() -> AuthError:
    return AuthError("This join link is malformed.", details={"reason": "malformed"})


def _claims(payload: Any) -> Claims:
    try:
        if not isinstance(payload, dict):
            raise TypeError(payload)
        event_id, person_id = payload["e"], payload["p"]
        booth, generation, expiry = payload["b"], payload["g"], payload["x"]
        if not (isinstance(event_id, str) and isinstance(person_id, str)):
            raise TypeError(payload)
        if booth is not None and not isinstance(booth, str):
            raise TypeError(payload)
        if type(generation) is not int or type(expiry) is not int:
            raise TypeError(payload)
        return Claims(
            event_id=event_id,
            person_id=person_id,
            role=Role(payload["r"]),
            booth=booth,
            generation=generation,
            expires_at=datetime.fromtimestamp(expiry, UTC),
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise _malformed() from exc
