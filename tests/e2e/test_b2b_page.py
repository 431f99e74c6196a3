"""Chromium: a company asks another for a meeting, it accepts; both schedules show it in their
own time zone; at the slot the room's clock runs, warns a minute before the end and closes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FakeClock, LiveServer
from tests.e2e.b2b_pages import b2b_start, before_day, forum_server, seed_companies
from tests.e2e.test_accessibility import check

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SIMULTAN_SHOTS")  # a folder: also take screenshots there


@pytest.fixture
async def forum(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveServer]:
    async with forum_server(tmp_path, clock, media_enabled=False, b2b_grace_seconds=30) as live:
        yield live


async def open_b2b(browser: Any, server: LiveServer, token: str) -> tuple[Any, list[str]]:
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{server.url}/join/{token}?next=b2b")
    await page.wait_for_function("() => window.simultanB2B && window.simultanB2B.state.me")
    return page, errors


async def refresh(*pages: Any) -> None:
    for page in pages:
        await page.evaluate("() => window.simultanB2B.refresh()")


async def shot(page: Any, name: str) -> None:
    if not SHOTS:
        return
    for w, h in ((1366, 900), (390, 844)):
        await page.set_viewport_size({"width": w, "height": h})
        await page.screenshot(path=f"{SHOTS}/{name}-{w}.png", full_page=True)
    await page.set_viewport_size({"width": 1366, "height": 900})


async def test_request_accept_schedule_and_the_room_clock(browser: Any, forum: LiveServer) -> None:
    people = await seed_companies(forum, zones={"bo": "America/Sao_Paulo"})
    before_day(forum)
    ana, ana_errors = await open_b2b(browser, forum, people["ana"][1])
    bo, bo_errors = await open_b2b(browser, forum, people["bo"][1])
    assert ana.url.endswith("/b2b")  # the token left the address bar
    row = ana.locator(f'li[data-person="{people["bo"][0]}"]')
    # the languages a company speaks by name, as the page's language lists them
    assert "speaks Danish and English" in await row.inner_text()
    await row.get_by_role("textbox", name="Message").fill("<b>Heat</b> and water?")
    await row.get_by_role("button", name="Ask for a meeting").click()
    await ana.get_by_text("Request sent to Aarhus Water.").first.wait_for()

    # Bo's page shows the request by itself (the server's b2b_schedule event; no reload).
    await bo.locator("#requests li").first.wait_for(timeout=5000)
    logo = bo.locator(f'li[data-person="{people["ana"][0]}"] .logo img')
    await logo.wait_for()
    assert await logo.evaluate("(img) => img.complete && img.naturalWidth") == 8
    request = bo.locator("#requests li").first
    assert await request.locator("p").first.text_content() == "<b>Heat</b> and water?"
    await shot(bo, "b2b-request")
    await request.get_by_role("button", name="Accept").click()
    await bo.get_by_text("Accepted: the meeting is in your schedule.").first.wait_for()
    await ana.locator("#schedule tr td").nth(2).wait_for(timeout=5000)  # by itself, too
    start = b2b_start(forum)
    # 09:00 in Łódź is 16:00 in Tokyo (Ana) and 04:00 in São Paulo (Bo): each person's own
    # zone first, the event's time in brackets.
    for page, other, local in ((ana, "Bo Jensen (Aarhus Water)", "16:00"),
                               (bo, "Ana Nowak (Widzew Energy)", "04:00")):  # fmt: skip
        cells = page.locator("#schedule tr td")
        assert await cells.nth(2).text_content() == other
        when = await cells.nth(0).text_content() or ""
        assert when.split("–")[0].endswith(local) and "09:00 Europe/Warsaw" in when, when
    assert "upcoming" == await ana.locator("#room-card").get_attribute("data-phase")

    forum.clock.now = start + timedelta(minutes=1)
    await refresh(ana, bo)
    await ana.wait_for_function(
        "() => document.querySelector('#room-card').dataset.phase === 'open'"
    )
    assert (await ana.locator("#room-clock").text_content()).endswith("left")
    assert await ana.locator("#room-warning").is_hidden()
    forum.clock.now = start + timedelta(minutes=24, seconds=20)  # 25-minute meetings
    await refresh(ana)
    await ana.locator("#room-warning").wait_for(state="visible")
    await shot(ana, "b2b-room")
    assert await check(ana, "b2b room") == []
    forum.clock.now = start + timedelta(minutes=25, seconds=31)  # past the 30 s grace
    await refresh(ana)
    await ana.locator("#room-card").wait_for(state="hidden")
    assert "No more meetings today" in (await ana.locator("#status").text_content() or "")
    assert ana_errors == [] and bo_errors == []


async def test_organizer_sees_the_grid_and_schedules_by_hand(
    browser: Any, forum: LiveServer
) -> None:
    people = await seed_companies(forum)
    before_day(forum)
    _, org_token = await forum.person("organizer", "Olga Organizer")
    org, errors = await open_b2b(browser, forum, org_token)
    await org.locator("#organizer").wait_for(state="visible")
    await org.locator("#m-people").select_option([people["ana"][0], people["cy"][0]])
    await org.locator("#manual").get_by_role("button", name="Schedule").click()
    await org.get_by_text("Meeting scheduled.").first.wait_for()
    cell = org.locator("#grid tbody tr").first.locator("td").first
    text = await cell.text_content() or ""
    assert sorted(text.split(" + ")) == ["Ana Nowak (Widzew Energy)", "Cy Larsen (Odense Bikes)"]
    await org.get_by_role("button", name="Report").click()
    await org.get_by_text("Meetings 1, held 0").wait_for()
    await shot(org, "b2b-organizer")
    assert await check(org, "b2b organizer") == []
    assert errors == []
