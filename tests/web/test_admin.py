"""The organizer's API and page, and what join links do after approvals, revocations, roles."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

from simultan.core.capabilities import Role
from simultan.store.registrations import Registration, Status
from simultan.tokens import Claims, JoinTokens
from simultan.web.auth import registrations
from simultan.web.keys import EVENT, ON_REVOKE
from tests.web.conftest import SECRET, MakeWebApp, WebApp, join_path, token_of

HTML = {"Accept": "text/html"}
BASE = "/api/admin/registrations"


async def register(app: WebApp, name: str, email: str, **extra: str) -> Registration:
    form = {
        "name": name,
        "email": email,
        "city": "Kitakyushu",
        "country": "Japan",
        "language": "ja",
        "timezone": "Asia/Tokyo",
        **extra,
    }
    response = await app.client.post("/api/registrations", json=form)
    assert response.status == 201, await response.text()
    found = await registrations(app.app).get_by_email(email.lower())
    assert found is not None
    return found


async def post(app: WebApp, token: str, path: str, json: object = None) -> tuple[int, dict]:
    response = await app.client.post(path, json=json, headers=app.bearer(token))
    return response.status, await response.json()


async def test_list_shows_registrations_with_emails_to_organizers(web_app: WebApp) -> None:
    _org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    await register(web_app, "Kenji <b>Mori</b>", "kenji@kitakyushu.example")
    response = await web_app.client.get(BASE, headers=web_app.bearer(token))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["event"]["id"] == "iuc-city-to-city"
    assert [b["id"] for b in body["event"]["booths"]] == ["zh", "ja", "es"]
    assert [lang["code"] for lang in body["event"]["languages"]] == ["en", "zh", "ja", "es"]
    people = {r["email"]: r for r in body["registrations"]}
    assert set(people) == {"olga.organizer@seed.example", "kenji@kitakyushu.example"}
    kenji = people["kenji@kitakyushu.example"]
    assert kenji["name"] == "Kenji <b>Mori</b>"
    assert kenji["status"] == "approved" and kenji["role"] == "participant"
    assert "token" not in kenji and "token_generation" not in kenji


async def test_api_needs_a_token(web_app: WebApp) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = await web_app.client.get(BASE, headers={"Accept": "application/json", **headers})
        assert response.status == 401
        body = await response.json()
        assert body == {
            "error": "unauthorized",
            "message": "Sign in with your join link (Authorization: Bearer <token>).",
            "reason": "missing",
        }
    response = await web_app.client.get(BASE, headers=web_app.bearer("forged.token"))
    assert response.status == 401
    assert (await response.json())["reason"] == "tampered"


@pytest.mark.parametrize(
    ("role", "booth"),
    [
        (Role.PARTICIPANT, None),
        (Role.PANELIST, None),
        (Role.INTERPRETER, "zh"),
        (Role.MODERATOR, None),
    ],
)
async def test_non_organizers_are_forbidden_and_see_nothing(
    web_app: WebApp, role: Role, booth: str | None
) -> None:
    organizer, org_token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    victim = await register(web_app, "Vera Victim", "vera@victim.example")
    _me, token = await web_app.seed(role, "Mallory", booth=booth)
    secrets = [organizer.email, victim.email, org_token, token_of(join_path(web_app.mails[0]))]
    requests = [("GET", BASE, None)] + [
        ("POST", f"{BASE}/{victim.id}/{action}", body)
        for action, body in [
            ("approve", None),
            ("revoke", None),
            ("resend", None),
            ("role", {"role": "organizer"}),
        ]
    ]
    for method, path, body in requests:
        response = await web_app.client.request(
            method, path, json=body, headers=web_app.bearer(token)
        )
        assert response.status == 403, path
        text = await response.text()
        assert (await response.json())["error"] == "forbidden"
        for secret in secrets:
            assert secret not in text
    assert web_app.revoked == []
    assert len(web_app.mails) == 1
    unchanged = await registrations(web_app.app).get(victim.id)
    assert (unchanged.status, unchanged.role) == (Status.APPROVED, Role.PARTICIPANT)


async def test_public_responses_never_carry_other_peoples_emails_or_tokens(
    web_app: WebApp,
) -> None:
    await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    victim = await register(web_app, "Vera Victim", "vera@victim.example")
    victim_token = token_of(join_path(web_app.mails[0]))
    responses = [
        await web_app.client.get("/register", headers=HTML),
        await web_app.client.get("/organizer", headers=HTML),
        await web_app.client.post("/api/registrations", json={"email": "vera@victim.example"}),
        await web_app.client.post(
            "/api/registrations",
            json={
                "name": "Eve",
                "email": "vera@victim.example",
                "city": "X",
                "country": "Y",
                "language": "en",
                "timezone": "UTC",
            },
        ),
        await web_app.client.get(f"/join/{victim_token[:-3]}xyz", headers=HTML),
    ]
    for response in responses:
        text = await response.text()
        assert "olga.organizer@seed.example" not in text
        assert victim_token not in text
        assert victim.id not in text


async def test_approve_pending_mails_a_working_link(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(require_approval=True)
    _org, token = await app.seed(Role.ORGANIZER, "Olga Organizer")
    pending = await register(app, "Kenji Mori", "kenji@kitakyushu.example")
    assert pending.status is Status.PENDING and app.mails == []
    status, body = await post(app, token, f"{BASE}/{pending.id}/approve")
    assert status == 200
    assert body["registration"]["status"] == "approved"
    assert body["mailed"] is True
    assert len(app.mails) == 1
    path = join_path(app.mails[0])
    assert body["link"].endswith(path)
    joined = await app.client.get(path, allow_redirects=False)
    assert joined.headers["Location"] == f"/stage#token={token_of(path)}"


async def test_revoke_kills_old_links_and_runs_hooks(web_app: WebApp) -> None:
    _org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    kenji = await register(web_app, "Kenji Mori", "kenji@kitakyushu.example")
    path = join_path(web_app.mails[0])
    assert (await web_app.client.get(path, allow_redirects=False)).status == 303

    status, body = await post(web_app, token, f"{BASE}/{kenji.id}/revoke")
    assert status == 200
    assert body["registration"]["status"] == "revoked"
    assert web_app.revoked == [kenji.id]

    refused = await web_app.client.get(path, allow_redirects=False, headers=HTML)
    assert refused.status == 401
    assert refused.content_type == "text/html"
    page = await refused.text()
    assert "This link was revoked" in page
    assert "This join link was revoked" in page
    assert refused.headers["Cache-Control"] == "no-store"
    api = await web_app.client.get(BASE, headers=web_app.bearer(token_of(path)))
    assert api.status == 401
    assert (await api.json())["reason"] == "revoked"

    # Approving again readmits the person with a new link; the revoked one stays dead.
    status, body = await post(web_app, token, f"{BASE}/{kenji.id}/approve")
    assert status == 200 and body["mailed"] is True
    new_path = join_path(web_app.mails[-1])
    assert (await web_app.client.get(new_path, allow_redirects=False)).status == 303
    again = await web_app.client.get(path, allow_redirects=False, headers=HTML)
    assert again.status == 401
    assert "replaced by a newer one" in await again.text()


async def test_role_assignment_issues_a_new_link_and_retires_the_old(web_app: WebApp) -> None:
    _org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    li = await register(
        web_app, "Li Wei", "li.wei@interpreters.example", requested_role="interpreter"
    )
    old = join_path(web_app.mails[0])

    status, body = await post(
        web_app, token, f"{BASE}/{li.id}/role", {"role": "interpreter", "booth": "zh"}
    )
    assert status == 200
    assert body["registration"]["role"] == "interpreter"
    assert body["registration"]["booth"] == "zh"
    assert body["mailed"] is True
    assert web_app.revoked == [li.id]
    new = join_path(web_app.mails[-1])
    # Li Wei registered to listen in Japanese: the mail names the role in Japanese
    assert "通訳者（zhブース）" in web_app.mails[-1].get_body(("plain",)).get_content()

    joined = await web_app.client.get(new, allow_redirects=False)
    assert joined.status == 303
    assert joined.headers["Location"] == f"/booth#token={token_of(new)}"
    refused = await web_app.client.get(old, allow_redirects=False, headers=HTML)
    assert refused.status == 401
    assert "This link was replaced" in await refused.text()

    status, body = await post(web_app, token, f"{BASE}/{li.id}/role", {"role": "moderator"})
    assert status == 200 and body["registration"]["booth"] is None
    newest = join_path(web_app.mails[-1])
    moderator = await web_app.client.get(newest, allow_redirects=False)
    assert moderator.headers["Location"] == f"/control#token={token_of(newest)}"
    assert (await web_app.client.get(new, allow_redirects=False)).status == 401


async def test_role_assignment_is_validated(web_app: WebApp) -> None:
    _org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    kenji = await register(web_app, "Kenji Mori", "kenji@kitakyushu.example")
    cases = [
        ({"role": "interpreter"}, {"booth": "is required for an interpreter"}),
        (
            {"role": "interpreter", "booth": "fr"},
            {"booth": "must be one of the event's booths: zh, ja, es"},
        ),
        ({"role": "participant", "booth": "zh"}, {"booth": "only interpreters have a booth"}),
        ({"role": "emperor"}, {"role": "must be one of " + ", ".join(Role)}),
    ]
    for payload, fields in cases:
        status, body = await post(web_app, token, f"{BASE}/{kenji.id}/role", payload)
        assert status == 422
        assert body["error"] == "invalid_input" and body["fields"] == fields
    response = await web_app.client.post(
        f"{BASE}/{kenji.id}/role", data="role=x", headers=web_app.bearer(token)
    )
    assert response.status == 415
    assert web_app.revoked == []
    assert (await registrations(web_app.app).get(kenji.id)).token_generation == 0


async def test_resend_mails_a_fresh_link_and_keeps_the_old(web_app: WebApp) -> None:
    _org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    kenji = await register(web_app, "Kenji Mori", "kenji@kitakyushu.example")
    first = join_path(web_app.mails[0])
    web_app.clock.advance(seconds=5)
    status, body = await post(web_app, token, f"{BASE}/{kenji.id}/resend")
    assert status == 200 and body["mailed"] is True
    second = join_path(web_app.mails[1])
    for path in (first, second):
        assert (await web_app.client.get(path, allow_redirects=False)).status == 303
    assert web_app.revoked == []


async def test_resend_needs_an_approved_registration(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(require_approval=True)
    _org, token = await app.seed(Role.ORGANIZER, "Olga Organizer")
    pending = await register(app, "Kenji Mori", "kenji@kitakyushu.example")
    status, body = await post(app, token, f"{BASE}/{pending.id}/resend")
    assert status == 409
    assert "Only approved registrations" in body["message"]
    assert app.mails == []


async def test_organizer_cannot_lock_themselves_out(web_app: WebApp) -> None:
    org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    status, body = await post(web_app, token, f"{BASE}/{org.id}/revoke")
    assert status == 422 and "your own access" in body["message"]
    status, body = await post(web_app, token, f"{BASE}/{org.id}/role", {"role": "participant"})
    assert status == 422 and "your own organizer role" in body["message"]
    assert (await web_app.client.get(BASE, headers=web_app.bearer(token))).status == 200


async def test_unknown_registration_is_404(web_app: WebApp) -> None:
    _org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    for action in ("approve", "revoke", "resend"):
        status, body = await post(web_app, token, f"{BASE}/no-such-id/{action}")
        assert status == 404 and body["error"] == "not_found"
    assert web_app.revoked == []


async def test_revoke_hook_failure_does_not_break_the_answer(web_app: WebApp) -> None:
    _org, token = await web_app.seed(Role.ORGANIZER, "Olga Organizer")
    kenji = await register(web_app, "Kenji Mori", "kenji@kitakyushu.example")

    async def broken(person_id: str) -> None:
        raise RuntimeError("hub is down")

    web_app.app[ON_REVOKE].insert(0, broken)
    status, _body = await post(web_app, token, f"{BASE}/{kenji.id}/revoke")
    assert status == 200
    assert web_app.revoked == [kenji.id]  # the next hook still ran


async def test_organizer_page(web_app: WebApp) -> None:
    response = await web_app.client.get("/organizer", headers=HTML)
    assert response.status == 200
    page = await response.text()
    assert f"<h1>{html.escape(web_app.app[EVENT].event.title)}</h1>" in page
    assert '<script type="module" src="/static/js/ui/organizer.js"></script>' in page
    assert "{{" not in page


async def test_join_landing_per_role(web_app: WebApp) -> None:
    expected = {
        Role.PARTICIPANT: "/stage",
        Role.PANELIST: "/stage",
        Role.INTERPRETER: "/booth",
        Role.MODERATOR: "/control",
        Role.ORGANIZER: "/organizer",
    }
    for role, page in expected.items():
        booth = "es" if role is Role.INTERPRETER else None
        _reg, token = await web_app.seed(role, f"Person {role.value}", booth=booth)
        response = await web_app.client.get(f"/join/{token}", allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == f"{page}#token={token}"


async def test_join_refusals_explain_themselves(web_app: WebApp) -> None:
    reg, token = await web_app.seed(Role.PARTICIPANT, "Pat")
    other_event = JoinTokens(SECRET, "lodz-partner-cities-forum")
    expires = web_app.clock() + timedelta(days=1)
    foreign = other_event.issue(
        Claims("lodz-partner-cities-forum", reg.id, Role.PARTICIPANT, None, 0, expires)
    )
    cases = [
        (token[:-4] + "AAAA", "This link is not valid", "changed or cut short"),
        ("%%%", "This link is not valid", "malformed"),
        (foreign, "This link is for another event", "for another event"),
    ]
    for bad, title, words in cases:
        response = await web_app.client.get(f"/join/{bad}", allow_redirects=False, headers=HTML)
        assert response.status == 401
        page = await response.text()
        assert f"<h1>{title}</h1>" in page and words in page
    web_app.clock.advance(days=400)
    response = await web_app.client.get(f"/join/{token}", allow_redirects=False, headers=HTML)
    assert response.status == 401
    assert "This link has expired" in await response.text()
