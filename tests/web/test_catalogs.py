"""The pages say nothing the catalogs do not hold (static checks over client/).

Every key the scripts pass to t() and every data-i18n key of the markup exists in the four
page languages (en, zh, ja, es), with the same {placeholders} as English; and no script puts
a literal English phrase on the page (as el() or button() text, textContent or a banner):
user-facing text goes through t()."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simultan.i18n import CATALOG_DIR
from simultan.resources import client_dir

CLIENT = client_dir()
PAGE_LANGUAGES = ("en", "zh", "ja", "es")
CATALOGS = {
    lang: json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    for lang in ("en", "zh", "ja", "es", "pl", "cs")
}
SCRIPTS = sorted((CLIENT / "js").rglob("*.js"))
PAGES = sorted(CLIENT.glob("*.html"))

_KEY = r"""["']([a-z][\w]*(?:\.[\w]+)+)["']"""
_T_CALL = re.compile(r"\bt\(\s*" + _KEY)
_T_TERNARY = re.compile(r"\bt\([^()\"'`]*\?\s*" + _KEY + r"\s*:\s*" + _KEY)
_STATIC = re.compile(r'data-i18n="([\w.]+)"')
_STATIC_ATTR = re.compile(r'data-i18n-attr="([^"]+)"')
# a string literal given as text: el(tag, {attrs}, "…"), button("…"), banner("…"),
# .textContent = "…" (also after a `cond ?`)
_TEXT_SINK = re.compile(
    r"""(?:\bel\(\s*"[\w-]+"\s*,\s*\{[^{}]*\}\s*,|\bbutton\(|\bbanner\(|\.textContent\s*=)"""
    r"""\s*(?:[^;"'`]*?\?\s*)?("[^"\n]*"|`[^`\n]*`)"""
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def keys_used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in SCRIPTS:
        text = path.read_text(encoding="utf-8")
        for match in [*_T_CALL.finditer(text), *_T_TERNARY.finditer(text)]:
            for key in match.groups():
                used.setdefault(key, set()).add(path.name)
    for path in PAGES:
        text = path.read_text(encoding="utf-8")
        for key in _STATIC.findall(text):
            used.setdefault(key, set()).add(path.name)
        for spec in _STATIC_ATTR.findall(text):
            for pair in spec.split(";"):
                used.setdefault(pair.split(":", 1)[1].strip(), set()).add(path.name)
    return used


def test_the_checks_see_the_pages() -> None:
    used = keys_used()
    assert len(used) > 200 and "control.tab_floor" in used and "booth.take" in used
    assert {p.name for p in PAGES} >= {"stage.html", "control.html", "booth.html", "b2b.html"}


@pytest.mark.parametrize("lang", PAGE_LANGUAGES)
def test_every_key_a_page_uses_is_in_the_catalog(lang: str) -> None:
    missing = sorted(
        f"{key} ({', '.join(sorted(files))})"
        for key, files in keys_used().items()
        if key not in CATALOGS[lang]
    )
    assert not missing, f"{lang}.json lacks:\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", ["zh", "ja", "es", "pl", "cs"])
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = [
        key
        for key, text in CATALOGS[lang].items()
        if key in CATALOGS["en"]
        and set(_PLACEHOLDER.findall(text)) != set(_PLACEHOLDER.findall(CATALOGS["en"][key]))
    ]
    assert not wrong, wrong


def test_page_languages_have_every_english_key() -> None:
    for lang in ("zh", "ja", "es"):
        assert sorted(set(CATALOGS["en"]) - set(CATALOGS[lang])) == [], lang


def literal_text(source: str) -> list[str]:
    """Literal phrases a script shows as text (an English word outside any ${…})."""
    found = []
    for match in _TEXT_SINK.finditer(source):
        literal = match.group(1)[1:-1]
        words = re.sub(r"\$\{[^}]*\}", " ", literal)
        if re.fullmatch(r"[\w]+(?:\.[\w]+)+", literal):  # a catalog key
            continue
        if re.search(r"[A-Za-z]{2,}", words):
            found.append(literal)
    return found


# Scripts whose strings are not yet in the catalogs (each listed one must still hold some,
# so the list only shrinks).
NOT_YET_SWEPT: set[str] = set()


def phrases(path: Path) -> list[str]:
    return [
        f"{path.name}:{n}: {phrase}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith(("//", "*", "/*"))
        for phrase in literal_text(line)
    ]


def test_no_script_shows_a_literal_phrase() -> None:
    found = [f for path in SCRIPTS if path.name not in NOT_YET_SWEPT for f in phrases(path)]
    assert not found, "\n".join(found)
    for name in NOT_YET_SWEPT:
        assert phrases(CLIENT / "js" / "ui" / name), f"{name} is swept: drop it from the list"


def test_the_literal_check_can_fail() -> None:
    assert literal_text('li.append(el("p", {}, "Starts soon"));') == ["Starts soon"]
    assert literal_text('$("x").textContent = ok ? "done" : t("a.b");') == ["done"]
    assert literal_text("b.textContent = `Table ${n}`;") == ["Table ${n}"]
    assert literal_text('el("p", {}, t("a.b"), `${name} `)') == []
    assert literal_text('button(t("x.y"))') == []


@pytest.mark.parametrize("lang", ["pl", "cs"])
def test_organizer_pages_and_mails_are_complete_in_the_organizers_languages(lang: str) -> None:
    """The organizers' Polish and Czech: the organizer page, the B2B page's organizer controls,
    the registration form and every mail (join link, B2B notices) have all their keys
    (participant pages fall back to en)."""
    organizer = {
        k for k, files in keys_used().items() if files & {"organizer.js", "organizer.html"}
    }
    mails = {k for k in CATALOGS["en"] if k.startswith(("mail.", "register.", "role."))}
    # the B2B page's organizer controls (change a meeting) and the refusals they can meet
    b2b_organizer = {k for k in CATALOGS["en"] if k.startswith(("b2b.om_", "b2b.err_"))}
    assert len(organizer) > 20 and len(mails) > 40 and len(b2b_organizer) > 30
    assert sorted((organizer | mails | b2b_organizer) - set(CATALOGS[lang])) == []
