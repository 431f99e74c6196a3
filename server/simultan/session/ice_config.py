"""The ICE servers each tab is given (``rtc_config``): STUN as configured, TURN with an
ephemeral credential for that person (:mod:`simultan.core.turn`).

The TURN server checks the credential's expiry against its own clock, so expiry is computed
from the real time, not the session's (a test or a demo may move the session's clock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from simultan.core.turn import ice_servers, turn_credential
from simultan.people import Person
from simultan.settings import Settings

RtcConfigFor = Callable[[Person], dict[str, Any]]


def rtc_config_for(
    settings: Settings,
    event_end: datetime,
    *,
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RtcConfigFor:
    secret = settings.turn_secret.get_secret_value() if settings.turn_secret else None
    ttl = timedelta(hours=settings.turn_ttl_hours)

    def config(person: Person) -> dict[str, Any]:
        credential = None
        if secret and settings.turn_urls:
            credential = turn_credential(
                secret, person.id, wall_clock(), ttl=ttl, event_end=event_end
            )
        return {
            "ice_servers": ice_servers(settings.stun_urls, settings.turn_urls, credential),
            "ice_transport_policy": settings.ice_transport_policy,
            "expires": credential.expires.isoformat() if credential else None,
        }

    return config
