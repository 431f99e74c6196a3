"""Server-side texts (mails, the registration form) from the same catalogs as the client.

The catalogs are client/i18n/<lang>.json: flat keys, ``{name}`` placeholders. One file per
language serves the browser (as static files) and the server, so a mail and the page that
announced it say the same thing. Dates go through Babel (CLDR data), as the browser's Intl
APIs do on the pages. Missing keys fall back to English, then to the key itself.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from datetime import date, datetime

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time

from simultan.resources import client_dir

CATALOG_DIR = client_dir() / "i18n"
LANGUAGES = ("en", "zh", "ja", "es", "pl", "cs")
"""Languages with a catalog (participant pages are complete in the first four)."""
DEFAULT = "en"

_VAR = re.compile(r"\{(\w+)\}")


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """The catalog of ``lang`` (read once); an unknown language has an empty one."""
    if lang not in LANGUAGES:
        return {}
    data = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"catalog {lang}: not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def translate(lang: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``lang`` with ``{name}`` placeholders filled from ``values``."""
    text = catalog(lang).get(key) or catalog(DEFAULT).get(key) or key

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return _VAR.sub(fill, text)


def pick(candidates: Iterable[str | None], offered: Iterable[str] = LANGUAGES) -> str:
    """The first candidate (a BCP 47 tag such as ``ja-JP``) ``offered`` has, else English."""
    allowed = set(offered)
    for tag in candidates:
        if not tag:
            continue
        base = tag.strip().lower().replace("_", "-").split("-")[0]
        if base in allowed:
            return base
    return DEFAULT


def accept_language(header: str | None) -> list[str]:
    """The tags of an Accept-Language header, best first (``q=0`` dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def _locale(lang: str) -> Locale:
    return Locale.parse(lang if lang in LANGUAGES else DEFAULT)


def long_date(lang: str, day: date) -> str:
    """A day with its weekday as ``lang`` writes it (Thursday, December 3, 2026)."""
    return str(format_date(day, format="full", locale=_locale(lang)))


def short_day(lang: str, day: date) -> str:
    """Weekday, day and month, short (Fri, Dec 4; 12月4日(金))."""
    return str(format_skeleton("MMMEd", day, locale=_locale(lang)))


def date_time(lang: str, moment: datetime) -> str:
    """An aware instant in its own zone, date and 24-hour time (Sat, Dec 5, 2026 01:30)."""
    locale = _locale(lang)
    day = format_skeleton("yMMMEd", moment, tzinfo=moment.tzinfo, locale=locale)
    return f"{day} {format_time(moment, 'HH:mm', tzinfo=moment.tzinfo, locale=locale)}"


def native_name(code: str) -> str:
    """A language's name in its own language: ``ja`` → 日本語 (the code when unknown)."""
    try:
        name = Locale.parse(code).get_display_name(code)
    except (ValueError, LookupError):
        return code
    if not name:
        return code
    return name[:1].upper() + name[1:]
