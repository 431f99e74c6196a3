"""Chromium: a company asks another for a meeting, it accepts; at the slot time the server's
clock opens the room, one page joins, the other joins late (still admitted before the end),
both hear each other's tones (AnalyserNode on the member slot); at the end plus the grace the
server closes the room and both pages leave it by themselves and move on to the schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, LiveServer
from tests.e2e.b2b_pages import b2b_start, before_day, forum_server, seed_companies
from tests.e2e.conftest import CHROMIUM, chromium_args
from tests.e2e.test_b2b_page import open_b2b, refresh, shot
from tests.e2e.test_media_browser import write_tone

pytestmark = [pytest.mark.browser, pytest.mark.media]

TONES = {"ana": 523.0, "bo": 784.0}
GRACE = 30


@pytest.fixture
async def forum(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveServer]:
    async with forum_server(tmp_path, clock, media_enabled=True, b2b_grace_seconds=GRACE) as live:
        yield live


async def hears(page: Any, target: float, *, within: float = 30.0) -> float:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = 0.0
    while loop.time() < deadline:
        last = float(await page.evaluate("() => window.simultanB2B.frequency(0)"))
        if abs(last - target) <= 12:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"expected {target} Hz from the other company, heard {last:.1f} Hz")


async def test_both_pages_meet_hear_each_other_and_the_room_closes_at_the_end(
    tmp_path: Path, playwright: Any, forum: LiveServer
) -> None:
    people = await seed_companies(forum)
    before_day(forum)
    browsers, pages = [], {}
    try:
        for who, hz in TONES.items():
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=chromium_args(fake_audio=write_tone(tmp_path / f"{hz:.0f}.wav", hz)),
            )
            browsers.append(browser)
            pages[who] = await open_b2b(browser, forum, people[who][1])
        (ana, ana_errors), (bo, bo_errors) = pages["ana"], pages["bo"]
        row = ana.locator(f'li[data-person="{people["bo"][0]}"]')
        await row.get_by_role("button", name="Ask for a meeting").click()
        await ana.get_by_text("Request sent to Aarhus Water.").first.wait_for()
        await refresh(bo)
        await bo.locator("#requests li").first.get_by_role("button", name="Accept").click()
        await bo.get_by_text("Accepted: the meeting is in your schedule.").first.wait_for()
        await refresh(ana)

        # The slot starts: the server's clock tells both pages the room is open.
        start = b2b_start(forum)
        forum.clock.now = start + timedelta(minutes=1)
        await ana.get_by_text("Your meeting's room is open: join now.").first.wait_for()
        join = ana.get_by_role("button", name="Join the meeting")
        await join.wait_for()
        await ana.wait_for_function("() => !document.querySelector('#room-join').disabled")
        await join.click()
        await ana.wait_for_function("() => window.simultanB2B.inMeeting() !== null")

        # Bo is late (ten minutes in): still admitted before the end.
        forum.clock.now = start + timedelta(minutes=10)
        await refresh(bo)
        await bo.wait_for_function("() => !document.querySelector('#room-join').disabled")
        await bo.get_by_role("button", name="Join the meeting").click()
        await bo.get_by_text("You are in the meeting.").first.wait_for()
        await hears(ana, TONES["bo"])
        await hears(bo, TONES["ana"])
        assert await bo.locator("#room-hearing").text_content() == (
            "You hear the other companies directly."
        )
        await shot(bo, "b2b-meeting")
        rooms = forum.app[SESSION].b2b_rooms
        assert rooms is not None and len(rooms.seats) == 2

        # The last minute, then the end plus the grace: the server closes the room.
        forum.clock.now = start + timedelta(minutes=24, seconds=10)
        await refresh(ana)
        await ana.locator("#room-warning").wait_for(state="visible")
        forum.clock.now = start + timedelta(minutes=25, seconds=GRACE)
        for page in (ana, bo):
            await page.wait_for_function("() => window.simultanB2B.inMeeting() === null")
            await page.locator("#room-card").wait_for(state="hidden")
            status = await page.locator("#status").text_content() or ""
            assert "The meeting has ended. No more meetings today." in status, status
        assert rooms.seats == {}
        assert await ana.locator("#room-media figure").count() == 0
        assert ana_errors == [] and bo_errors == []
    finally:
        for browser in browsers:
            await browser.close()
