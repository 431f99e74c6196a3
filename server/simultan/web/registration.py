"""Registration over HTTP: the form page (works without JavaScript) and a JSON API.

GET  /register            the form, with the event's title and languages
POST /register            form-encoded (multipart when it carries a B2B logo); re-renders the
                          form with per-field errors, or thanks
POST /api/registrations   JSON; 201, or 422 {"error": "invalid_input", "fields": {...}}

Bodies are limited to ``BODY_LIMIT`` bytes (413). A new registrant becomes an approved
participant (pending when ``settings.require_approval``) whatever role they asked for: the
organizer grants panelist or interpreter roles. An approved registrant is mailed their link.
For an event with a B2B day the form also takes the company profile (``b2b`` ticked: sector,
offers, seeks, languages and an optional logo; organization, country and city are the
registration's own), stored with a new registration; other B2B registrants see it once the
registration is approved, never its email.
A second registration with the same email gets the same answer as a new one (so nobody can
learn who is registered) and the registered mailbox gets its link again. Registrations are
rate limited per client address and per mailbox (``core.registration.mailbox``), so nobody
can make us mail-bomb an address: over the limit, 429 with Retry-After.

Also the small helpers the other HTML/JSON handlers share: page templates from client/,
bounded body reading, and mailing a join link.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import urllib.parse
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from simultan.core import b2b_profiles
from simultan.core.ratelimit import Rate
from simultan.core.registration import (
    FIELDS,
    REQUESTABLE_ROLES,
    Reason,
    RegistrationForm,
    mailbox,
)
from simultan.errors import (
    BodyTooLarge,
    ConflictError,
    MailError,
    UnsupportedMediaType,
    ValidationError,
)
from simultan.eventdef import EventDefinition
from simultan.i18n import LANGUAGES, accept_language, long_date, native_name, pick, translate
from simultan.mail.mailer import MAILER
from simultan.mail.message import event_days, join_message
from simultan.protocol.messages import loads_checked
from simultan.ratelimit import Limiter
from simultan.resources import client_dir
from simultan.store.b2b import B2BStore
from simultan.store.registrations import Registration, Status
from simultan.web.auth import JoinLink, join_link, registrations
from simultan.web.keys import CLOCK, DB, EVENT, SETTINGS

log = logging.getLogger("simultan.web.registration")

CLIENT_DIR = client_dir()
BODY_LIMIT = 16 * 1024

LANGUAGE_NAMES = {
    "ar": "Arabic (العربية)",
    "cs": "Czech (čeština)",
    "da": "Danish (dansk)",
    "de": "German (Deutsch)",
    "en": "English",
    "es": "Spanish (español)",
    "fr": "French (français)",
    "it": "Italian (italiano)",
    "ja": "Japanese (日本語)",
    "ko": "Korean (한국어)",
    "pl": "Polish (polski)",
    "pt": "Portuguese (português)",
    "ru": "Russian (русский)",
    "uk": "Ukrainian (українська)",
    "zh": "Chinese (中文)",
}
TEXT_FIELDS = ("name", "email", "city", "country", "organization")

# The time zones offered in the form: the IANA areas (plus UTC), computed once per app.
ZONES: web.AppKey[tuple[str, ...]] = web.AppKey("registration_zones", tuple)
_AREAS = tuple(
    f"{area}/"
    for area in "Africa America Antarctica Asia Atlantic Australia Europe Indian Pacific".split()
)


# --- shared helpers --------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_TEXT = re.compile(r"\{\{t:([\w.]+)\}\}")


async def render_page(name: str, values: Mapping[str, str], lang: str = "en") -> str:
    """client/``name`` with each ``{{key}}`` replaced by ``values[key]`` and each
    ``{{t:key}}`` by the catalog text of ``key`` in ``lang`` (escaped).

    The values are inserted as they are: callers pass HTML they built with html.escape.
    """
    template = await asyncio.to_thread((CLIENT_DIR / name).read_text, encoding="utf-8")
    template = _TEXT.sub(lambda m: html.escape(translate(lang, m.group(1))), template)
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def page_language(request: web.Request) -> str:
    """The language of a server-rendered page: ``?lang=``, else the browser's preference."""
    return pick(
        [request.query.get("lang"), *accept_language(request.headers.get("Accept-Language"))]
    )


def html_response(body: str, status: int = 200) -> web.Response:
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def message_page(
    title: str, paragraphs: list[str], status: int = 200, lang: str = "en"
) -> web.Response:
    """A small page of escaped text (thanks, confirmations)."""
    esc = html.escape
    body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    page = (
        f"<!doctype html><html lang={lang}><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><link rel=stylesheet href=/static/css/app.css>"
        f"<main class=message-page><div class=card><h1>{esc(title)}</h1>{body}</div></main></html>"
    )
    return html_response(page, status)


async def read_body(request: web.Request, limit: int = BODY_LIMIT) -> bytes:
    """The request body, refused with 413 once it grows past ``limit`` bytes."""
    too_large = BodyTooLarge(
        f"The request is too large: at most {limit // 1024} KiB are accepted.",
        details={"limit_bytes": limit},
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.content.iter_chunked(4096):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def read_json(request: web.Request, limit: int = BODY_LIMIT) -> dict[str, object]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    body = await read_body(request, limit)
    try:
        # registration fields are flat; nested or non-Unicode input is refused, not crashed on
        data = loads_checked(body.decode("utf-8"), max_depth=4)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError("The body is not valid JSON.", fields={}) from exc
    except ValueError as exc:
        raise ValidationError(f"The body was refused: {exc}.", fields={}) from exc
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", fields={})
    return data


async def read_form(
    request: web.Request, limit: int = BODY_LIMIT, file_limit: int = 0
) -> dict[str, object]:
    """A url-encoded form; a field given several times maps to a list (which is refused).
    A multipart form may also carry the B2B logo (at most ``file_limit`` bytes), as
    ``(bytes, declared type)``."""
    if request.content_type == "multipart/form-data" and file_limit:
        return await _read_multipart(request, limit, file_limit)
    if request.content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Send the form as application/x-www-form-urlencoded.")
    body = await read_body(request, limit)
    try:
        pairs = urllib.parse.parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=2 * len(FIELDS),
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError("The form could not be read.", fields={}) from exc
    return {key: values[0] if len(values) == 1 else values for key, values in pairs.items()}


async def _read_multipart(request: web.Request, limit: int, file_limit: int) -> dict[str, object]:
    too_large = BodyTooLarge(
        f"The request is too large: at most {limit // 1024} KiB are accepted.",
        details={"limit_bytes": limit},
    )
    out: dict[str, object] = {}
    text_bytes, parts = 0, 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > 2 * len(FIELDS) + 2 * len(b2b_profiles.REGISTRATION_FIELDS) or not isinstance(
            part, BodyPartReader
        ):
            raise ValidationError("The form could not be read.", fields={})
        name = part.name or ""
        body = bytearray()
        is_file = part.filename is not None
        if is_file and name != b2b_profiles.REGISTRATION_LOGO:
            raise ValidationError("Only a logo may be sent as a file.", fields={name[:64]: "bad"})
        while chunk := await part.read_chunk(4096):
            body += chunk
            if is_file and len(body) > file_limit:
                raise ValidationError(
                    f"A logo is at most {file_limit // 1024} KiB.",
                    fields={name: "is too large"},
                )
            if not is_file and text_bytes + len(body) > limit:
                raise too_large
        if is_file:
            if body:  # no file chosen: an empty part
                out[name] = (bytes(body), part.headers.get("Content-Type", ""))
            continue
        text_bytes += len(body)
        try:
            value: object = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError("The form could not be read.", fields={}) from exc
        out[name] = [out[name], value] if name in out else value
    return out


@dataclass(frozen=True)
class MailOutcome:
    link: JoinLink
    mailed: bool


async def send_join_mail(app: web.Application, registration: Registration) -> MailOutcome:
    """Issue a fresh link for ``registration`` and mail it; a mail failure is logged, not raised.

    The registration stands either way; the organizers can resend the link.
    """
    link = join_link(app, registration)
    msg = join_message(
        defn=app[EVENT],
        registration=registration,
        link=link.url,
        expires_at=link.expires_at,
        sender=app[SETTINGS].mail_from,
        now=app[CLOCK](),
    )
    try:
        await app[MAILER].send(msg)
    except MailError as exc:
        log.warning("! join mail for registration %s not sent: %s", registration.id, exc)
        return MailOutcome(link, mailed=False)
    log.info("> join mail for registration %s", registration.id)
    return MailOutcome(link, mailed=True)


# --- registering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the registrant is told: the same for a new and a repeated registration."""

    name: str
    email: str
    status: Status
    mailed: bool


@dataclass(frozen=True)
class RegistrationLimits:
    per_address: Limiter
    per_mailbox: Limiter


LIMITS = web.AppKey("registration_limits", RegistrationLimits)


async def register(app: web.Application, data: Mapping[str, object], address: str) -> Outcome:
    """Validate, store and (when approved) mail the link. A repeated email stores nothing
    and mails the existing registration its link again, with the answer a new one gets."""
    limits = app[LIMITS]
    limits.per_address.check(address)
    form, profile, logo = _validate(app, data)
    limits.per_mailbox.check(mailbox(form.email))
    status = Status.PENDING if app[SETTINGS].require_approval else Status.APPROVED
    repo = registrations(app)
    try:
        registration = await repo.create(form, now=app[CLOCK](), status=status)
    except ConflictError:
        existing = await repo.get_by_email(form.email)
        if existing is None:  # removed in between: a genuine conflict
            raise
        log.info("= registration %s repeated", existing.id)
        if existing.status is Status.APPROVED:
            mailed = (await send_join_mail(app, existing)).mailed
        else:  # pending or revoked: nothing is sent, the answer is what a new one gets
            mailed = status is Status.APPROVED
        return Outcome(form.name, form.email, status, mailed)
    log.info("= registration %s %s", registration.id, status.value)
    if profile is not None:
        store = B2BStore(app[DB], app[EVENT].event.id)
        await store.save_profile(registration.id, profile, app[CLOCK]())
        if logo is not None:
            await store.set_logo(registration.id, *logo)
    mailed = False
    if status is Status.APPROVED:
        mailed = (await send_join_mail(app, registration)).mailed
    return Outcome(form.name, form.email, status, mailed)


def _validate(
    app: web.Application, data: Mapping[str, object]
) -> tuple[RegistrationForm, b2b_profiles.Profile | None, tuple[bytes, str] | None]:
    """The registration, and for a B2B day the company profile and logo: every bad field of
    either named at once."""
    profile_data: dict[str, object] | None = None
    raw_logo: object = None
    if app[EVENT].b2b is not None:
        data, profile_data, raw_logo = b2b_profiles.split_registration(data)
    errors: dict[str, str] = {}
    form = profile = logo = None
    message = "Some profile fields need another look."
    try:
        defn = app[EVENT]
        form = RegistrationForm.validate(
            data, languages=defn.languages, topics=[t.id for t in defn.topics]
        )
    except ValidationError as exc:
        errors.update(exc.fields)
        message = exc.message  # the registration's own wording (a Reason, translated)
    if profile_data is not None:
        try:
            profile = b2b_profiles.registration_profile(profile_data)
        except ValidationError as exc:
            errors.update(exc.fields)
    if isinstance(raw_logo, tuple):
        body, declared = raw_logo
        try:
            kind = b2b_profiles.check_logo(body, declared, app[SETTINGS].b2b_logo_max_bytes)
            logo = (body, kind)
        except ValidationError as exc:
            errors[b2b_profiles.REGISTRATION_LOGO] = exc.fields.get("logo", exc.message)
    if errors or form is None:
        raise ValidationError(message, fields=errors)
    return form, profile, logo


def _b2b_fields(
    app: web.Application, values: Mapping[str, object], errors: Mapping[str, str], lang: str
) -> str:
    """The registration form's company profile for the B2B day (empty without one)."""
    if app[EVENT].b2b is None:
        return ""
    esc = html.escape

    def tr(key: str, **kw: object) -> str:
        return esc(translate(lang, f"register.b2b_{key}", **kw))

    def field(name: str, label: str, control: str) -> str:
        reason = errors.get(name)
        invalid = f' aria-invalid="true" aria-describedby="{name}-error"' if reason else ""
        error = f'<p class="field-error" id="{name}-error">{esc(reason)}</p>' if reason else ""
        return f'<label for="{name}">{label}</label>' + control.replace("{a}", invalid) + error

    def typed(name: str) -> str:
        value = values.get(name, "")
        return esc(value) if isinstance(value, str) else ""

    checked = " checked" if values.get("b2b") not in (None, "", "off") else ""
    limit_kib = app[SETTINGS].b2b_logo_max_bytes // 1024
    return "".join(
        [
            '<fieldset class="b2b-fields" data-testid="b2b-fields">',
            f"<legend>{tr('heading')}</legend>",
            f'<p class="muted hint">{tr("intro")}</p>',
            f'<p><label class="check"><input type="checkbox" id="b2b" name="b2b" value="on"'
            f"{checked}> {tr('join')}</label></p>",
            field("b2b_sector", tr("sector"),
                  f'<input id="b2b_sector" name="b2b_sector" maxlength="120"'
                  f' value="{typed("b2b_sector")}"{{a}}>'),
            field("b2b_offers", tr("offers"),
                  f'<textarea id="b2b_offers" name="b2b_offers" maxlength="2000" rows="3"{{a}}>'
                  f"{typed('b2b_offers')}</textarea>"),
            field("b2b_seeks", tr("seeks"),
                  f'<textarea id="b2b_seeks" name="b2b_seeks" maxlength="2000" rows="3"{{a}}>'
                  f"{typed('b2b_seeks')}</textarea>"),
            field("b2b_languages", tr("languages"),
                  f'<input id="b2b_languages" name="b2b_languages" maxlength="60"'
                  f' value="{typed("b2b_languages")}"{{a}}>'),
            field("b2b_logo", tr("logo", kib=limit_kib),
                  '<input id="b2b_logo" name="b2b_logo" type="file"'
                  ' accept="image/png,image/jpeg,image/webp"{a}>'),
            "</fieldset>",
        ]
    )  # fmt: skip


def _options(choices: list[tuple[str, str]], selected: str) -> str:
    esc = html.escape
    return "".join(
        f'<option value="{esc(value)}"{" selected" if value == selected else ""}>'
        f"{esc(label)}</option>"
        for value, label in choices
    )


async def render_form(
    app: web.Application,
    values: Mapping[str, object] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
    lang: str = "en",
) -> str:
    defn = app[EVENT]
    values = values or {}
    errors = errors or {}
    esc = html.escape

    def typed(field: str, default: str = "") -> str:
        value = values.get(field, default)
        return value if isinstance(value, str) else default

    page: dict[str, str] = {
        "title": esc(defn.event.title),
        "organizer": esc(defn.event.organizer or ""),
        "description": esc(defn.event.description or ""),
        "fresh": "false" if values else "true",
        "lang": lang,
        "page_title": esc(translate(lang, "register.page_title", title=defn.event.title)),
        "languages": _language_links(lang),
        "when": _when(defn, lang),
    }
    for field in (*FIELDS, "form"):
        reason = errors.get(field)
        page[f"{field}_error"] = (
            f'<p class="field-error" id="{field}-error">{esc(reason)}</p>' if reason else ""
        )
        page[f"{field}_invalid"] = (
            f' aria-invalid="true" aria-describedby="{field}-error"' if reason else ""
        )
    for field in TEXT_FIELDS:
        page[field] = esc(typed(field))
    page["role_options"] = _options(
        [(r.value, translate(lang, f"register.role.{r.value}")) for r in REQUESTABLE_ROLES],
        typed("requested_role", "participant"),
    )
    page["language_options"] = _options(
        [(code, native_name(code)) for code in defn.languages],
        typed("language", defn.event.floor_language),
    )
    page["topic_field"] = _topic_field(defn, typed("topic"), page, lang)
    zone = typed("timezone", defn.event.timezone)
    offered: tuple[str, ...] = app[ZONES]
    zones = offered if zone in offered else (zone, *offered)
    page["timezone_options"] = _options([(z, z.replace("_", " ")) for z in zones], zone)
    banner = ""
    if message:
        banner = f'<p class="banner error" role="alert">{esc(message)}</p>'
    page["banner"] = banner
    page["b2b_fields"] = _b2b_fields(app, values, errors, lang)
    page["enctype"] = ' enctype="multipart/form-data"' if page["b2b_fields"] else ""
    return await render_page("register.html", page, lang)


def _topic_field(defn: EventDefinition, chosen: str, page: Mapping[str, str], lang: str) -> str:
    """The discussion topic select (for groups "by topic"); nothing when the event has none."""
    if not defn.topics:
        return ""
    esc = html.escape
    options = _options(
        [("", translate(lang, "register.topic_none")), *((t.id, t.title) for t in defn.topics)],
        chosen,
    )
    return (
        f'<label for="topic">{esc(translate(lang, "register.topic"))}</label>'
        f'<select id="topic" name="topic"{page["topic_invalid"]}>{options}</select>'
        f"{page['topic_error']}"
    )


def _language_links(lang: str) -> str:
    """Links that reload the form in another language (works without JavaScript)."""
    esc = html.escape
    links = []
    for code in LANGUAGES:
        current = ' aria-current="true"' if code == lang else ""
        links.append(
            f'<a href="?lang={code}" lang="{code}" hreflang="{code}"{current}>'
            f"{esc(native_name(code))}</a>"
        )
    return " ".join(links)


def _when(defn: EventDefinition, lang: str) -> str:
    """When the event takes place, one line per day in the event's zone; each carries its
    UTC span so register.js can add the visitor's own time."""
    esc = html.escape
    rows = []
    for day, start, end in event_days(defn):
        local_start, local_end = start.astimezone(defn.zone), end.astimezone(defn.zone)
        text = translate(
            lang,
            "register.event_time",
            date=long_date(lang, day),
            start=f"{local_start:%H:%M}",
            end=f"{local_end:%H:%M}",
            zone=defn.event.timezone,
        )
        rows.append(
            f'<li data-start="{start.isoformat()}" data-end="{end.isoformat()}" '
            f'data-zone="{esc(defn.event.timezone)}">{esc(text)}</li>'
        )
    return "".join(rows)


async def get_form(request: web.Request) -> web.Response:
    return html_response(await render_form(request.app, lang=page_language(request)))


async def post_form(request: web.Request) -> web.Response:
    lang = page_language(request)
    # A multipart form (the B2B logo) only for an event with a B2B day.
    logo_limit = request.app[SETTINGS].b2b_logo_max_bytes if request.app[EVENT].b2b else 0
    data = await read_form(request, file_limit=logo_limit)
    try:
        outcome = await register(request.app, data, client_address(request))
    except ValidationError as exc:
        shown = localized(exc, lang)
        body = await render_form(request.app, data, shown.fields, shown.message, lang)
        return html_response(body, status=exc.http_status)
    title = request.app[EVENT].event.title
    if outcome.status is Status.PENDING:
        said = translate(lang, "register.pending", email=outcome.email)
    elif outcome.mailed:
        said = translate(lang, "register.mailed", email=outcome.email)
    else:
        said = translate(lang, "register.not_mailed")
    lines = [translate(lang, "register.thanks", name=outcome.name, title=title), said]
    return message_page(translate(lang, "register.done_title"), lines, lang=lang)


async def post_api(request: web.Request) -> web.Response:
    data = await read_json(request)
    try:
        outcome = await register(request.app, data, client_address(request))
    except ValidationError as exc:  # in the language asked for (?lang=, Accept-Language)
        raise localized(exc, page_language(request)) from None
    # no id: a repeated registration must answer exactly like a new one
    return web.json_response({"status": outcome.status.value, "mailed": outcome.mailed}, status=201)


def say(lang: str, text: str) -> str:
    """A rule's message (core.registration.Reason) in ``lang``; other text as it is."""
    if isinstance(text, Reason):
        return translate(lang, f"register.error.{text.key}", **text.params)
    return text


def localized(exc: ValidationError, lang: str) -> ValidationError:
    """The same refusal, every message worded in ``lang``."""
    fields = {field: say(lang, reason) for field, reason in exc.fields.items()}
    return ValidationError(say(lang, exc.message), fields=fields)


def client_address(request: web.Request) -> str:
    """The peer address (behind a reverse proxy, the proxy's: see docs/operations.md)."""
    return request.remote or "unknown"


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[LIMITS] = RegistrationLimits(
        per_address=Limiter(
            Rate.per_hour(settings.registrations_per_address_per_hour), "registrations"
        ),
        per_mailbox=Limiter(
            Rate.per_hour(settings.registrations_per_mailbox_per_hour),
            "registrations for this address",
        ),
    )
    app[ZONES] = tuple(
        ["UTC", *sorted(z for z in zoneinfo.available_timezones() if z.startswith(_AREAS))]
    )
    app.router.add_get("/register", get_form)
    app.router.add_post("/register", post_form)
    app.router.add_post("/api/registrations", post_api)
