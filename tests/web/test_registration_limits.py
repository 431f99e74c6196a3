"""Registration against abuse: rate limits per client address and per mailbox (429 with
Retry-After, nothing stored, nothing mailed), and bodies that used to crash the handler."""

from __future__ import annotations

from simultan.core.registration import mailbox
from simultan.web.auth import registrations
from tests.web.conftest import MakeWebApp, WebApp
from tests.web.test_registration import FORM


def test_mailbox_ignores_plus_tags_trailing_dots_and_case() -> None:
    same = {
        mailbox(a) for a in ("ana@x.org", "Ana+seminar@X.org", "ana+1+2@x.org.", " ana@x.org.. ")
    }
    assert same == {"ana@x.org"}
    assert mailbox("ana.b@x.org") != mailbox("ana@x.org")


async def test_per_mailbox_limit_counts_plus_addresses_as_one(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(registrations_per_mailbox_per_hour=2)
    answers = []
    for address in ("ana@x.org", "ana+a@x.org", "Ana+b@X.org.", "ana+c@x.org"):
        r = await app.client.post("/api/registrations", json={**FORM, "email": address})
        answers.append(r.status)
        if r.status == 429:
            body = await r.json()
            assert body["error"] == "rate_limited" and body["retry_after"] > 0
            assert int(r.headers["Retry-After"]) >= 1
    assert answers == [201, 201, 429, 429]
    assert len(await registrations(app.app).list()) == 2
    assert len(app.mails) == 2
    other = await app.client.post("/api/registrations", json={**FORM, "email": "bo@x.org"})
    assert other.status == 201  # another mailbox is not held back


async def test_repeats_cannot_mail_bomb_a_registered_address(web_app: WebApp) -> None:
    statuses = [
        (await web_app.client.post("/api/registrations", json=FORM)).status for _ in range(6)
    ]
    assert statuses == [201, 201, 201, 429, 429, 429]  # the default: 3 an hour per mailbox
    assert len(web_app.mails) == 3


async def test_per_address_limit(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(registrations_per_address_per_hour=3)
    statuses = []
    for n in range(5):
        r = await app.client.post("/api/registrations", json={**FORM, "email": f"p{n}@x.org"})
        statuses.append(r.status)
    assert statuses == [201, 201, 201, 429, 429]
    form = await app.client.post("/register", data=FORM, headers={"Accept": "text/html"})
    assert form.status == 429 and "Retry-After" in form.headers  # the form too
    assert len(await registrations(app.app).list()) == 3


async def test_nested_json_and_lone_surrogates_are_typed_errors(web_app: WebApp) -> None:
    headers = {"Content-Type": "application/json"}
    for body in (
        "[" * 5000 + "]" * 5000,  # json itself recurses: this was a 500
        '{"name": ' + "[" * 50 + "]" * 50 + "}",
        '{"name": "\\ud800", "email": "a@x.org"}',  # a lone surrogate: this was a 500
        '{"name": "Ana", "city": "\\udfff\\ud800"}',
    ):
        r = await web_app.client.post("/api/registrations", data=body, headers=headers)
        assert r.status == 422, (body[:40], await r.text())
        assert (await r.json())["error"] == "invalid_input"
    assert await registrations(web_app.app).list() == []
    ok = await web_app.client.post(
        "/api/registrations",
        data='{"name": "Ana \\ud83d\\ude00", "email": "ana@x.org", "city": "Lagos", '
        '"country": "NG", "language": "en", "timezone": "Africa/Lagos"}',
        headers=headers,
    )
    assert ok.status == 201, await ok.text()  # a surrogate pair is a real character
