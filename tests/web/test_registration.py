"""Registration over HTTP: the form, the JSON API, the mail, and the link it carries."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from simultan.core.capabilities import Role
from simultan.store.registrations import Status
from simultan.web.auth import registrations
from simultan.web.keys import EVENT, SETTINGS
from tests.conftest import free_port
from tests.web.conftest import BASE_URL, MakeWebApp, WebApp, join_path, token_of

FORM = {
    "name": "Amara Okafor",
    "email": "Amara.Okafor@Lagos.example",
    "city": "Lagos",
    "country": "Nigeria",
    "organization": "Lagos State Ministry of Environment",
    "requested_role": "participant",
    "language": "en",
    "timezone": "Africa/Lagos",
}
HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_form_page_shows_event_and_its_languages(web_app: WebApp) -> None:
    response = await web_app.client.get("/register", headers=HTML)
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    title = web_app.app[EVENT].event.title
    assert f"<h1>{html.escape(title)}</h1>" in page
    for code, label in [("en", "English"), ("zh", "中文"), ("ja", "日本語"), ("es", "Español")]:
        assert f'<option value="{code}">{label}</option>' in page or (
            f'<option value="{code}" selected>{label}</option>' in page
        )
    assert '<option value="fr"' not in page
    assert '<option value="Europe/Brussels" selected>' in page  # the event's zone by default
    assert '<form class="card register-form" method="post" action="/register?lang=en"' in page
    assert "{{" not in page


async def test_form_speaks_the_browsers_language_and_says_when(web_app: WebApp) -> None:
    headers = {**HTML, "Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}
    page = await (await web_app.client.get("/register", headers=headers)).text()
    assert '<html lang="ja">' in page
    assert "<h2>参加登録</h2>" in page and '<label for="name">お名前</label>' in page
    assert "参加者（都市代表）" in page  # the role labels too
    # when the event takes place, in the event's zone, the Japanese way
    assert "2026年12月3日木曜日 09:00–17:30（Europe/Brussels、会場の時刻）" in page
    assert 'data-start="2026-12-03T08:00:00+00:00"' in page  # for the visitor's own time
    assert 'action="/register?lang=ja"' in page
    # ?lang= wins over the browser; a language without catalog falls back to English
    page = await (await web_app.client.get("/register?lang=es", headers=headers)).text()
    assert '<html lang="es">' in page and "Inscripción" in page
    page = await (await web_app.client.get("/register?lang=xx", headers=HTML)).text()
    assert '<html lang="en">' in page and "Thursday, December 3, 2026" in page


async def test_thanks_page_in_the_forms_language(web_app: WebApp) -> None:
    response = await web_app.client.post("/register?lang=zh", data=FORM, headers=HTML)
    page = await response.text()
    assert response.status == 200
    assert "<html lang=zh>" in page and "报名成功" in page
    assert "amara.okafor@lagos.example" in page


async def test_form_post_mails_a_link_that_leads_to_the_stage(web_app: WebApp) -> None:
    response = await web_app.client.post("/register", data=FORM, headers=HTML)
    assert response.status == 200
    page = await response.text()
    assert "You are registered" in page
    assert "amara.okafor@lagos.example" in page

    assert len(web_app.mails) == 1
    mail = web_app.mails[0]
    assert mail["To"] == "Amara Okafor <amara.okafor@lagos.example>"
    path = join_path(mail)
    joined = await web_app.client.get(path, allow_redirects=False)
    assert joined.status == 303
    assert joined.headers["Location"] == f"/stage#token={token_of(path)}"
    assert joined.headers["Referrer-Policy"] == "no-referrer"

    stored = await registrations(web_app.app).get_by_email("amara.okafor@lagos.example")
    assert stored is not None
    assert stored.status is Status.APPROVED
    assert stored.role is Role.PARTICIPANT
    assert stored.organization == FORM["organization"]


async def test_the_discussion_topic_is_chosen_stored_and_checked(web_app: WebApp) -> None:
    """The form offers the event's discussion topics (groups "by topic" use the choice)."""
    page = await (await web_app.client.get("/register", headers=HTML)).text()
    assert '<label for="topic">The group discussion topic I prefer</label>' in page
    assert '<option value="" selected>No preference</option>' in page
    topics = web_app.app[EVENT].topics
    for topic in topics:
        assert f'<option value="{topic.id}">{html.escape(topic.title)}</option>' in page
    page = await (await web_app.client.get("/register?lang=ja", headers=HTML)).text()
    assert "希望するグループ討論のテーマ" in page
    # Not one of the event's topics: refused, the choice kept in the form, nothing stored.
    response = await web_app.client.post(
        "/register", data={**FORM, "topic": "astrology"}, headers=HTML
    )
    assert response.status == 422
    page = await response.text()
    assert (
        'id="topic-error"' in page and 'aria-invalid="true" aria-describedby="topic-error"' in page
    )
    response = await web_app.client.post(
        "/register?lang=ja", data={**FORM, "topic": "astrology"}, headers=HTML
    )
    assert "イベントのテーマのいずれかを選んでください" in await response.text()
    assert await registrations(web_app.app).get_by_email(FORM["email"]) is None
    response = await web_app.client.post(
        "/register", data={**FORM, "topic": topics[1].id}, headers=HTML
    )
    assert response.status == 200
    stored = await registrations(web_app.app).get_by_email(FORM["email"])
    assert stored is not None and stored.topic == topics[1].id
    assert stored.person.topic == topics[1].id and stored.as_json()["topic"] == topics[1].id
    # Optional: no choice stores none.
    response = await web_app.client.post(
        "/api/registrations", json={**FORM, "email": "b@lagos.example", "topic": ""}
    )
    assert response.status == 201
    stored = await registrations(web_app.app).get_by_email("b@lagos.example")
    assert stored is not None and stored.topic is None


async def test_requested_roles_are_only_requests(web_app: WebApp) -> None:
    response = await web_app.client.post(
        "/register", data={**FORM, "requested_role": "interpreter"}, headers=HTML
    )
    assert response.status == 200
    stored = await registrations(web_app.app).get_by_email(FORM["email"])
    assert stored is not None
    assert stored.requested_role is Role.INTERPRETER
    assert stored.role is Role.PARTICIPANT and stored.booth is None
    location = await web_app.client.get(join_path(web_app.mails[0]), allow_redirects=False)
    assert location.headers["Location"].startswith("/stage#token=")


async def test_link_lives_through_the_event(web_app: WebApp) -> None:
    defn = web_app.app[EVENT]
    web_app.clock.now = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)  # two months ahead
    await web_app.client.post("/register", data=FORM, headers=HTML)
    path = join_path(web_app.mails[0])
    last_end = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # 17:30 Brussels
    assert defn.event.days[-1] == last_end.date()
    web_app.clock.now = last_end + timedelta(hours=23)
    assert (await web_app.client.get(path, allow_redirects=False)).status == 303
    web_app.clock.now = last_end + timedelta(days=1)
    expired = await web_app.client.get(path, allow_redirects=False)
    assert expired.status == 401
    assert "This join link has expired" in await expired.text()


async def test_link_issued_after_the_event_lives_for_the_ttl(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(token_ttl_hours=2)
    app.clock.now = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)  # a week after the event
    await app.client.post("/register", data=FORM, headers=HTML)
    path = join_path(app.mails[0])
    app.clock.advance(hours=1, minutes=59)
    assert (await app.client.get(path, allow_redirects=False)).status == 303
    app.clock.advance(minutes=1)
    assert (await app.client.get(path, allow_redirects=False)).status == 401


async def test_fields_too_long_or_with_markup_are_refused_and_escaped(web_app: WebApp) -> None:
    evil = "<script>alert(1)</script>"
    data = {
        **FORM,
        "name": evil + "x" * 200,
        "email": evil,
        "city": '"><img src=x onerror=alert(1)>',
        "country": "",
        "language": "fr",
    }
    response = await web_app.client.post("/register", data=data, headers=HTML)
    assert response.status == 422
    page = await response.text()
    assert "<script>alert" not in page
    assert "<img" not in page
    assert html.escape(data["name"]) in page  # the typed value, escaped, for correcting
    assert html.escape(data["city"]) in page
    assert "must be at most 200 characters" in page
    assert "is not an email address" in page
    assert "is required" in page  # country
    assert "must be one of the event&#x27;s languages" in page
    assert '<option value="en" selected>' not in page  # the typed (bad) language is kept...
    assert 'aria-invalid="true" aria-describedby="name-error"' in page
    assert web_app.mails == []
    assert await registrations(web_app.app).list() == []


async def test_markup_in_a_valid_name_is_stored_as_typed_and_shown_escaped(
    web_app: WebApp,
) -> None:
    name = "<b>Bold</b> & <script>x</script>"
    response = await web_app.client.post("/register", data={**FORM, "name": name}, headers=HTML)
    assert response.status == 200
    page = await response.text()
    assert "<script>x" not in page and "<b>Bold" not in page
    assert html.escape(name) in page
    stored = await registrations(web_app.app).get_by_email(FORM["email"])
    assert stored is not None and stored.name == name
    mail_html = web_app.mails[0].get_body(preferencelist=("html",))
    assert mail_html is not None and "<script>x" not in mail_html.get_content()


async def test_oversize_form_is_413(web_app: WebApp) -> None:
    big = {**FORM, "organization": "x" * 20_000}
    response = await web_app.client.post("/register", data=big, headers=HTML)
    assert response.status == 413
    assert "too large" in await response.text()
    api = await web_app.client.post("/api/registrations", json=big)
    assert api.status == 413
    body = await api.json()
    assert body["error"] == "too_large"
    assert body["limit_bytes"] == 16 * 1024
    assert "at most 16 KiB" in body["message"]


async def test_oversize_chunked_body_is_413(web_app: WebApp) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 1024
        yield b'"}'

    response = await web_app.client.post(
        "/api/registrations", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413


async def test_json_api_success(web_app: WebApp) -> None:
    response = await web_app.client.post("/api/registrations", json=FORM)
    assert response.status == 201
    body = await response.json()
    assert set(body) == {"status", "mailed"}  # no id: a repeat must answer the same
    assert body["status"] == "approved" and body["mailed"] is True
    assert len(web_app.mails) == 1
    assert token_of(join_path(web_app.mails[0])) not in await response.text()


async def test_json_api_errors_are_typed(web_app: WebApp) -> None:
    response = await web_app.client.post(
        "/api/registrations", json={**FORM, "email": "nope", "timezone": "Moon/Base", "x": 1}
    )
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "invalid_input"
    assert body["fields"] == {
        "email": "is not an email address (name@example.org)",
        "timezone": "is not a known time zone (for example Europe/Brussels)",
        "x": "is not a registration field",
    }
    assert "Traceback" not in await response.text()


async def test_validation_speaks_the_registrants_language(web_app: WebApp) -> None:
    """The form in Japanese answers in Japanese (every field's message and the banner);
    the JSON API in the language asked for. Nothing English is left."""
    bad = {**FORM, "name": "", "email": "nope", "language": "fr", "timezone": "Moon/Base"}
    response = await web_app.client.post("/register?lang=ja", data=bad, headers=HTML)
    assert response.status == 422
    page = await response.text()
    for text in [
        "印の付いた項目を直してください。",
        "必須です",
        "メールアドレスではありません",
        "イベントの言語のいずれかにしてください：en, zh, ja, es",
        "既知のタイムゾーンではありません",
    ]:
        assert text in page, text
    for english in ["is required", "is not an email", "Please correct", "time zone ("]:
        assert english not in page, english
    response = await web_app.client.post(
        "/api/registrations",
        json={**FORM, "name": "x" * 201, "email": "a@b"},
        headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"},
    )
    body = await response.json()
    assert body["message"] == "Corrija los campos marcados."
    assert body["fields"] == {
        "name": "debe tener como máximo 200 caracteres",
        "email": "tiene un dominio no válido",
    }


def test_every_rule_message_is_in_the_catalogs() -> None:
    """Each core.registration Reason: its English text is the en catalog's, and zh, ja, es
    (and the organizers' pl, cs) word it too."""
    from simultan.core.registration import Reason, RegistrationForm
    from simultan.errors import ValidationError
    from simultan.i18n import LANGUAGES, catalog, translate

    seen: list[Reason] = []
    cases = [
        {"name": "", "email": "nope", "language": "fr", "timezone": "x", "requested_role": "boss"},
        {"name": "a\u0007", "email": "a@b", "city": 3, "x": "y"},
        {"name": "n" * 300, "email": "a@-.org"},
    ]
    for case in cases:
        try:
            RegistrationForm.validate({**FORM, **case}, languages=("en", "ja"))
        except ValidationError as exc:
            seen += [exc.message, *exc.fields.values()]  # type: ignore[list-item]
    for topics in (("covid-recovery",), ()):
        try:
            RegistrationForm.validate({**FORM, "topic": "x"}, languages=("en",), topics=topics)
        except ValidationError as exc:
            seen += exc.fields.values()  # type: ignore[arg-type]
    keys = {r.key for r in seen}
    assert keys >= {"topic", "no_topics"}
    assert keys >= {"form", "required", "email", "domain", "language", "timezone", "role"}
    assert keys >= {"control", "not_text", "not_a_field", "too_long"}
    for reason in seen:
        assert isinstance(reason, Reason)
        key = f"register.error.{reason.key}"
        assert translate("en", key, **reason.params) == str(reason)
        for lang in LANGUAGES:
            assert key in catalog(lang), (lang, key)


async def test_json_api_bad_bodies(web_app: WebApp) -> None:
    client = web_app.client
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, "JSON"),
        ({"json": ["a", "list"]}, 422, "object"),
        ({"data": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}, 422, "JSON"),
        ({"data": "name=x", "headers": {"Content-Type": "text/plain"}}, 415, "application/json"),
    ]
    for kwargs, status, words in cases:
        response = await client.post("/api/registrations", **kwargs)
        assert response.status == status, kwargs
        body = await response.json()
        assert words in body["message"]


async def test_form_bad_bodies(web_app: WebApp) -> None:
    client = web_app.client
    twice = await client.post(
        "/register",
        data="name=a&name=b&email=a%40b.example",
        headers={**HTML, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status == 422
    assert "must be text" in await twice.text()
    bad_utf8 = await client.post(
        "/register",
        data=b"name=%ff%fe",
        headers={**HTML, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert bad_utf8.status == 422
    multipart = await client.post("/register", data={"name": "x", "file": b"bytes"}, headers=HTML)
    assert multipart.status == 415


async def test_duplicate_registration_answers_like_a_new_one(web_app: WebApp) -> None:
    """No enumeration: a repeat gets the new registrant's answer; the mailbox its link again."""
    first = await web_app.client.post("/api/registrations", json=FORM)
    again = await web_app.client.post(
        "/api/registrations",
        json={**FORM, "name": "Someone Else", "email": "AMARA.OKAFOR@lagos.example"},
    )
    assert (again.status, await again.json()) == (first.status, await first.json())
    new_page = await web_app.client.post(
        "/register", data={**FORM, "email": "new.person@lagos.example"}, headers=HTML
    )
    repeat_page = await web_app.client.post(
        "/register", data={**FORM, "name": "Someone Else"}, headers=HTML
    )
    assert repeat_page.status == new_page.status == 200
    text = await repeat_page.text()
    assert "Someone Else" in text and "already registered" not in text
    assert len(await registrations(web_app.app).list()) == 2  # Amara once, the new person
    to_amara = [m for m in web_app.mails if "amara.okafor@" in m["To"]]
    assert len(to_amara) == 3  # the first mail and the link again, twice
    assert all(m["To"].startswith("Amara Okafor") for m in to_amara)  # the stored name
    first_token, last_token = token_of(join_path(to_amara[0])), token_of(join_path(to_amara[-1]))
    reg = await registrations(web_app.app).get_by_email("amara.okafor@lagos.example")
    assert reg is not None and reg.token_generation == 0  # the first link still works
    for token in (first_token, last_token):
        joined = await web_app.client.get(f"/join/{token}", allow_redirects=False)
        assert joined.status == 303


async def test_require_approval_keeps_registrations_pending(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(require_approval=True)
    response = await app.client.post("/register", data=FORM, headers=HTML)
    assert response.status == 200
    assert "will review your registration" in await response.text()
    assert app.mails == []
    api = await app.client.post(
        "/api/registrations", json={**FORM, "email": "second@lagos.example"}
    )
    assert (await api.json())["status"] == "pending"
    assert {r.status for r in await registrations(app.app).list()} == {Status.PENDING}


async def test_mail_failure_keeps_the_registration(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(smtp_port=free_port())  # nothing listens there
    response = await app.client.post("/register", data=FORM, headers=HTML)
    assert response.status == 200
    assert "could not send the mail" in await response.text()
    api = await app.client.post("/api/registrations", json={**FORM, "email": "b@lagos.example"})
    assert api.status == 201
    assert (await api.json())["mailed"] is False
    assert len(await registrations(app.app).list()) == 2


async def test_outbox_when_no_smtp_host(make_web_app: MakeWebApp) -> None:
    app = await make_web_app(smtp=False)
    response = await app.client.post("/api/registrations", json=FORM)
    assert (await response.json())["mailed"] is True
    files = list(app.app[SETTINGS].outbox_dir.glob("*.eml"))
    assert len(files) == 1
    assert f"{BASE_URL}/join/" in files[0].read_text()
