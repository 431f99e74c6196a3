"""Chromium: four working pages in a second language (Spanish, the booth in Japanese), at
1366x900 and on a 390x844 phone: the control page's Floor tab with hands raised and live
speakers, its Groups tab with a preview of groups, the interpreter's console, and the B2B
organizer's meetings. Each shows its catalog's text (no English left where the catalog
has a translation) and nothing runs wider than the phone. With SIMULTAN_SHOTS set, each
is also saved as <name>-desktop.png and <name>-phone.png to look at."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from tests.conftest import FakeClock, LiveServer, start_server
from tests.e2e.b2b_pages import organizer_with_two_meetings
from tests.e2e.conftest import open_join_link
from tests.e2e.test_b2b_page import forum as forum_fixture
from tests.e2e.test_b2b_page import open_b2b
from tests.e2e.test_rooms_browser import plan_two_groups
from tests.e2e.test_runofshow_browser import shoot

pytestmark = pytest.mark.browser

I18N = Path(__file__).resolve().parents[2] / "client" / "i18n"
forum = forum_fixture
SHOTS = os.environ.get("SIMULTAN_SHOTS")


def catalog(lang: str) -> dict[str, str]:
    return dict(json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8")))


async def shown(page: Any, selector: str, lang: str, *keys: str) -> None:
    """Each key's text in ``lang`` (its {placeholders} cut off) is in ``selector``'s text."""
    texts = catalog(lang)
    body = await page.locator(selector).first.inner_text()
    for key in keys:
        wanted = texts[key].split("{")[0].strip()
        assert wanted and wanted in body, (key, wanted, body[:400])


async def fits_a_phone(page: Any, name: str, section: str) -> None:
    """The screenshots (and on the phone, one of ``section`` scrolled into view), and on the
    phone nothing wider than the screen."""
    await shoot(page, name)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.wait_for_timeout(100)
    if SHOTS:
        await page.locator(section).first.scroll_into_view_if_needed()
        await page.screenshot(path=str(Path(SHOTS) / f"{name}-phone-section.png"))
    wide = await page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth,"
        " [...document.querySelectorAll('body *')].filter((e) => {"
        "   const r = e.getBoundingClientRect();"
        "   return r.width && r.right > window.innerWidth + 1; }).slice(0, 5)"
        "  .map((e) => e.tagName + '#' + e.id + '.' + e.className)]"
    )
    await page.set_viewport_size({"width": 1366, "height": 900})
    assert wide[0] <= wide[1], (name, wide)


async def test_control_floor_groups_and_the_booth_in_a_second_language(
    tmp_path: Path, clock: FakeClock, seminar: Any, browser: Any
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=False)
    try:
        mod_id, mod_token = await server.person(Role.MODERATOR, "Mo Derator", language="es")
        ws = await server.connect(mod_token)
        await ws.recv_type("welcome")
        hands = []
        for name, lang in (("Kyoto Delegate", "ja"), ("Bea Lyon", "fr"), ("Cy Odense", "en")):
            pid, token = await server.person(Role.PARTICIPANT, name, language=lang)
            city = await server.connect(token)
            await city.recv_type("welcome")
            assert (await city.request({"type": "raise_hand"}))["type"] == "reply"
            hands.append(pid)
            clock.advance(minutes=2)
        spk_id, spk_token = await server.person(Role.PANELIST, "Speaker Sam", language="es")
        await (await server.connect(spk_token)).recv_type("welcome")
        li_id, _ = await server.person(Role.INTERPRETER, "Li Wei", booth="zh", language="ja")
        await server.person(Role.INTERPRETER, "Zhang Min", booth="zh", language="ja")
        for message in (
            {"type": "floor", "action": "give", "person_id": spk_id},
            {"type": "floor", "action": "give", "person_id": hands[2]},
        ):
            assert (await ws.request(message))["type"] == "reply"

        # 1. the Floor tab: hands raised, live speakers, in the moderator's Spanish
        control, control_errors = await open_join_link(browser, server, mod_id)
        await control.wait_for_function("() => document.documentElement.lang === 'es'")
        await control.click("#tab-floor")
        await control.locator("[data-testid=hand-list] li").nth(1).wait_for()
        await control.locator("[data-testid=panel-list] li").nth(1).wait_for()
        await shown(control, "[data-testid=tabs]", "es", "control.tab_floor", "control.tab_groups")
        await shown(control, "#panel-floor", "es", "control.lower_all")
        # both live speakers are named on the floor, and neither is offered it again
        await control.wait_for_function(
            "() => document.querySelector('#floor-holder').textContent.includes('Cy Odense')"
        )
        holder = await control.locator("#floor-holder").inner_text()
        assert "Speaker Sam" in holder and " y " in holder, holder  # "A y B"
        assert "tiene la palabra" in await control.locator("#speakers li[data-live]").inner_text()
        now = await control.locator("#floor-now").inner_text()  # each in their language
        assert (
            "Speaker Sam (Testville) · español" in now and "Cy Odense (Testville) · inglés" in now
        )
        await fits_a_phone(control, "es-control-floor", "#hands")

        # 2. the interpreter's console in Japanese
        booth, booth_errors = await open_join_link(browser, server, li_id)
        await booth.wait_for_function("() => document.documentElement.lang === 'ja'")
        await booth.locator("[data-testid=on-air]").wait_for()
        await shown(booth, "body", "ja", "booth.off_air", "booth.chat")
        # two live speakers: one list in Japanese (、), not joined by an English "; "
        speaking = await booth.locator("[data-testid=speaking]").inner_text()
        assert "Speaker Sam" in speaking and "Cy Odense" in speaking and ";" not in speaking
        # an agenda item's speakers too (the city pairs showcase has two)
        now_next = await booth.locator("[data-testid=now-next]").inner_text()
        assert "(English)、Latin American city representative" in now_next, now_next
        await fits_a_phone(booth, "ja-booth", "#chat-form")

        # 3. the Groups tab with a preview of two groups
        await plan_two_groups(server, ws)
        await control.click("#tab-groups")
        await control.locator("[data-testid=rooms-list] > li.room").nth(2).wait_for()
        await shown(control, "#panel-groups", "es", "control.rooms_open")
        await shown(control, "[data-room=plenary]", "es", "control.rooms_plenary")
        await fits_a_phone(control, "es-control-groups", "#rooms-list")
        assert control_errors == [] and booth_errors == []
    finally:
        for c in server.clients:
            await c.close()
        await runner.cleanup()


async def test_b2b_organizer_meetings_in_spanish(browser: Any, forum: LiveServer) -> None:
    _, ivy, _, org_token, _, _ = await organizer_with_two_meetings(forum, "es")
    org, errors = await open_b2b(browser, forum, org_token)
    await org.wait_for_function("() => document.documentElement.lang === 'es'")
    section = org.locator("#org-meeting")
    await section.wait_for(state="visible")
    await section.locator("#om-meeting").select_option("m1")
    await shown(org, "#org-meeting", "es", "b2b.om_move", "b2b.om_cancel", "b2b.om_book")
    await org.locator("#org-meeting").scroll_into_view_if_needed()
    await fits_a_phone(org, "es-b2b-organizer", "#org-meeting")
    assert ivy and errors == []
