"""GET /join/{token}: the link in the mail. Checks the token, then sends the browser on.

The token moves from the path into the fragment of the landing page (``/stage#token=...``):
a fragment is never sent to a server nor in a Referer header, so it does not end up in the
logs of anything the page loads. Failures show a page that says what is wrong (401).
"""

from __future__ import annotations

from aiohttp import web

from simultan.core.capabilities import Role
from simultan.errors import AuthError
from simultan.web.auth import authenticate
from simultan.web.errors import error_page

# The page each role lands on.
LANDING: dict[Role, str] = {
    Role.PARTICIPANT: "/stage",
    Role.PANELIST: "/stage",
    Role.INTERPRETER: "/booth",
    Role.MODERATOR: "/control",
    Role.ORGANIZER: "/organizer",
}

_TITLES = {
    "expired": "This link has expired",
    "revoked": "This link was revoked",
    "replaced": "This link was replaced",
    "foreign_event": "This link is for another event",
    "not_approved": "Not approved yet",
}

_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def join(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    try:
        person = await authenticate(request.app, token)
    except AuthError as exc:
        reason = str(exc.details.get("reason", ""))
        response = error_page(_TITLES.get(reason, "This link is not valid"), exc.message, 401)
        response.headers.update(_PRIVATE)
        return response
    # ``?next=b2b`` (the link in a B2B notice) opens the B2B page instead.
    landing = "/b2b" if request.query.get("next") == "b2b" else LANDING[person.role]
    location = f"{landing}#token={token}"
    return web.Response(status=303, headers={"Location": location, **_PRIVATE})


def setup(app: web.Application) -> None:
    app.router.add_get("/join/{token}", join)
