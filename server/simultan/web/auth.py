"""Who is calling: join tokens checked against the stored registration.

A token proves what it was issued for; the registration row decides whether that still
stands. A token is refused when its registration is gone, not approved, revoked, or has moved
on to a newer token generation (a new role, a revocation).

Link lifetime: a join link is mailed at registration, often weeks ahead, and must still open
the event on the day. It therefore lives until one day after the event's last agenda item
ends, and at least ``settings.token_ttl_hours`` from issue (for links issued close to or
after the event, e.g. in the demo). Revocation, not expiry, is how a leaked link is stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from simultan.core.capabilities import Capability
from simultan.errors import AuthError, ForbiddenError, NotFoundError
from simultan.eventdef import EventDefinition, item_duration
from simultan.people import Person
from simultan.store.registrations import Registration, Registrations, Status
from simultan.tokens import Claims, JoinTokens
from simultan.web.keys import CLOCK, DB, EVENT, SETTINGS

TOKENS = web.AppKey("tokens", JoinTokens)

# Links stay usable this long after the event's last agenda item ends.
AFTER_EVENT = timedelta(days=1)


@dataclass(frozen=True)
class JoinLink:
    url: str
    token: str
    expires_at: datetime


def registrations(app: web.Application) -> Registrations:
    return Registrations(app[DB], app[EVENT].event.id)


def event_end(defn: EventDefinition) -> datetime:
    return max(defn.planned_start(item) + item_duration(item) for item in defn.agenda)


def link_expiry(app: web.Application, now: datetime) -> datetime:
    ttl = timedelta(hours=app[SETTINGS].token_ttl_hours)
    return max(now + ttl, event_end(app[EVENT]) + AFTER_EVENT)


def join_link(app: web.Application, registration: Registration) -> JoinLink:
    """A fresh signed link for the registration's current role and generation."""
    expires_at = link_expiry(app, app[CLOCK]())
    token = app[TOKENS].issue(
        Claims(
            event_id=registration.event_id,
            person_id=registration.id,
            role=registration.role,
            booth=registration.booth,
            generation=registration.token_generation,
            expires_at=expires_at,
        )
    )
    return JoinLink(f"{app[SETTINGS].base_url}/join/{token}", token, expires_at)


def link_for(app: web.Application, registration: Registration) -> str:
    return join_link(app, registration).url


async def authenticated_registration(app: web.Application, token: str) -> Registration:
    """The registration a token admits; AuthError with the reason when it admits nobody."""
    claims = app[TOKENS].decode(token, app[CLOCK]())
    try:
        registration = await registrations(app).get(claims.person_id)
    except NotFoundError:
        raise AuthError(
            "This join link no longer admits anyone: the registration was removed.",
            details={"reason": "unknown_person"},
        ) from None
    if registration.status is Status.REVOKED:
        raise AuthError(
            "This join link was revoked. Ask the organizers if you think this is a mistake.",
            details={"reason": "revoked"},
        )
    if registration.status is not Status.APPROVED:
        raise AuthError(
            "Your registration is waiting for the organizers' approval.",
            details={"reason": "not_approved"},
        )
    if claims.generation != registration.token_generation or claims.role is not registration.role:
        raise AuthError(
            "This join link was replaced by a newer one: use the link in your most recent mail.",
            details={"reason": "replaced"},
        )
    return registration


async def authenticate(app: web.Application, token: str) -> Person:
    return (await authenticated_registration(app, token)).person


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "Sign in with your join link (Authorization: Bearer <token>).",
            details={"reason": "missing"},
        )
    return token.strip()


async def bearer_person(request: web.Request, capability: Capability) -> Person:
    """The caller of an API handler, who must hold ``capability`` (ForbiddenError if not)."""
    person = await authenticate(request.app, bearer_token(request))
    if not person.can(capability):
        raise ForbiddenError(f"This needs the {capability.value} permission.")
    return person
