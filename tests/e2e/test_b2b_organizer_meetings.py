"""Chromium: the organizer changes meetings from the B2B page by clicks and by the keyboard.

A move onto a slot where a participant is busy is refused: the typed reason shows in the
page's language (English, then Spanish) in the section's live region, and the schedule is
unchanged. A move by the keyboard (arrow keys, Tab, Enter) changes the slot and the table on
the server; an interpreter is booked for a language pair (the button stays disabled for a
pair of one language) and removed; a cancel takes a second press and then cancels the
meeting on the server. Every button is enabled only where it makes sense.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from simultan.core import b2b
from tests.conftest import LiveServer
from tests.e2e.b2b_pages import organizer_with_two_meetings
from tests.e2e.test_accessibility import check
from tests.e2e.test_b2b_page import forum as forum_fixture
from tests.e2e.test_b2b_page import open_b2b

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SIMULTAN_SHOTS")  # a folder: also take screenshots there

forum = forum_fixture  # the forum's server, shared with test_b2b_page


async def disabled(page: Any, element_id: str) -> bool:
    return bool(await page.locator(f"#{element_id}").is_disabled())


async def status(page: Any) -> str:
    return (await page.locator("#om-status").text_content() or "").strip()


async def test_organizer_moves_books_an_interpreter_and_cancels(
    browser: Any, forum: LiveServer
) -> None:
    people, ivy, org_id, org_token, schedule, slots = await organizer_with_two_meetings(forum)
    bo, cy = people["bo"][0], people["cy"][0]

    def meeting(mid: str) -> b2b.Meeting:
        return schedule.state.meetings[mid]  # the state is replaced on every change

    org, errors = await open_b2b(browser, forum, org_token)
    section = org.locator("#org-meeting")
    await section.wait_for(state="visible")
    pick = section.get_by_label("Meeting", exact=True)
    assert await pick.locator("option").count() == 2
    await pick.select_option("m1")
    # Nothing changed yet: no move, no booking; cancelling is possible.
    assert await disabled(org, "om-move-button") and await disabled(org, "om-book")
    assert await disabled(org, "om-unbook") and not await disabled(org, "om-cancel")
    assert "no interpreter" in (await org.locator("#om-current").text_content() or "")

    # A refused move: Ana already meets Cy in the second slot. The reason, nothing changed.
    await section.get_by_label("Slot", exact=True).select_option(slots[1].start.isoformat())
    assert not await disabled(org, "om-move-button")
    await section.get_by_role("button", name="Move meeting").click()
    await org.locator("#om-status[data-kind=error]").wait_for()
    assert await status(org) == "Someone in this meeting already has a meeting then."
    assert (meeting("m1").start, meeting("m1").table) == (slots[0].start, 1)
    assert (meeting("m2").start, meeting("m2").table) == (slots[1].start, 1)
    assert await org.locator("#om-status").get_attribute("role") == "status"
    await shot(org, "b2b-organizer-refused")

    # A move by the keyboard: the second meeting one slot later, at table 2.
    await pick.focus()
    await org.keyboard.press("ArrowDown")  # m2 (sorted by time)
    assert await pick.input_value() == "m2"
    await section.get_by_label("Slot", exact=True).focus()
    await org.keyboard.press("ArrowDown")  # the next slot
    await org.keyboard.press("Tab")  # the table
    await org.keyboard.press("ArrowDown")  # table 1 -> table 2
    await org.keyboard.press("Tab")  # the Move button
    assert await org.evaluate("() => document.activeElement.id") == "om-move-button"
    await org.keyboard.press("Enter")
    await org.locator("#om-status[data-kind=info]").wait_for()
    assert await status(org) == "Meeting moved: its participants get an updated invitation."
    assert (meeting("m2").start, meeting("m2").table) == (slots[2].start, 2)
    assert (meeting("m1").start, meeting("m1").table) == (slots[0].start, 1)
    assert await disabled(org, "om-move-button")  # where it is now: nothing to move
    # the grid shows it there
    row = org.locator("#grid tbody tr").nth(2)
    assert "Cy Larsen" in (await row.locator("td").nth(1).text_content() or "")

    # An interpreter for a language pair: one language twice is no pair.
    await pick.select_option("m1")
    await section.get_by_label("Interpreter", exact=True).select_option(ivy)
    await section.get_by_label("First language").select_option("pl")
    await section.get_by_label("Second language").select_option("pl")
    assert await disabled(org, "om-book")
    assert await org.locator("#om-hint").text_content() == "Choose two different languages."
    await section.get_by_label("Second language").select_option("da")
    assert not await disabled(org, "om-book")
    await section.get_by_role("button", name="Book interpreter").focus()
    await org.keyboard.press("Space")
    await org.get_by_text("Interpreter Ivy Interpreter booked for pl–da.").first.wait_for()
    booked = meeting("m1").interpretation
    assert booked is not None and booked.interpreter == ivy and booked.languages == ("pl", "da")
    assert await disabled(org, "om-book") and not await disabled(org, "om-unbook")
    assert "interpreter Ivy Interpreter (pl–da)" in (
        await org.locator("#om-current").text_content() or ""
    )
    await shot(org, "b2b-organizer-meetings")
    await section.get_by_role("button", name="Remove interpreter").click()
    await org.get_by_text("Interpreter removed.").first.wait_for()
    assert meeting("m1").interpretation is None
    assert await disabled(org, "om-unbook")

    # Cancel takes a second press (everyone gets a mail).
    await pick.select_option("m2")
    await section.get_by_role("button", name="Cancel this meeting").click()
    confirm = section.get_by_role("button", name="Press again to cancel it")
    await confirm.wait_for()
    assert not meeting("m2").cancelled
    await confirm.click()
    await org.get_by_text("Meeting cancelled.").first.wait_for()
    assert meeting("m2").cancelled and not meeting("m1").cancelled
    assert await pick.locator("option").count() == 1

    # The refusal in the page's language: Spanish.
    bo_cy = "m3"
    await schedule.run(b2b.Schedule(bo_cy, (bo, cy), slots[1].start, 1), org_id)
    await org.locator("#page-language").select_option("es")
    await org.wait_for_function("() => document.documentElement.lang === 'es'")
    await org.evaluate("() => window.simultanB2B.refresh()")
    await section.get_by_label("Reunión", exact=True).select_option("m1")
    await section.get_by_label("Franja", exact=True).select_option(slots[1].start.isoformat())
    await section.get_by_role("button", name="Mover la reunión").click()
    await org.locator("#om-status[data-kind=error]").wait_for()
    assert await status(org) == "Alguien de esta reunión ya tiene otra reunión a esa hora."
    assert meeting("m1").start == slots[0].start
    await org.locator("#page-language").select_option("en")
    assert await check(org, "b2b organizer meetings") == []
    assert errors == []


async def shot(page: Any, name: str) -> None:
    if not SHOTS:
        return
    for w, h in ((1280, 800), (390, 844)):
        await page.set_viewport_size({"width": w, "height": h})
        await page.locator("#org-meeting").scroll_into_view_if_needed()
        await page.screenshot(path=f"{SHOTS}/{name}-{w}.png")
        await page.screenshot(path=f"{SHOTS}/{name}-{w}-full.png", full_page=True)
    await page.set_viewport_size({"width": 1366, "height": 900})
