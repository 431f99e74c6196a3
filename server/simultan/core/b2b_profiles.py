"""Company profiles for the B2B day (pure): what a company fills in, how others search them.

A profile belongs to one registration (the company's delegate). Other B2B registrants see it
in the directory without the delegate's email. Markup is ordinary data: it is stored as typed
and inserted with textContent. A logo must really be a PNG, JPEG or WebP image (its first
bytes are checked, not the declared type) and no larger than the configured limit; SVG is
refused because it can carry scripts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from simultan.core.registration import clean_text
from simultan.errors import ValidationError

PROFILE_FIELDS = ("organization", "sector", "offers", "seeks", "languages", "country", "city")
MAX_LENGTH: Mapping[str, int] = {
    "organization": 200,
    "sector": 120,
    "offers": 2000,
    "seeks": 2000,
    "country": 120,
    "city": 120,
}
REQUIRED = frozenset({"organization", "sector", "country", "city"})
MAX_LANGUAGES = 12
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")

# The image types a logo may be, by their leading bytes.
LOGO_TYPES: Mapping[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/webp": (b"RIFF",),
}


@dataclass(frozen=True)
class Profile:
    organization: str
    sector: str
    offers: str
    seeks: str
    languages: tuple[str, ...]
    country: str
    city: str

    @classmethod
    def validate(cls, data: Mapping[str, object]) -> Profile:
        """Check every field of ``data``; ValidationError naming each bad one."""
        errors: dict[str, str] = {}
        for key in data:
            if key not in PROFILE_FIELDS:
                errors[str(key)[:64]] = "is not a profile field"
        values: dict[str, str] = {}
        for name, limit in MAX_LENGTH.items():
            raw = data.get(name, "")
            if not isinstance(raw, str):
                errors[name] = "must be text"
                continue
            try:
                if name in ("offers", "seeks"):  # several lines allowed
                    lines = [clean_text(line, limit) for line in raw.splitlines()]
                    text = "\n".join(lines).strip()
                else:
                    text = clean_text(raw, limit)
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            if not text and name in REQUIRED:
                errors[name] = "is required"
            elif len(text) > limit:
                errors[name] = f"must be at most {limit} characters"
            values[name] = text
        raw_languages = data.get("languages", [])
        if isinstance(raw_languages, str):
            raw_languages = [p for p in re.split(r"[\s,]+", raw_languages) if p]
        languages: list[str] = []
        if not isinstance(raw_languages, list) or not all(
            isinstance(x, str) for x in raw_languages
        ):
            errors["languages"] = "must be a list of language codes"
        else:
            languages = list(dict.fromkeys(x.strip().lower() for x in raw_languages))
            if not languages:
                errors["languages"] = "name at least one language"
            elif len(languages) > MAX_LANGUAGES:
                errors["languages"] = f"name at most {MAX_LANGUAGES} languages"
            elif not all(_LANGUAGE.match(x) for x in languages):
                errors["languages"] = "use two- or three-letter language codes (en, pl, da)"
        if errors:
            raise ValidationError("Some profile fields need another look.", fields=errors)
        return cls(languages=tuple(languages), **values)

    def as_dict(self) -> dict[str, object]:
        return {
            "organization": self.organization,
            "sector": self.sector,
            "offers": self.offers,
            "seeks": self.seeks,
            "languages": list(self.languages),
            "country": self.country,
            "city": self.city,
        }


# The registration form's own fields for the B2B day (organization, country and city are the
# registration's): ticking ``b2b`` makes the profile part of the registration.
REGISTRATION_FIELDS: Mapping[str, str] = {
    "b2b_sector": "sector",
    "b2b_offers": "offers",
    "b2b_seeks": "seeks",
    "b2b_languages": "languages",
}
REGISTRATION_LOGO = "b2b_logo"
_FROM_REGISTRATION = ("organization", "country", "city")


def split_registration(
    data: Mapping[str, object],
) -> tuple[dict[str, object], dict[str, object] | None, object]:
    """(the registration's fields, the profile's fields or None, the logo field or None).

    The B2B fields leave the registration's data whether or not ``b2b`` is ticked; without
    the tick no profile is made."""
    own = {
        k: v
        for k, v in data.items()
        if k not in REGISTRATION_FIELDS and k not in ("b2b", REGISTRATION_LOGO)
    }
    if data.get("b2b") in (None, "", "off"):
        return own, None, None
    profile: dict[str, object] = {k: data.get(k, "") for k in _FROM_REGISTRATION}
    profile.update({field: data.get(key, "") for key, field in REGISTRATION_FIELDS.items()})
    return own, profile, data.get(REGISTRATION_LOGO)


def registration_profile(data: Mapping[str, object]) -> Profile:
    """``Profile.validate`` with each error named as the registration form names its field."""
    try:
        return Profile.validate(data)
    except ValidationError as exc:
        form_name = {field: key for key, field in REGISTRATION_FIELDS.items()}
        fields = {form_name.get(k, k): v for k, v in exc.fields.items()}
        raise ValidationError(exc.message, fields=fields) from None


def check_logo(body: bytes, declared: str, limit: int) -> str:
    """The logo's content type; ValidationError when it is too large or not a known image."""
    if len(body) > limit:
        raise ValidationError(
            f"A logo is at most {limit // 1024} KiB.", fields={"logo": "is too large"}
        )
    for kind, magics in LOGO_TYPES.items():
        if any(body.startswith(m) for m in magics) and (
            kind != "image/webp" or body[8:12] == b"WEBP"
        ):
            if declared and declared != kind:
                raise ValidationError(
                    f"The logo is a {kind} file, not {declared}.", fields={"logo": "wrong type"}
                )
            return kind
    raise ValidationError(
        "A logo must be a PNG, JPEG or WebP image.", fields={"logo": "is not a supported image"}
    )


def matches(profile: Profile, *, text: str = "", sector: str = "", country: str = "",
            language: str = "") -> bool:  # fmt: skip
    """Does ``profile`` fit a directory search? Empty criteria match everything."""
    if sector and profile.sector.casefold() != sector.casefold():
        return False
    if country and profile.country.casefold() != country.casefold():
        return False
    if language and language.lower() not in profile.languages:
        return False
    if text:
        hay = " ".join(
            (profile.organization, profile.sector, profile.offers, profile.seeks, profile.city)
        ).casefold()
        return all(word in hay for word in text.casefold().split())
    return True
