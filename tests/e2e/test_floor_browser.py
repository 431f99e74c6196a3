"""The floor in Chromium: a city raises a hand on its stage page, the moderator's control page
sees it in the queue and gives the floor, the city's page publishes its fake camera and
microphone (a tone) without a new link, a second participant hears that tone and sees the
video, and taking the floor back stops the city's publishing."""

from __future__ import annotations

from pathlib import Path

import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.e2e.conftest import CHROMIUM, chromium_args, open_join_link
from tests.e2e.test_media_browser import heard, write_tone

pytestmark = [pytest.mark.browser, pytest.mark.media]

CITY_HZ = 659.0


async def test_city_raises_hand_gets_the_floor_and_is_heard(
    tmp_path: Path, clock: FakeClock, seminar, browser, playwright
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True)
    voice = write_tone(tmp_path / "city.wav", CITY_HZ)
    city_browser = await playwright.chromium.launch(
        executable_path=CHROMIUM, args=chromium_args(fake_audio=voice)
    )
    try:
        city_id, _ = await server.person(Role.PARTICIPANT, "Kyoto Delegate", language="ja")
        part_id, _ = await server.person(Role.PARTICIPANT, "Ana Costa", language="en")
        mod_id, _ = await server.person(Role.MODERATOR, "Mo Derator")
        city, city_errors = await open_join_link(city_browser, server, city_id)
        moderator, mod_errors = await open_join_link(browser, server, mod_id)

        # the city raises its hand by keyboard, in the language it registered with
        assert await city.locator("#hand-language").input_value() == "ja"
        await city.keyboard.press("h")
        await city.wait_for_function(
            "() => document.querySelector('[data-testid=hand-place]').textContent.includes('1')"
        )
        assert await city.locator("#raise-hand").get_attribute("aria-pressed") == "true"
        # raising twice: a typed error, nothing stored, no event, the page unchanged
        seq = server.app[SESSION].hub.seq
        again = await city.evaluate(
            "() => window.simultan.live.request({type: 'raise_hand'}).then(() => 'ok', e => e.code)"
        )
        assert again == "unchanged" and server.app[SESSION].hub.seq == seq
        assert await city.locator("#raise-hand").get_attribute("aria-pressed") == "true"

        # the moderator sees the hand (name, city, language) and gives the floor from the queue
        await moderator.click("#tab-floor")  # the control page's floor section
        hand = moderator.locator("[data-testid=hand-list] li")
        await hand.first.wait_for()
        text = await hand.first.inner_text()
        assert "Kyoto Delegate" in text and "Japanese" in text
        await moderator.click("[data-testid=hand-list] [data-testid=give-floor]")

        # the city's page starts its media by itself and publishes camera and microphone
        await city.wait_for_function(
            "() => window.simultan.media && window.simultan.media.isPublishing()", timeout=15000
        )
        await city.wait_for_function(
            "() => !document.querySelector('[data-testid=live-box]').hidden"
        )
        assert await city.locator("#hand-place").inner_text() == ""
        session = server.app[SESSION]
        assert session.floor.may_publish(city_id)

        # a second participant hears the city's tone and sees its video, and who speaks
        participant, part_errors = await open_join_link(browser, server, part_id)
        await participant.click("#listen")
        await participant.wait_for_function("() => window.simultan.media")
        await heard(participant, CITY_HZ, within=20.0)
        await participant.wait_for_function(
            "() => document.querySelector('#floor-video').videoWidth > 0", timeout=15000
        )
        speaking = await participant.locator("[data-testid=speaking-list]").inner_text()
        assert "Kyoto Delegate" in speaking

        # the moderator takes the floor back: the city's page stops publishing
        await moderator.click("[data-testid=panel-list] [data-testid=take-back]")
        await city.wait_for_function("() => !window.simultan.media.isPublishing()")
        assert not session.floor.may_publish(city_id)
        assert city_errors == [] and mod_errors == [] and part_errors == []
    finally:
        await city_browser.close()
        await runner.cleanup()
