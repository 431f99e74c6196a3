"""Registration rules: what a registrant may send, and what an organizer may assign (pure).

Input arrives as a mapping of untrusted values (a form post or a JSON body). Every field is
checked and every problem is reported at once, in ``ValidationError.fields``. Markup such as
``<script>`` is ordinary data here: it is stored as typed and escaped wherever it is shown.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from simultan.core.capabilities import Role
from simultan.errors import ValidationError

FIELDS = (
    "name",
    "email",
    "city",
    "country",
    "organization",
    "requested_role",
    "language",
    "timezone",
    "topic",
)

# Maximum lengths after trimming (they match the columns of store/schema.py).
MAX_LENGTH: Mapping[str, int] = {
    "name": 200,
    "email": 254,
    "city": 120,
    "country": 120,
    "organization": 200,
    "timezone": 64,
}

# What a registrant may ask to be; the organizer grants it (everyone starts as a participant).
REQUESTABLE_ROLES = (Role.PARTICIPANT, Role.PANELIST, Role.INTERPRETER)

# Zone keys that load but depend on the server's own configuration or mean "no zone".
_NOT_A_PLACE = frozenset({"localtime", "Factory", "posixrules"})

# Bidirectional embeddings, overrides and isolates: they can make a name display as another.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# A pragmatic address check (not RFC 5322): one @, an ASCII local part without spaces, quotes
# or brackets, and a domain of at least two labels.
_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class Reason(str):
    """A validation message: its English text (what the JSON API and logs say) with the
    catalog key and values that word it in another language (``register.error.<key>`` in
    client/i18n, translated by the web layer through server/simultan/i18n.py)."""

    key: str
    params: dict[str, object]

    def __new__(cls, key: str, text: str, **params: object) -> Reason:
        reason = super().__new__(cls, text)
        reason.key = key
        reason.params = params
        return reason


def _reason_of(exc: ValueError) -> str:
    """The Reason a rule raised (``str(exc)`` would drop the key)."""
    first = exc.args[0] if exc.args else ""
    return first if isinstance(first, Reason) else str(exc)


def too_long(limit: int) -> Reason:
    return Reason("too_long", f"must be at most {limit} characters", limit=limit)


_NOT_EMAIL = ("email", "is not an email address (name@example.org)")
_BAD_DOMAIN = ("domain", "has a domain that is not valid")


@dataclass(frozen=True)
class RegistrationForm:
    """A registrant's validated, normalized answers."""

    name: str
    email: str
    city: str
    country: str
    organization: str
    requested_role: Role
    language: str
    timezone: str
    topic: str | None = None  # the discussion topic chosen (groups "by topic"), if any

    @classmethod
    def validate(
        cls,
        data: Mapping[str, object],
        *,
        languages: Collection[str],
        topics: Collection[str] = (),
    ) -> RegistrationForm:
        """Check ``data`` against the rules; raise ValidationError naming every bad field.

        ``languages`` are the event's languages (``EventDefinition.languages``), ``topics``
        the ids of its discussion topics (optional to choose; none offered: none accepted).
        """
        errors: dict[str, str] = {}
        for key in data:
            if key not in FIELDS:
                errors[str(key)[:64]] = Reason("not_a_field", "is not a registration field")

        def text(field: str, *, required: bool = True) -> str:
            value = data.get(field, "")
            if not isinstance(value, str):
                errors[field] = Reason("not_text", "must be text")
                return ""
            try:
                cleaned = clean_text(value, MAX_LENGTH.get(field, 64))
            except ValueError as exc:
                errors[field] = _reason_of(exc)
                return ""
            if required and not cleaned:
                errors[field] = Reason("required", "is required")
            return cleaned

        name = text("name")
        city = text("city")
        country = text("country")
        organization = text("organization", required=False)
        email = text("email")
        if email and "email" not in errors:
            try:
                email = normalize_email(email)
            except ValueError as exc:
                errors["email"] = _reason_of(exc)

        role_text = text("requested_role", required=False) or Role.PARTICIPANT.value
        requested_role = Role.PARTICIPANT
        if "requested_role" not in errors:
            if role_text in {r.value for r in REQUESTABLE_ROLES}:
                requested_role = Role(role_text)
            else:
                choices = ", ".join(REQUESTABLE_ROLES)
                errors["requested_role"] = Reason(
                    "role", "must be one of " + choices, choices=choices
                )

        language = text("language")
        if language and "language" not in errors and language not in languages:
            choices = ", ".join(languages)
            errors["language"] = Reason(
                "language", "must be one of the event's languages: " + choices, choices=choices
            )

        timezone = text("timezone")
        if timezone and "timezone" not in errors and not is_time_zone(timezone):
            errors["timezone"] = Reason(
                "timezone", "is not a known time zone (for example Europe/Brussels)"
            )

        topic = text("topic", required=False) or None
        if topic is not None and "topic" not in errors and topic not in topics:
            choices = ", ".join(topics)
            errors["topic"] = (
                Reason("topic", "must be one of the event's topics: " + choices, choices=choices)
                if topics
                else Reason("no_topics", "this event has no discussion topics to choose")
            )

        if errors:
            raise ValidationError(
                Reason("form", "Please correct the marked fields."), fields=errors
            )
        return cls(
            name=name,
            email=email,
            city=city,
            country=country,
            organization=organization,
            requested_role=requested_role,
            language=language,
            timezone=timezone,
            topic=topic,
        )


def clean_text(value: str, max_length: int) -> str:
    """Trimmed NFC text; ValueError when too long or holding control characters."""
    cleaned = unicodedata.normalize("NFC", value).strip()
    for ch in cleaned:
        if unicodedata.category(ch) in {"Cc", "Cs", "Zl", "Zp"} or ch in _BIDI_CONTROLS:
            raise ValueError(Reason("control", "must not contain control characters"))
    if len(cleaned) > max_length:
        raise ValueError(too_long(max_length))
    return cleaned


def normalize_email(value: str) -> str:
    """A lower-cased address with an ASCII (IDNA) domain; ValueError when not plausible.

    Addresses are compared lower-cased so one person cannot register twice by changing case.
    """
    value = value.strip()
    if len(value) > MAX_LENGTH["email"]:
        raise ValueError(too_long(MAX_LENGTH["email"]))
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(Reason(*_NOT_EMAIL))
    if not _LOCAL_RE.match(local) or local.startswith(".") or ".." in local:
        raise ValueError(Reason(*_NOT_EMAIL))
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(Reason(*_BAD_DOMAIN)) from None
    labels = ascii_domain.rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        raise ValueError(Reason(*_BAD_DOMAIN))
    if labels[-1].isdigit():
        raise ValueError(Reason(*_BAD_DOMAIN))
    address = f"{local}@{'.'.join(labels)}".lower()
    if len(address) > MAX_LENGTH["email"]:
        raise ValueError(too_long(MAX_LENGTH["email"]))
    return address


def mailbox(address: str) -> str:
    """The mailbox an address delivers to, for rate limits: plus-addressing
    (``ana+seminar@x.org``) and a trailing dot on the domain (``x.org.``) name the same box
    as ``ana@x.org``. Case is ignored. Not a validator: any text gives some key."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain.rstrip('.')}"


def is_time_zone(key: str) -> bool:
    """Whether ``key`` names an IANA time zone (Europe/Brussels, Asia/Tokyo, UTC)."""
    if key in _NOT_A_PLACE or len(key) > MAX_LENGTH["timezone"]:
        return False
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def check_role_assignment(
    role: object, booth: object, *, booths: Collection[str]
) -> tuple[Role, str | None]:
    """Validate an organizer's role assignment: an interpreter needs one of ``booths``.

    Any role may be assigned (an organizer may appoint moderators and other organizers);
    only interpreters have a booth.
    """
    errors: dict[str, str] = {}
    chosen = Role.PARTICIPANT
    if isinstance(role, str) and role in {r.value for r in Role}:
        chosen = Role(role)
    else:
        errors["role"] = "must be one of " + ", ".join(Role)
    booth_id: str | None = None
    if isinstance(booth, str):
        booth_id = booth.strip() or None
    elif booth is not None:
        errors["booth"] = "must be text"
    if "role" not in errors and "booth" not in errors:
        if chosen is Role.INTERPRETER:
            if booth_id is None:
                errors["booth"] = "is required for an interpreter"
            elif booth_id not in booths:
                errors["booth"] = "must be one of the event's booths: " + ", ".join(booths)
        elif booth_id is not None:
            errors["booth"] = "only interpreters have a booth"
    if errors:
        raise ValidationError("This role cannot be assigned.", fields=errors)
    return chosen, booth_id
