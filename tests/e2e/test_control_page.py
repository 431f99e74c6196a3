"""The control page as a run-of-show, in the moderator's language: one section at a time in
tabs operated by keyboard, only the timeline moves that apply enabled, the current item's
countdown turning to overrun, alarms on top and the booths by interpreter name, and no
English left on a Japanese page (every visible string from the catalogs)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.i18n import CATALOG_DIR
from tests.conftest import FakeClock, LiveServer
from tests.e2e.conftest import open_join_link

pytestmark = pytest.mark.browser

TABS = ["timeline", "floor", "booths", "groups", "notices"]
# Latin-script words a Japanese page may show that are no English text of ours
NOT_ENGLISH = {"dBFS", "Tab", "Enter"}
# language names in their own language (the language pickers), not to be translated
NATIVE_NAMES = ["English", "Español", "Polski", "Čeština"]


async def leftover_english(page: Any) -> list[str]:
    """English on the page: whole values of the en catalog, and any Latin word that is
    not user data (titles, names, cities, time-zone ids)."""
    data = await page.evaluate(
        """() => {
          const s = window.simultan.state, snap = s.snapshot;
          const out = [snap.event.title, s.you.name, s.you.city || ''];
          for (const i of snap.timeline.items) {
            out.push(i.title);
            for (const p of i.speakers || []) out.push(p.name, p.city || '', p.language);
          }
          for (const p of (s.speakers?.values?.() || [])) out.push(p.name, p.city || '');
          for (const p of Object.values(snap.floor?.people || {})) out.push(p.name, p.city || '');
          for (const b of Object.values(snap.booths || {})) for (const m of b.members || []) out.push(m.name || '');
          for (const b of (s.tech?.booths || [])) for (const m of b.members) out.push(m.name || '');
          for (const r of (snap.rooms?.rooms || [])) out.push(r.title, r.id);
          for (const n of Object.values(snap.rooms?.names || {})) out.push(n);
          return {text: document.body.innerText, data: out.filter(Boolean)};
        }"""
    )
    text: str = data["text"]
    en = json.loads((CATALOG_DIR / "en.json").read_text(encoding="utf-8"))
    ja = json.loads((CATALOG_DIR / "ja.json").read_text(encoding="utf-8"))
    for value in sorted(data["data"] + NATIVE_NAMES, key=len, reverse=True):
        text = text.replace(value, " ")
    found = [
        v
        for k, v in en.items()
        if len(v) > 3
        and "{" not in v
        and ja.get(k) != v
        and re.search(rf"\b{re.escape(v)}\b", text)
    ]
    text = re.sub(r"[A-Za-z_]+/[A-Za-z_/]+", " ", text)  # time-zone ids (Asia/Tokyo)
    words = set(re.findall(r"[A-Za-z]{3,}", text)) - NOT_ENGLISH
    return found + sorted(words)


async def visible_panel(page: Any) -> str:
    return await page.evaluate(
        "() => [...document.querySelectorAll('[role=tabpanel]')].filter(p => !p.hidden)"
        ".map(p => p.id).join(',')"
    )


@pytest.mark.timeout(120)
async def test_control_page_runs_the_show_in_japanese_by_keyboard(
    clock: FakeClock, browser, server: LiveServer
) -> None:
    li_id, li_token = await server.person(
        Role.INTERPRETER, "Li Wei", booth="zh", language="zh", city="Suzhou"
    )
    interpreter = await server.connect(li_token)
    await interpreter.recv_type("welcome")
    mod_id, _ = await server.person(Role.MODERATOR, "Mo Derator", language="ja")
    page, errors = await open_join_link(browser, server, mod_id)
    await page.wait_for_function("() => document.documentElement.lang === 'ja'")
    assert await page.locator("#tab-floor").inner_text() == "発言"

    # tabs: one panel at a time, arrows, Home and End move between them
    assert await visible_panel(page) == "panel-timeline"
    await page.focus("#tab-timeline")
    await page.keyboard.press("ArrowRight")
    assert await visible_panel(page) == "panel-floor"
    assert await page.evaluate("() => document.activeElement.id") == "tab-floor"
    await page.keyboard.press("End")
    assert await visible_panel(page) == "panel-notices"
    await page.keyboard.press("ArrowRight")  # wraps round
    assert await visible_panel(page) == "panel-timeline"
    assert await page.locator("#tab-floor").get_attribute("tabindex") == "-1"

    # before the first item: only "start" and "next" can work, and no countdown runs
    def button(action: str) -> Any:
        return page.locator(f"#timeline-controls button[data-action={action}]")

    for action in ["pause", "resume", "extend", "finish", "skip", "jump", "up"]:
        assert await button(action).is_disabled(), action
    assert await button("start").is_enabled()
    assert await page.locator("#countdown").inner_text() == ""

    # start by keyboard: the countdown runs (mm:ss), pause and extend apply, resume not
    await button("start").focus()
    await page.keyboard.press("Enter")
    countdown = page.locator("[data-testid=countdown]")
    await page.wait_for_function(
        "() => document.querySelector('#countdown').dataset.phase === 'normal'"
    )
    assert re.fullmatch(r"残り \d+:\d\d", await countdown.inner_text())
    assert await button("pause").is_enabled() and await button("extend").is_enabled()
    assert await button("resume").is_disabled() and await button("start").is_disabled()
    # time runs out (the page's clock moved on): danger, then overrun in red
    item = await page.evaluate(
        "() => { const tl = window.simultan.state.snapshot.timeline;"
        " return tl.items.find(i => i.id === tl.current); }"
    )
    minutes = round((_ms(item["planned_end"]) - _ms(item["planned_start"])) / 60000)
    await page.evaluate(f"() => {{ window.simultan.state.skew += {(minutes - 0.5) * 60000}; }}")
    await page.wait_for_function(
        "() => document.querySelector('#countdown').dataset.phase === 'danger'"
    )
    await page.evaluate("() => { window.simultan.state.skew += 90000; }")
    await page.wait_for_function(
        "() => document.querySelector('#countdown').dataset.phase === 'overrun'"
    )
    assert re.fullmatch(r"\d+:\d\d 超過", await countdown.inner_text())
    assert (
        await page.locator("#countdown").evaluate("el => getComputedStyle(el).backgroundColor")
        == "rgb(185, 28, 28)"
    )
    assert await page.locator("#next-items li").count() >= 1

    # alarms on top, in Japanese and naming nobody by seat; booths by interpreter name
    alarm = page.locator("[data-testid=alarms] li[data-kind=booth_unstaffed]")
    await alarm.wait_for()
    assert "誰もいません" in await alarm.inner_text()
    await page.click("#tab-booths")
    row = page.locator("[data-testid=tech-booths] tr[data-booth=zh]")
    await row.wait_for()
    cells = await row.locator("td").all_inner_texts()
    assert cells[1] == "Li Wei" and "席" not in " ".join(cells)
    await interpreter.request({"type": "booth", "booth": "zh", "action": "take"})
    await page.wait_for_function(
        "() => document.querySelector('[data-booth=zh] [data-testid=on-mic]').textContent === 'Li Wei'"
    )

    # no English left anywhere: every tab in turn
    left: list[str] = []
    for tab in TABS:
        await page.click(f"#tab-{tab}")
        left += [f"{tab}: {w}" for w in await leftover_english(page)]
    assert not left, "\n".join(left)
    assert errors == []


def _ms(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("role", "kw"),
    [(Role.PARTICIPANT, {}), (Role.INTERPRETER, {"booth": "zh"})],
    ids=["stage", "booth"],
)
async def test_stage_and_booth_show_no_english_in_japanese(
    browser, server: LiveServer, role: Role, kw: dict[str, str]
) -> None:
    reg_id, _ = await server.person(role, "Sato Hana", language="ja", city="Kyoto", **kw)
    page, errors = await open_join_link(browser, server, reg_id)
    await page.wait_for_function("() => document.documentElement.lang === 'ja'")
    await page.wait_for_timeout(300)  # the first render after the welcome
    left = await leftover_english(page)
    assert not left, "\n".join(left)
    assert errors == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("lang", ["pl", "cs"])
async def test_control_page_follows_an_organizers_polish_or_czech_registration(
    browser, server: LiveServer, lang: str
) -> None:
    catalog = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    mod_id, _ = await server.person(Role.MODERATOR, "Ola Nowak", language=lang)
    page, errors = await open_join_link(browser, server, mod_id)
    await page.wait_for_function(f"() => document.documentElement.lang === '{lang}'")
    for tab in TABS:
        text = await page.locator(f"#tab-{tab}").inner_text()
        assert text == catalog[f"control.tab_{tab}"], tab
    offered = await page.locator("#page-language option").evaluate_all("os => os.map(o => o.value)")
    assert {"pl", "cs"} <= set(offered)
    assert errors == []
