"""Chromium: the moderator opens two groups; two participant pages land in the same group and
hear each other's tones (AnalyserNode); a notice into every room reaches both; calling
everyone back returns both pages to the plenary without a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.e2e.conftest import CHROMIUM, chromium_args, open_join_link
from tests.e2e.test_media_browser import write_tone
from tests.hub.test_rooms_ws import FACILITATORS

pytestmark = [pytest.mark.browser, pytest.mark.media]

TONES = {"Ana Costa": 523.0, "Bo Lind": 784.0}


async def hears(page: Any, target: float, *, within: float = 30.0) -> float:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = 0.0
    while loop.time() < deadline:
        last = float(await page.evaluate("() => window.simultan.rooms.frequency(0)"))
        if abs(last - target) <= 12:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"expected {target} Hz from the other member, heard {last:.1f} Hz")


async def test_two_pages_in_one_group_hear_each_other_and_come_back(
    tmp_path: Path, clock: FakeClock, seminar: Any, playwright: Any
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True)
    browsers = []
    try:
        _, mod_token = await server.person(Role.MODERATOR, "Mo Derator")
        mod = await server.connect(mod_token)
        await mod.recv_type("welcome")
        pages = {}
        for name, hz in TONES.items():
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=chromium_args(fake_audio=write_tone(tmp_path / f"{hz:.0f}.wav", hz)),
            )
            browsers.append(browser)
            person_id, _ = await server.person(Role.PARTICIPANT, name)
            page, errors = await open_join_link(browser, server, person_id)
            await page.click("#listen")
            await page.wait_for_function("() => window.simultan.state.media")
            pages[person_id] = (page, errors)
        # Two more cities on plain sockets make the second group.
        others = []
        for name in ("Cy One", "Di Two"):
            pid, token = await server.person(Role.PARTICIPANT, name)
            client = await server.connect(token)
            await client.recv_type("welcome")
            others.append(pid)

        for email in FACILITATORS:  # the event file's facilitators are registered
            await server.person(Role.PARTICIPANT, email.split("@")[0], email=email)
        await mod.request(
            {"type": "timeline", "action": "start", "item_id": "morning-groups", "base_version": 0}
        )
        reply = await mod.request({"type": "rooms", "action": "plan", "method": "hand", "count": 2})
        assert reply["type"] == "reply", reply
        first, second = (r["id"] for r in reply["data"]["rooms"]["rooms"][1:])
        for pid in pages:
            assert (
                await mod.request(
                    {"type": "rooms", "action": "move", "person_id": pid, "room": first}
                )
            )["type"] == "reply"
        for pid in others:
            await mod.request({"type": "rooms", "action": "move", "person_id": pid, "room": second})
        reply = await mod.request({"type": "rooms", "action": "open"})
        assert reply["type"] == "reply", reply

        # Each page hears the other member's tone on its member slot.
        (a_id, (a, a_err)), (b_id, (b, b_err)) = pages.items()
        await a.locator("[data-testid=room-panel]").wait_for()
        assert first in (await a.locator("#room-panel").get_attribute("data-room") or "")
        await hears(a, TONES["Bo Lind"])
        await hears(b, TONES["Ana Costa"])
        await a.screenshot(path=str(tmp_path / "group-desktop.png"))

        # A notice into every room reaches both pages.
        reply = await mod.request({"type": "room_notice", "text": "Ten minutes left"})
        assert reply["type"] == "reply", reply
        for page in (a, b):
            await page.locator(
                "[data-testid=notice-banner]", has_text="Ten minutes left"
            ).wait_for()

        # Call everyone back: after 60 s both pages are in the plenary, same page (no reload).
        marker = await a.evaluate("() => (window.__kept = 1)")
        await mod.request({"type": "rooms", "action": "call_back"})
        server.clock.advance(seconds=61)
        for page in (a, b):
            await page.wait_for_function(
                "() => window.simultan.state.snapshot.rooms.phase === 'plenary'"
                " && window.simultan.rooms.media.stream === null",
                timeout=20000,
            )
            assert await page.locator("#room-panel").is_hidden()
        assert await a.evaluate("() => window.__kept") == marker
        assert server.app[SESSION].rooms.state.members("plenary") == tuple(
            sorted([*pages, *others])
        )
        assert a_err == [] and b_err == []
    finally:
        for browser in browsers:
            await browser.close()
        await runner.cleanup()
