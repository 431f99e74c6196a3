"""The floor in Chromium: a city raises a hand on its stage page, the moderator's control page
sees it in the queue and gives the floor, the city's page publishes its fake camera and
microphone (a tone) without a new link, a second participant hears that tone and sees the
video, and taking the floor back stops the city's publishing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, LiveServer
from tests.e2e.conftest import media_server_and_mic_browser, open_join_link
from tests.e2e.test_media_browser import heard, write_tone
from tests.e2e.test_runofshow_browser import shoot

pytestmark = [pytest.mark.browser, pytest.mark.media]

CITY_HZ = 659.0


@pytest.fixture
async def server_and_city_browser(
    tmp_path: Path, clock: FakeClock, seminar: Any, playwright: Any
) -> AsyncIterator[tuple[LiveServer, Any]]:
    """A server with media, and the city's own Chromium whose fake microphone plays CITY_HZ;
    at the end the browser is closed, then the server."""
    voice = write_tone(tmp_path / "city.wav", CITY_HZ)
    async with media_server_and_mic_browser(tmp_path, clock, seminar, playwright, voice) as pair:
        yield pair


async def test_city_raises_hand_gets_the_floor_and_is_heard(
    browser: Any, server_and_city_browser: tuple[LiveServer, Any]
) -> None:
    server, city_browser = server_and_city_browser
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
    await city.wait_for_function("() => !document.querySelector('[data-testid=live-box]').hidden")
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


def session_floor(server: Any) -> Any:
    return server.app[SESSION].floor


async def test_the_queue_and_the_live_box_on_both_pages(
    clock: FakeClock, browser: Any, server_and_city_browser: tuple[LiveServer, Any]
) -> None:
    """What the moderator and the city see around the floor: new hands announced, waiting
    times, lowering one hand and all of them; the live city's own preview and level meter;
    the language it speaks, set by itself or by the moderator, and "interpreted from …" on
    a listener's interpretation channel following it with no other command."""
    server, city_browser = server_and_city_browser
    city_id, _ = await server.person(Role.PARTICIPANT, "Kyoto Delegate", language="ja")
    bea_id, _ = await server.person(Role.PARTICIPANT, "Bea Lyon", city="Lyon")
    mod_id, _ = await server.person(Role.MODERATOR, "Mo Derator")
    li_id, _ = await server.person(Role.INTERPRETER, "Li Wei", booth="zh", language="zh")
    # the zh booth is live (its console publishes the same fake microphone)
    booth, booth_errors = await open_join_link(city_browser, server, li_id)
    await booth.click("#start-audio")
    await booth.wait_for_function("() => window.simultan.state.media")
    for _ in range(50):  # the mic is handed over once the booth's audio arrives
        await booth.click("button[data-booth=take]")
        if server.app[SESSION].stage.booths["zh"].live == li_id:
            break
        await booth.wait_for_timeout(200)
    city, city_errors = await open_join_link(city_browser, server, city_id)
    bea, bea_errors = await open_join_link(browser, server, bea_id)

    # Kyoto raises its hand; three minutes later Bea does, by keyboard
    await city.click("#raise-hand")
    await city.locator("#hand-place").filter(has_text="1").wait_for()
    clock.advance(minutes=3)
    await bea.keyboard.press("h")
    await bea.locator("#hand-place").filter(has_text="2").wait_for()

    moderator, mod_errors = await open_join_link(browser, server, mod_id)
    await moderator.click("#tab-floor")
    hands = moderator.locator("[data-testid=hand-list] li")
    await hands.nth(1).wait_for()
    first, second = await hands.nth(0).inner_text(), await hands.nth(1).inner_text()
    assert "Kyoto Delegate" in first and "waiting 3 min" in first, first
    assert "Bea Lyon" in second and "just now" in second, second

    # lowering one hand: hers goes, Kyoto stays first; raised again, it is announced
    await hands.nth(1).get_by_role("button", name="Lower").click()
    await bea.wait_for_function(
        "() => document.querySelector('#raise-hand').getAttribute('aria-pressed') === 'false'"
    )
    assert await bea.locator("#hand-place").inner_text() == ""
    await moderator.evaluate("() => { document.querySelector('#hand-announce').textContent = ''; }")
    await bea.click("#raise-hand")
    await moderator.wait_for_function(
        "() => document.querySelector('#hand-announce').textContent.includes('Bea Lyon')"
    )

    # lowering all of them: both pages say so, the button is disabled
    await moderator.click("#lower-all")
    for page in (city, bea):
        await page.wait_for_function(
            "() => document.querySelector('#raise-hand').getAttribute('aria-pressed') === 'false'"
        )
    await moderator.wait_for_function("() => document.querySelector('#lower-all').disabled")
    assert await hands.count() == 0

    # Kyoto invited as a panelist: "you are on next", and its camera and microphone
    # check shows its own preview and its level before it is live
    invited = await moderator.evaluate(
        "id => window.simultan.live.request({type: 'floor', action: 'invite',"
        " person_ids: [id]}).then(() => 'ok', e => e.code)",
        city_id,
    )
    assert invited == "ok"
    await city.locator("[data-testid=on-next]").wait_for(state="visible")
    await city.click("#check-devices")
    await city.wait_for_function(
        "() => document.querySelector('#self-preview').videoWidth > 0", timeout=15000
    )
    await city.wait_for_function(
        "() => document.querySelector('#self-level').value > 0.05", timeout=10000
    )
    assert not session_floor(server).may_publish(city_id)  # a check, not live yet
    # the moderator takes it live from the invited list: live, still its own preview
    await moderator.click("#invited-list li button")
    await city.locator("[data-testid=live-box]").wait_for(state="visible")
    await city.locator("[data-testid=on-next]").wait_for(state="hidden")
    await city.wait_for_function(
        "() => window.simultan.media && window.simultan.media.isPublishing()", timeout=15000
    )
    await city.wait_for_function(
        "() => document.querySelector('#self-level').value > 0.05", timeout=10000
    )
    assert await city.locator("#live-language").input_value() == "ja"

    # Bea listens in Chinese: once the floor speaks Japanese (the debounce passes on
    # the server's clock), her page says the channel is interpreted from Japanese
    await bea.select_option("#channel", "zh")
    clock.advance(seconds=4)
    await bea.wait_for_function(
        "() => document.querySelector('#interpreted-from').textContent"
        " === 'Interpreted from Japanese'",
        timeout=10000,
    )
    # the city says it speaks English after all: the moderator's panel shows it, and
    # the channel follows
    await city.select_option("#live-language", "en")
    speaks = moderator.locator("[data-testid=panel-list] [data-testid=speaker-language]")
    await moderator.wait_for_function(
        "() => document.querySelector('[data-testid=speaker-language]').value === 'en'"
    )
    clock.advance(seconds=4)
    await bea.wait_for_function(
        "() => document.querySelector('#interpreted-from').textContent"
        " === 'Interpreted from English'",
        timeout=10000,
    )
    # the moderator corrects it back to Japanese: the city's own page shows it
    await speaks.select_option("ja")
    await city.wait_for_function("() => document.querySelector('#live-language').value === 'ja'")
    session = server.app[SESSION]
    assert session.floor.speaker(city_id).language == "ja"
    await shoot(city, "stage-live")  # with SIMULTAN_SHOTS set: to look at the pages
    await shoot(moderator, "control-floor-live")
    assert city_errors == [] and mod_errors == [] and bea_errors == [] and booth_errors == []
