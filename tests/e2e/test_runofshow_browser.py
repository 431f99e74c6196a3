"""The run-of-show in Chromium, with the server's clock explicit: the moderator starts an item
and the control page, a participant's stage and an interpreter's console count it down; the
clock alone turns it to warning, cues the next item (its panelist's page says "you are on
next"), then an overrun shows "running late" and the participant's local-time agenda moves,
with no command, in each participant's own time zone (Tokyo and Guadalajara). The moderator takes the invited panelist live from the floor panel and
the booth console names who speaks and what the booth will hear once the floor language
follows them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from tests.conftest import FakeClock, start_server
from tests.e2e.conftest import open_join_link

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("SIMULTAN_SHOTS")  # a folder: also save screenshots there


async def shoot(page: Any, name: str) -> None:
    if not SHOTS:
        return
    for label, (w, h) in {"desktop": (1366, 900), "phone": (390, 844)}.items():
        await page.set_viewport_size({"width": w, "height": h})
        await page.screenshot(path=str(Path(SHOTS) / f"{name}-{label}.png"), full_page=False)
    await page.set_viewport_size({"width": 1366, "height": 900})


async def phase(page: Any, value: str) -> None:
    await page.wait_for_function(
        f"() => document.querySelector('[data-testid=countdown]').dataset.phase === '{value}'"
    )


async def test_the_pages_follow_the_run_of_show_with_no_command(
    tmp_path: Path, clock: FakeClock, seminar: Any, browser: Any
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=False)
    try:
        mod_id, _ = await server.person(Role.MODERATOR, "Mo Derator")
        ana_id, _ = await server.person(Role.PARTICIPANT, "Ana Costa")  # lives in Tokyo
        gdl_id, _ = await server.person(
            Role.PANELIST,
            "Ana Ruiz",
            city="Guadalajara",
            language="es",
            timezone="America/Mexico_City",
        )
        li_id, _ = await server.person(Role.INTERPRETER, "Li Wei", booth="zh")
        control, e1 = await open_join_link(browser, server, mod_id)
        stage, e2 = await open_join_link(browser, server, ana_id)
        panelist, e3 = await open_join_link(browser, server, gdl_id)
        booth, e4 = await open_join_link(browser, server, li_id)

        clock.advance(minutes=10)  # 09:00 in Brussels: the moderator starts the opening
        await control.locator("#timeline-controls [data-action=start]").click()
        for page in (control, stage, booth):
            await phase(page, "normal")
            text = await page.locator("[data-testid=countdown]").text_content()
            assert "left" in text and any(t in text for t in ("30:00", "29:5")), text

        # 09:25: warning, and the showcase's cue; its panelist is invited
        clock.advance(minutes=25)
        for page in (control, stage, booth):
            await phase(page, "warning")
        cue = stage.locator("[data-testid=next-up]")
        await cue.wait_for(state="visible")
        assert "City pairs showcase" in await cue.text_content()
        await panelist.locator("[data-testid=on-next]").wait_for(state="visible")
        assert "5 min" in await control.locator("#next-items li.cue").text_content()
        # the floor tab offers her first (the tab is not the one open: attached, not shown)
        await (
            control.locator("#invited-list li")
            .filter(has_text="Ana Ruiz")
            .wait_for(state="attached")
        )
        await shoot(control, "control-runofshow")
        await shoot(panelist, "stage-on-next")

        # 09:37: the opening runs over; the day is 7 min late and the agenda moved
        clock.advance(minutes=12)
        for page in (control, stage, booth):
            await phase(page, "overrun")
        await stage.wait_for_function(
            "() => document.querySelector('[data-testid=running-late]').textContent"
            ".includes('7 min')"
        )
        row = stage.locator("tr[data-item=pairs-showcase] td.time").first
        assert (await row.text_content()).startswith("17:37")  # 08:37 UTC in Tokyo
        # the same move, with no command, in another participant's time zone
        await panelist.wait_for_function(
            "() => document.querySelector('[data-testid=running-late]').textContent"
            ".includes('7 min')"
        )
        there = panelist.locator("tr[data-item=pairs-showcase] td.time").first
        assert (await there.text_content()).startswith("02:37")  # 08:37 UTC in Guadalajara
        await shoot(stage, "stage-runofshow")

        # the moderator takes the invited panelist live: the booth names her and says what
        # it will hear once the floor speaks Spanish
        await control.locator("#tab-floor").click()
        await control.locator("#invited-list li button").click()
        speaking = booth.locator("[data-testid=speaking]")
        await booth.wait_for_function(
            "() => document.querySelector('[data-testid=speaking]').textContent"
            ".includes('Guadalajara')"
        )
        assert "Spanish" in await speaking.text_content()
        coming = booth.locator("[data-testid=floor-coming]")
        await coming.wait_for(state="visible")
        text = await coming.text_content()
        assert "Spanish" in text and int(text.split(" s ")[0].split()[-1]) <= 3, text
        await shoot(booth, "booth-runofshow")
        assert not (e1 + e2 + e3 + e4)
    finally:
        await runner.cleanup()
