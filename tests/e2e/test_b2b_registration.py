"""Chromium: the forum's registration form carries the B2B company profile (keyboard-usable,
axe-clean on desktop and phone); filled in with a logo, the company is in the B2B directory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from simultan.eventdef import load_event
from simultan.web.auth import registrations
from tests.conftest import FORUM, FakeClock, LiveServer, start_server
from tests.e2e.b2b_pages import tiny_png
from tests.e2e.test_accessibility import check

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SIMULTAN_SHOTS")


@pytest.fixture
async def forum(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveServer]:
    runner, live = await start_server(tmp_path, clock, load_event(FORUM), media_enabled=False)
    try:
        yield live
    finally:
        await runner.cleanup()


@pytest.mark.timeout(180)
async def test_register_with_a_company_profile_and_logo(
    browser: Any, forum: LiveServer, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1366, "height": 900})
    await page.goto(f"{forum.url}/register")
    fields = page.get_by_test_id("b2b-fields")
    await fields.wait_for()
    assert await check(page, "register (b2b)") == []
    for label, value in (("Name", "Dag Holm"), ("Email", "dag@vejle.example"),
                         ("City", "Vejle"), ("Country", "Denmark")):  # fmt: skip
        await page.get_by_label(label, exact=True).fill(value)
    await page.get_by_label("Organization").fill("Vejle Heat")
    await page.get_by_label("I take part in the B2B day").check()
    await page.get_by_label("Sector").fill("Energy")
    await page.get_by_label("What your company offers").fill("District heating")
    await page.get_by_label("What your company seeks").fill("Partners in Łódź")
    await page.get_by_label("Languages you speak").fill("da, en")
    logo = tmp_path / "logo.png"
    logo.write_bytes(tiny_png())
    await page.get_by_label("Logo (optional").set_input_files(str(logo))
    if SHOTS:
        for w, h in ((1366, 900), (390, 844)):
            await page.set_viewport_size({"width": w, "height": h})
            await page.screenshot(path=f"{SHOTS}/register-b2b-{w}.png", full_page=True)
    await page.get_by_role("button", name="Register").click()
    await page.get_by_text("You are registered").first.wait_for()
    reg = await registrations(forum.app).get_by_email("dag@vejle.example")
    assert reg is not None and reg.organization == "Vejle Heat"
    from simultan.store.b2b import B2BStore
    from simultan.web.keys import DB, EVENT

    store = B2BStore(forum.app[DB], forum.app[EVENT].event.id)
    stored = await store.profile(reg.id)
    assert stored is not None and stored.profile.offers == "District heating"
    assert await store.logo(reg.id) == (tiny_png(), "image/png")
