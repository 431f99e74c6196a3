"""Ephemeral TURN credentials (the TURN REST scheme coturn checks), with explicit times."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from simultan.core.turn import ice_servers, turn_credential

NOW = datetime(2026, 12, 3, 8, tzinfo=UTC)


def test_user_name_is_expiry_and_person_password_is_hmac_sha1() -> None:
    c = turn_credential(
        "s3cret", "p1", NOW, ttl=timedelta(hours=2), event_end=NOW + timedelta(days=1)
    )
    assert c.expires == NOW + timedelta(hours=2)
    assert c.username == f"{int(c.expires.timestamp())}:p1"
    expected = base64.b64encode(hmac.new(b"s3cret", c.username.encode(), hashlib.sha1).digest())
    assert c.credential == expected.decode()


def test_never_valid_past_the_event_end_plus_an_hour() -> None:
    end = NOW + timedelta(minutes=30)
    c = turn_credential("s", "p1", NOW, ttl=timedelta(hours=12), event_end=end)
    assert c.expires == end + timedelta(hours=1)
    over = turn_credential(
        "s", "p1", NOW, ttl=timedelta(hours=12), event_end=NOW - timedelta(hours=3)
    )
    assert over.expires < NOW  # already expired: the TURN server refuses it


def test_ice_servers_for_the_page() -> None:
    c = turn_credential("s", "p1", NOW, ttl=timedelta(hours=1), event_end=NOW)
    assert ice_servers((), (), None) == []
    servers = ice_servers(("stun:t.example:3478",), ("turns:t.example:443?transport=tcp",), c)
    assert servers == [
        {"urls": ["stun:t.example:3478"]},
        {
            "urls": ["turns:t.example:443?transport=tcp"],
            "username": c.username,
            "credential": c.credential,
        },
    ]
    assert ice_servers((), ("turn:t.example:3478",), None) == []  # no secret, no TURN
