"""The message catalogs: complete where the pages need them, placeholders that agree, every
key the client uses present; the server's lookup, language choice and date formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simultan import i18n

CLIENT = Path(__file__).resolve().parents[2] / "client"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Participant pages are in en, zh, ja, es; organizer pages and mails also in pl and cs.
PAGE_LANGUAGES = ("zh", "ja", "es")
ORGANIZER_PREFIXES = (
    "common.",
    "status.",
    "agenda.",
    "register.",
    "role.",
    "mail.",
    "organizer.",
    "control.",
)


def load(lang: str) -> dict[str, str]:
    data = json.loads((CLIENT / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_catalog_is_a_flat_map_of_text() -> None:
    for lang in i18n.LANGUAGES:
        for key, text in load(lang).items():
            assert isinstance(text, str) and text, (lang, key)


@pytest.mark.parametrize("lang", PAGE_LANGUAGES)
def test_page_languages_have_every_key(lang: str) -> None:
    missing = set(load("en")) - set(load(lang))
    assert not missing, f"{lang} lacks {sorted(missing)}"


@pytest.mark.parametrize("lang", ["pl", "cs"])
def test_organizer_languages_cover_the_organizer_pages_and_mails(lang: str) -> None:
    needed = {k for k in load("en") if k.startswith(ORGANIZER_PREFIXES)}
    missing = needed - set(load(lang))
    assert not missing, f"{lang} lacks {sorted(missing)}"


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_translations_use_the_same_placeholders(lang: str) -> None:
    en = load("en")
    for key, text in load(lang).items():
        assert key in en, f"{lang} has {key}, which English lacks"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(en[key])), (lang, key)


def test_every_key_the_client_uses_is_in_english() -> None:
    """t("key") in the scripts, data-i18n / {{t:key}} in the pages: each key exists."""
    en = load("en")
    used: set[str] = set()
    for path in CLIENT.rglob("*.js"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", path.read_text("utf-8")))
    for path in CLIENT.glob("*.html"):
        text = path.read_text("utf-8")
        used |= set(re.findall(r'data-i18n="([\w.]+)"', text))
        used |= set(re.findall(r"\{\{t:([\w.]+)\}\}", text))
        used |= set(
            re.findall(r":([\w]+\.[\w.]+)", " ".join(re.findall(r'data-i18n-attr="([^"]+)"', text)))
        )
    assert used, "the scan found no keys: the pattern is wrong"
    assert not used - set(en), sorted(used - set(en))


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert i18n.translate("ja", "agenda.late", minutes=5) == "5分遅れ"
    assert i18n.translate("en", "mail.subject", title="X") == "Your join link: X"
    assert i18n.translate("pl", "stage.start") == "Start listening"  # no Polish stage: English
    assert i18n.translate("de", "register.submit") == "Register"  # no catalog at all
    assert i18n.translate("en", "no.such.key") == "no.such.key"
    assert i18n.translate("en", "agenda.late") == "running {minutes} min late"  # left visible


def test_pick_and_accept_language() -> None:
    assert i18n.pick(["ja-JP", "en"]) == "ja"
    assert i18n.pick(["de", "zh_TW"]) == "zh"
    assert i18n.pick([None, "", "fr"]) == "en"
    assert i18n.pick(["pl"], offered=("en", "ja")) == "en"
    header = "fr-CH, fr;q=0.9, es;q=0.95, ja;q=0, *;q=0.5"
    assert i18n.accept_language(header) == ["fr-CH", "es", "fr", "*"]
    assert i18n.accept_language(None) == []


def test_native_names() -> None:
    names = {code: i18n.native_name(code) for code in ("zh", "ja", "es", "en", "pl", "cs")}
    assert names == {
        "zh": "中文", "ja": "日本語", "es": "Español", "en": "English",
        "pl": "Polski", "cs": "Čeština",
    }  # fmt: skip
    assert i18n.native_name("not a language") == "not a language"
