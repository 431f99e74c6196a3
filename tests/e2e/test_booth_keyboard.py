"""The interpreter console by keyboard alone: take the mic, ask for it, hand it over and
switch it off with single keys; the partner is named, the mic time shows as mm:ss."""

from __future__ import annotations

import re

import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import LiveServer
from tests.e2e.conftest import open_join_link

pytestmark = pytest.mark.browser


async def on_air(page) -> str:
    return await page.locator("[data-testid=on-air]").inner_text()


async def test_console_handover_by_keyboard_alone(browser, server: LiveServer) -> None:
    a_id, _ = await server.person(Role.INTERPRETER, "Tanaka Ken", booth="ja", language="en")
    b_id, _ = await server.person(Role.INTERPRETER, "Sato Yuki", booth="ja", language="ja")
    a, a_errors = await open_join_link(browser, server, a_id)
    b, b_errors = await open_join_link(browser, server, b_id)
    booth = server.app[SESSION].stage

    await a.keyboard.press("m")  # A takes the mic
    await a.wait_for_function(
        "() => document.querySelector('[data-testid=on-air]').textContent === 'ON AIR'"
    )
    assert booth.booths["ja"].live == a_id
    assert re.search(
        r"\b00:0\d on the mic", await a.locator("[data-testid=mic-timer]").inner_text()
    )
    # B's console is in Japanese (B registered in Japanese) and names the partner
    await b.wait_for_function("() => document.documentElement.lang === 'ja'")
    await b.wait_for_function(
        "() => document.querySelector('[data-testid=booth-state]').textContent.includes('Tanaka Ken')"
    )
    assert await on_air(b) == "オフ"

    await b.keyboard.press("h")  # B asks for the mic
    await a.wait_for_function(
        "() => document.querySelector('[data-testid=booth-state]').textContent"
        ".includes('Sato Yuki asks for the mic')"
    )
    await a.keyboard.press("h")  # A accepts: B is on air
    await b.wait_for_function(
        "() => document.querySelector('[data-testid=on-air]').textContent === 'オンエア'"
    )
    await a.wait_for_function(
        "() => document.querySelector('[data-testid=on-air]').textContent === 'OFF AIR'"
    )
    assert booth.booths["ja"].live == b_id and booth.booths["ja"].pending is None

    # a key typed into the chat box is text, not a command
    await b.locator("#chat-text").focus()
    await b.keyboard.press("m")
    assert booth.booths["ja"].live == b_id
    await b.locator("#chat-text").blur()

    await b.keyboard.press("m")  # B switches the mic off
    await b.wait_for_function(
        "() => document.querySelector('[data-testid=on-air]').textContent === 'オフ'"
    )
    assert booth.booths["ja"].live is None
    # every control is reachable by Tab as well: the take button is a focusable button
    await a.locator("button[data-booth=take]").focus()
    await a.keyboard.press("Enter")
    await a.wait_for_function(
        "() => document.querySelector('[data-testid=on-air]').textContent === 'ON AIR'"
    )
    assert a_errors == [] and b_errors == []
