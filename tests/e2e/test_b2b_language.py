"""The B2B page in the visitor's language: a Japanese registrant gets it in Japanese
(markup and what the script renders), with no English catalog phrase left, and the page's
language picker switches it (here to Spanish) without a reload."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from simultan.i18n import CATALOG_DIR
from tests.e2e.b2b_pages import before_day, seed_companies
from tests.e2e.test_b2b_page import forum  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


async def test_b2b_page_speaks_the_visitors_language(browser: Any, forum: Any) -> None:  # noqa: F811
    people = await seed_companies(forum, language="ja")
    before_day(forum)
    context = await browser.new_context(locale="ja-JP")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{forum.url}/join/{people['ana'][1]}?next=b2b")
    await page.wait_for_function("() => window.simultanB2B && window.simultanB2B.state.me")
    await page.locator("[data-testid=directory] li[data-person]").first.wait_for()
    assert await page.evaluate("() => document.documentElement.lang") == "ja"
    assert await page.locator("#schedule-heading").inner_text() == "あなたの予定"
    directory = await page.locator("[data-testid=directory]").inner_text()
    assert "話す言語" in directory and "ミーティングを依頼" in directory
    # times and days through Intl in the page's language (a Japanese weekday in the slots)
    assert re.search(r"\((月|火|水|木|金|土|日)\)", directory), directory
    en = json.loads((CATALOG_DIR / "en.json").read_text(encoding="utf-8"))
    ja = json.loads((CATALOG_DIR / "ja.json").read_text(encoding="utf-8"))
    text = await page.evaluate("() => document.body.innerText")
    left = [
        v
        for k, v in en.items()
        if k.startswith("b2b.")
        and len(v) > 3
        and "{" not in v
        and ja.get(k) != v
        and re.search(rf"\b{re.escape(v)}\b", text)
    ]
    assert not left, left
    await page.select_option("#page-language", "es")
    await page.wait_for_function(
        "() => document.querySelector('#schedule-heading').textContent === 'Su agenda'"
    )
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=directory]').innerText.includes('Pedir una reunión')"
    )
    directory = await page.locator("[data-testid=directory]").inner_text()
    assert re.search(r"\b(lun|mar|mié|jue|vie|sáb|dom)\b", directory), directory
    assert errors == []
    await context.close()


async def test_b2b_page_follows_the_registrations_language(browser: Any, forum: Any) -> None:  # noqa: F811
    """A company registered in Japanese gets the page in Japanese from an English browser."""
    before_day(forum)
    rid, token = await forum.person("participant", "Sato Hana", city="Kyoto", language="ja")
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{forum.url}/join/{token}?next=b2b")
    await page.wait_for_function("() => document.documentElement.lang === 'ja'")
    await page.wait_for_function(
        "() => document.querySelector('#schedule-heading').textContent === 'あなたの予定'"
    )
    assert errors == []
    await context.close()
