"""The organizer's surface: registrations, approvals, roles, links.

GET  /organizer                                  the page (client/organizer.html)
GET  /api/admin/registrations                    {event, registrations} (emails only here)
POST /api/admin/registrations/{id}/approve       approve and mail the link
POST /api/admin/registrations/{id}/revoke        revoke; old links die; ON_REVOKE hooks run
POST /api/admin/registrations/{id}/role          {"role": ..., "booth": ...}; new link mailed
POST /api/admin/registrations/{id}/resend        mail a fresh link (same generation)

Every API call needs a Bearer join token with MANAGE_REGISTRATIONS. Actions that mail a link
also return it, so an organizer can pass it on another way when mail does not get through.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web

from simultan.core.capabilities import Capability, has
from simultan.core.registration import check_role_assignment
from simultan.errors import CommandError, ConflictError
from simultan.people import Person
from simultan.store.registrations import Registration, Status
from simultan.web.auth import bearer_person, registrations
from simultan.web.keys import CLOCK, EVENT, ON_REVOKE
from simultan.web.registration import (
    LANGUAGE_NAMES,
    html_response,
    read_json,
    render_page,
    send_join_mail,
)

log = logging.getLogger("simultan.web.admin")


async def _organizer(request: web.Request) -> Person:
    return await bearer_person(request, Capability.MANAGE_REGISTRATIONS)


async def _run_revoke_hooks(app: web.Application, person_id: str) -> None:
    for hook in app.get(ON_REVOKE, []):
        try:
            await hook(person_id)
        except Exception:
            # One failing hook must not keep the others (or the organizer's answer) from running.
            log.exception("! revoke hook %r failed for %s", hook, person_id)


async def _with_link(request: web.Request, registration: Registration) -> web.Response:
    outcome = await send_join_mail(request.app, registration)
    return web.json_response(
        {
            "registration": registration.as_json(),
            "mailed": outcome.mailed,
            "link": outcome.link.url,
            "expires_at": outcome.link.expires_at.isoformat(),
        }
    )


async def organizer_page(request: web.Request) -> web.Response:
    defn = request.app[EVENT]
    body = await render_page("organizer.html", {"title": html.escape(defn.event.title)})
    return html_response(body)


async def list_registrations(request: web.Request) -> web.Response:
    await _organizer(request)
    defn = request.app[EVENT]
    found = await registrations(request.app).list()
    return web.json_response(
        {
            "event": {
                "id": defn.event.id,
                "title": defn.event.title,
                "languages": [
                    {"code": code, "name": LANGUAGE_NAMES.get(code, code)}
                    for code in defn.languages
                ],
                "booths": [{"id": b.id, "language": b.language} for b in defn.booths],
            },
            "registrations": [r.as_json() for r in found],
        },
        headers={"Cache-Control": "no-store"},
    )


async def approve(request: web.Request) -> web.Response:
    by = await _organizer(request)
    repo = registrations(request.app)
    registration = await repo.approve(request.match_info["id"], now=request.app[CLOCK]())
    log.info("= registration %s approved by %s", registration.id, by.id)
    return await _with_link(request, registration)


async def revoke(request: web.Request) -> web.Response:
    by = await _organizer(request)
    registration_id = request.match_info["id"]
    if registration_id == by.id:
        raise CommandError("You cannot revoke your own access.")
    repo = registrations(request.app)
    registration = await repo.revoke(registration_id, now=request.app[CLOCK]())
    log.info("= registration %s revoked by %s", registration.id, by.id)
    await _run_revoke_hooks(request.app, registration.id)
    return web.json_response({"registration": registration.as_json()})


async def assign_role(request: web.Request) -> web.Response:
    by = await _organizer(request)
    registration_id = request.match_info["id"]
    data = await read_json(request)
    booths = [b.id for b in request.app[EVENT].booths]
    role, booth = check_role_assignment(data.get("role"), data.get("booth"), booths=booths)
    if registration_id == by.id and not has(role, Capability.MANAGE_REGISTRATIONS):
        raise CommandError("You cannot take away your own organizer role.")
    repo = registrations(request.app)
    registration = await repo.assign_role(registration_id, role, booth, now=request.app[CLOCK]())
    log.info("= registration %s is %s (%s) by %s", registration.id, role.value, booth, by.id)
    # Live connections still carry the old role: the hub closes them; the new link reopens.
    await _run_revoke_hooks(request.app, registration.id)
    if registration.status is not Status.APPROVED:
        return web.json_response({"registration": registration.as_json(), "mailed": False})
    return await _with_link(request, registration)


async def resend(request: web.Request) -> web.Response:
    await _organizer(request)
    registration = await registrations(request.app).get(request.match_info["id"])
    if registration.status is not Status.APPROVED:
        raise ConflictError(
            f"Only approved registrations have a join link (this one is {registration.status})."
        )
    return await _with_link(request, registration)


def setup(app: web.Application) -> None:
    app.router.add_get("/organizer", organizer_page)
    app.router.add_get("/api/admin/registrations", list_registrations)
    base = "/api/admin/registrations/{id}"
    app.router.add_post(f"{base}/approve", approve)
    app.router.add_post(f"{base}/revoke", revoke)
    app.router.add_post(f"{base}/role", assign_role)
    app.router.add_post(f"{base}/resend", resend)
