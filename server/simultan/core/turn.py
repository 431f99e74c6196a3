"""Ephemeral TURN credentials (the TURN REST scheme coturn checks with ``use-auth-secret``).

The user name is ``<expiry as a Unix time>:<person id>`` and the password is
``base64(HMAC-SHA1(secret, user name))``. The TURN server knows only the shared secret: it
recomputes the password and refuses a user name whose expiry has passed, so a leaked
credential stops working by itself. Expiry: ``ttl`` from now, but never later than the
event's end plus an hour (a link forwarded after the event cannot relay media).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

AFTER_EVENT = timedelta(hours=1)


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires: datetime


def turn_credential(
    secret: str, person_id: str, now: datetime, *, ttl: timedelta, event_end: datetime
) -> TurnCredential:
    """A credential for ``person_id`` valid until min(now + ttl, event_end + 1 h).

    For an event long over the expiry is already past: the TURN server refuses it.
    """
    if now.tzinfo is None or event_end.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    expires = min(now + ttl, event_end + AFTER_EVENT)
    username = f"{int(expires.timestamp())}:{person_id}"
    return TurnCredential(username, password_for(secret, username), expires)


def password_for(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_servers(
    stun_urls: tuple[str, ...],
    turn_urls: tuple[str, ...],
    credential: TurnCredential | None,
) -> list[dict[str, object]]:
    """The page's ``RTCPeerConnection`` ``iceServers``: STUN as is, TURN with the credential."""
    servers: list[dict[str, object]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and credential is not None:
        servers.append(
            {
                "urls": list(turn_urls),
                "username": credential.username,
                "credential": credential.credential,
            }
        )
    return servers
