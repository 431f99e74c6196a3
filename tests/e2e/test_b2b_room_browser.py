"""Chromium, with the server's explicit clock: a participant's page moves from one meeting's
room to the next by itself, and each side of an interpreted meeting chooses what it hears.

- Ana has two consecutive meetings (Bo, then Cy after the break). When the first room
  closes, her page leaves it, says when the next one is, and joins the second meeting's room
  by itself as soon as it opens (no click): its title names Cy and she hears Cy's tone. After
  the last meeting the page shows (scrolls to and focuses) her schedule.
- Ana (Polish) and Bo (English) meet; the organizer books Ivy for Polish and English while
  they are in the room (the server tells their pages at once, and they join again, now
  with the channel); by default both
  hear the interpretation (the mix's dominant tone is Ivy's); Bo clicks "The original
  voices" and then hears Ana's tone, Ana keeps Ivy's; Ana chooses the original with the
  keyboard and then hears Bo's. The server's seats follow each choice (``b2b_hear``).
Tones are read with a WebAudio AnalyserNode (dominant frequency) on the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from simultan.core import b2b
from simultan.web.b2b import SCHEDULE
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, LiveServer
from tests.e2e.b2b_pages import before_day, forum_server, seed_companies
from tests.e2e.conftest import CHROMIUM, chromium_args
from tests.e2e.test_b2b_page import open_b2b, refresh, shot
from tests.e2e.test_media_browser import write_tone

pytestmark = [pytest.mark.browser, pytest.mark.media]

TONES = {"ana": 523.0, "bo": 784.0, "cy": 659.0, "ivy": 1047.0}
GRACE = 30


@pytest.fixture
async def forum(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveServer]:
    async with forum_server(tmp_path, clock, media_enabled=True, b2b_grace_seconds=GRACE) as live:
        yield live


async def hears(page: Any, target: float, slot: str = "0", *, within: float = 30.0) -> float:
    """Wait until the page's slot (a member index, "channel" or "mix") carries ``target``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = 0.0
    arg: int | str = int(slot) if slot.isdigit() else slot
    while loop.time() < deadline:
        last = float(await page.evaluate("(i) => window.simultanB2B.frequency(i)", arg))
        if abs(last - target) <= 12:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"expected {target} Hz on {slot}, heard {last:.1f} Hz")


async def launch(playwright: Any, tmp_path: Path, who: str) -> Any:
    hz = TONES[who]
    return await playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=chromium_args(fake_audio=write_tone(tmp_path / f"{hz:.0f}.wav", hz)),
    )


async def join(page: Any) -> None:
    await page.wait_for_function("() => !document.querySelector('#room-join').disabled")
    await page.get_by_role("button", name="Join the meeting").click()
    await page.wait_for_function("() => window.simultanB2B.inMeeting() !== null")


async def test_the_page_moves_into_the_next_meeting_and_then_to_the_schedule(
    tmp_path: Path, playwright: Any, forum: LiveServer
) -> None:
    people = await seed_companies(forum)
    before_day(forum)
    schedule = forum.app[SCHEDULE]
    first, second = schedule.state.grid.slots()[:2]
    assert second.start > first.end  # a break between them: the second room opens later
    ana, bo, cy = (people[w][0] for w in ("ana", "bo", "cy"))
    await schedule.run(b2b.Schedule("m1", (ana, bo), first.start, 1), "org")
    await schedule.run(b2b.Schedule("m2", (ana, cy), second.start, 1), "org")
    browsers, pages = [], {}
    try:
        for who in ("ana", "bo", "cy"):
            browser = await launch(playwright, tmp_path, who)
            browsers.append(browser)
            pages[who] = await open_b2b(browser, forum, people[who][1])
        (a, a_errors), (b, b_errors), (c, c_errors) = pages["ana"], pages["bo"], pages["cy"]

        forum.clock.now = first.start + timedelta(minutes=1)
        await refresh(a, b)
        await join(a)
        await join(b)
        assert "Bo Jensen (Aarhus Water)" in (await a.locator("#room-who").text_content() or "")
        await hears(a, TONES["bo"])

        # The first room closes: Ana's page leaves it and waits for the next one.
        forum.clock.now = first.end + timedelta(seconds=GRACE)
        await a.wait_for_function("() => window.simultanB2B.inMeeting() === null")
        status = await a.locator("#status").text_content() or ""
        assert status.startswith("The meeting has ended. Your next meeting:"), status
        await a.wait_for_function(
            "() => document.querySelector('#room-card').dataset.phase === 'upcoming'"
        )
        assert "Cy Larsen (Odense Bikes)" in (await a.locator("#room-who").text_content() or "")
        assert await a.locator("#room-media figure").count() == 0

        # The second room opens (the server's clock): the page joins it by itself.
        forum.clock.now = second.start + timedelta(minutes=1)
        await a.wait_for_function("() => window.simultanB2B.inMeeting() === 'm2'")
        who = await a.locator("#room-who").text_content() or ""
        assert who.startswith("Table 1 with Cy Larsen (Odense Bikes)"), who
        await a.locator("#room-media figcaption").first.wait_for()
        captions = await a.locator("#room-media figcaption").all_text_contents()
        assert captions == ["Cy Larsen (Odense Bikes)"]
        await refresh(c)
        await join(c)
        await hears(a, TONES["cy"])
        await hears(a, TONES["cy"], "mix")
        rooms = forum.app[SESSION].b2b_rooms
        assert rooms is not None
        assert {s.meeting_id for s in rooms.seats.values()} == {"m2"}

        # After the last meeting: out of the room, onto the schedule.
        forum.clock.now = second.end + timedelta(seconds=GRACE)
        await a.wait_for_function("() => window.simultanB2B.inMeeting() === null")
        await a.locator("#room-card").wait_for(state="hidden")
        status = await a.locator("#status").text_content() or ""
        assert status == "The meeting has ended. No more meetings today.", status
        await a.wait_for_function("() => document.activeElement.id === 'schedule-heading'")
        top = await a.evaluate(
            "() => document.querySelector('#schedule-heading').getBoundingClientRect().top"
        )
        assert 0 <= top < 900
        assert rooms.seats == {}
        assert a_errors == [] and b_errors == [] and c_errors == []
    finally:
        for browser in browsers:
            await browser.close()


async def test_each_side_hears_the_interpretation_or_the_original(
    tmp_path: Path, playwright: Any, forum: LiveServer
) -> None:
    people = await seed_companies(forum, languages={"ana": "pl"})
    ivy, ivy_token = await forum.person("interpreter", "Ivy Interpreter", booth="pl")
    before_day(forum)
    schedule = forum.app[SCHEDULE]
    slot = schedule.state.grid.slots()[0]
    ana, bo = people["ana"][0], people["bo"][0]
    await schedule.run(b2b.Schedule("m1", (ana, bo), slot.start, 1), "org")
    browsers, pages = [], {}
    try:
        for who, token in (("ana", people["ana"][1]), ("bo", people["bo"][1]),
                           ("ivy", ivy_token)):  # fmt: skip
            browser = await launch(playwright, tmp_path, who)
            browsers.append(browser)
            pages[who] = await open_b2b(browser, forum, token)
        (a, a_errors), (b, b_errors), (i, i_errors) = pages["ana"], pages["bo"], pages["ivy"]
        forum.clock.now = slot.start + timedelta(minutes=1)
        await refresh(a, b)
        for page in (a, b):
            await join(page)
        # No interpreter yet: no choice, the original.
        await a.get_by_text("You hear the other companies directly.").wait_for()
        assert await a.locator("#room-hear").is_hidden()
        await hears(a, TONES["bo"], "mix")
        # The organizer books Ivy while they meet: the server tells the three pages at once
        # (no refresh here), both companies' pages join again, with the channel, and say so.
        await schedule.run(b2b.BookInterpreter("m1", ivy, ("pl", "en")), "org")
        for page in (a, b):
            await page.wait_for_function(
                "() => document.querySelector('#status').textContent"
                ".includes('An interpreter is now in this meeting')",
                timeout=5000,
            )
        await join(i)
        rooms = forum.app[SESSION].b2b_rooms
        assert rooms is not None
        await a.wait_for_function(
            "() => document.querySelectorAll('#room-media figure').length == 1"
        )

        def chosen(person: str) -> str:
            assert rooms is not None
            return next(s.hear for s in rooms.seats.values() if s.person_id == person)

        # The choice is there for both companies (not for the interpreter); by default
        # (their languages are the pair's) both hear the interpretation.
        for page in (a, b):
            choice = page.get_by_role("group", name="What you hear")
            await choice.wait_for()
            assert await choice.get_by_role("radio", name="The interpretation (pl–en)").is_checked()
            assert not await choice.get_by_role("radio", name="The original voices").is_checked()
        assert await i.locator("#room-hear").is_hidden()
        await hears(a, TONES["ivy"], "mix")
        await hears(b, TONES["ivy"], "mix")
        assert (chosen(ana), chosen(bo)) == ("auto", "auto")

        # Bo clicks the original: he hears Ana; Ana still hears Ivy.
        await b.get_by_role("radio", name="The original voices").click()
        await b.get_by_text("You hear the other companies directly.").wait_for()
        assert chosen(bo) == "original"
        await hears(b, TONES["ana"], "mix")
        assert await b.evaluate("() => window.simultanB2B.hearing()") == "original"
        await shot(b, "b2b-room-hear")
        await hears(a, TONES["ivy"], "mix")

        # Ana chooses the original with the keyboard (arrow keys in the radio group).
        await a.get_by_role("radio", name="The interpretation (pl–en)").focus()
        await a.keyboard.press("ArrowDown")
        await a.wait_for_function("() => window.simultanB2B.hearing() === 'original'")
        assert chosen(ana) == "original"
        await hears(a, TONES["bo"], "mix")
        # and back to the interpretation (Polish): Ivy again
        await a.keyboard.press("ArrowUp")
        await a.get_by_text("You hear the interpretation (pl), the original softer.").wait_for()
        assert chosen(ana) == "interpretation"
        await hears(a, TONES["ivy"], "mix")
        await hears(b, TONES["ana"], "mix")
        assert a_errors == [] and b_errors == [] and i_errors == []
    finally:
        for browser in browsers:
            await browser.close()
