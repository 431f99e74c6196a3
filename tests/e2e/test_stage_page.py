"""The stage in Chromium: in the registration's language, the fallback indicator when a
booth empties, and a phone layout without sideways scrolling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simultan.core.capabilities import Role
from tests.conftest import LiveServer
from tests.e2e.conftest import open_join_link

pytestmark = pytest.mark.browser

CATALOGS = Path(__file__).resolve().parents[2] / "client" / "i18n"


def catalog(lang: str) -> dict[str, str]:
    return json.loads((CATALOGS / f"{lang}.json").read_text(encoding="utf-8"))


async def test_stage_speaks_japanese_when_the_registration_does(
    browser, server: LiveServer
) -> None:
    reg_id, _ = await server.person(Role.PARTICIPANT, "Kenji Mori", language="ja")
    page, errors = await open_join_link(browser, server, reg_id)  # browser set to en-US
    ja = catalog("ja")
    await page.wait_for_function("() => document.documentElement.lang === 'ja'")
    assert await page.locator("label[for=channel]").inner_text() == ja["stage.listen_in"]
    assert await page.locator("#agenda-heading").inner_text() == ja["agenda.title"]
    assert await page.locator("#listen").inner_text() == ja["stage.start"]
    status = page.locator("tr[data-item=opening] .item-status")
    assert await status.inner_text() == ja["status.scheduled"]
    # language names in their own form; the registration's language is preselected
    options = await page.locator("#channel option").all_inner_texts()
    floor_option = ja["stage.floor_option"].replace("{language}", "English")
    assert "日本語" in options and "中文" in options and floor_option in options
    assert await page.locator("#channel").input_value() == "ja"

    # switched on the page, the choice sticks over a reload (and beats the registration)
    await page.select_option("#page-language", "es")
    await page.wait_for_function("() => document.documentElement.lang === 'es'")
    assert await page.locator("#listen").inner_text() == catalog("es")["stage.start"]
    await page.reload()
    await page.wait_for_function("() => window.simultan && window.simultan.state.you")
    assert await page.evaluate("document.documentElement.lang") == "es"
    assert errors == []


async def test_fallback_indicator_appears_when_the_booth_empties(
    browser, server: LiveServer
) -> None:
    reg_id, _ = await server.person(Role.PARTICIPANT, "Wang Fang", language="zh")
    _, interpreter_token = await server.person(
        Role.INTERPRETER, "Li Wei", booth="zh", language="zh"
    )
    page, errors = await open_join_link(browser, server, reg_id)
    hearing = page.locator("[data-testid=hearing-status]")
    zh = catalog("zh")
    # nobody in the zh booth yet: the zh listener hears the original, and is told so (once
    # the page has rendered the snapshot: its first render may follow the welcome)
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=hearing-status]').dataset.kind"
    )
    assert await hearing.get_attribute("data-kind") == "fallback"
    assert await hearing.inner_text() == zh["stage.fallback"]

    interpreter = await server.connect(interpreter_token)
    await interpreter.recv_type("welcome")
    reply = await interpreter.request({"type": "booth", "booth": "zh", "action": "take"})
    assert reply["type"] == "reply", reply
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=hearing-status]').dataset.kind"
        " === 'interpretation'"
    )
    assert "中文" in await hearing.inner_text() or "汉语" in await hearing.inner_text()

    await interpreter.close()  # the booth empties: the channel falls back to the floor
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=hearing-status]').dataset.kind === 'fallback'"
    )
    assert await hearing.inner_text() == zh["stage.fallback"]
    assert await hearing.get_attribute("role") == "status"  # announced, not only shown
    assert errors == []


@pytest.mark.parametrize("width", [360, 390])
async def test_phone_layout_does_not_overflow(browser, server: LiveServer, width: int) -> None:
    reg_id, _ = await server.person(Role.PARTICIPANT, "Ana Costa", language="es")
    page, errors = await open_join_link(browser, server, reg_id)
    await page.set_viewport_size({"width": width, "height": 844})
    await page.locator("tr[data-item=opening]").wait_for()
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{scroll} px of content in {width} px"
    # the agenda's status column stays on screen
    box = await page.locator("tr[data-item=opening] .item-status").bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    assert errors == []


async def test_a_speaker_in_the_listeners_language_is_the_original_not_a_fallback(
    browser, server: LiveServer
) -> None:
    """No Japanese interpreter, and a Japanese speaker on screen while the floor language is
    still English (it follows a speaker a few seconds late, and a moderator may hold it):
    the Japanese listener hears the original in Japanese, and is told that, not "no
    interpreter"."""
    reg_id, _ = await server.person(Role.PARTICIPANT, "Kenji Mori", language="ja")
    spk_id, spk_token = await server.person(Role.PANELIST, "Aiko Sato", language="ja")
    _, mod_token = await server.person(Role.MODERATOR, "Mo Derator")
    page, errors = await open_join_link(browser, server, reg_id)
    hearing = page.locator("[data-testid=hearing-status]")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=hearing-status]').dataset.kind"
    )
    assert await hearing.get_attribute("data-kind") == "fallback"  # nobody speaks yet
    speaker = await server.connect(spk_token)
    await speaker.recv_type("welcome")
    moderator = await server.connect(mod_token)
    await moderator.recv_type("welcome")
    reply = await moderator.request({"type": "floor", "action": "give", "person_id": spk_id})
    assert reply["type"] == "reply", reply
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=hearing-status]').dataset.kind === 'original'"
    )
    floor = await page.evaluate("() => window.simultan.state.snapshot.floor")
    assert floor["language"] == "en" and floor["pending_language"] == "ja"  # not followed yet
    expected = catalog("ja")["stage.hearing_original"].replace("{language}", "日本語")
    assert await hearing.inner_text() == expected
    assert errors == []
