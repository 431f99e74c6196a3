"""The interpreter console in Chromium: a handover through the UI, a slow-down request that
reaches the speaker's page, booth chat that reaches the partner and not a participant."""

from __future__ import annotations

from pathlib import Path

import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.e2e.conftest import open_join_link

pytestmark = pytest.mark.browser


async def open_as(browser, server, role: Role, name: str, **kw):
    reg_id, _ = await server.person(role, name, **kw)
    page, errors = await open_join_link(browser, server, reg_id)
    page.errors = errors  # type: ignore[attr-defined]
    return reg_id, page


async def test_handover_slow_down_and_chat_through_the_ui(
    tmp_path: Path, clock: FakeClock, seminar, browser
) -> None:
    runner, server = await start_server(
        tmp_path,
        clock,
        seminar,
        media_enabled=False,
        booth_cue_minutes=15,
        booth_rotation_minutes=5,
    )
    try:
        a_id, a = await open_as(
            browser, server, Role.INTERPRETER, "Li Wei", booth="zh", language="en"
        )
        b_id, b = await open_as(
            browser, server, Role.INTERPRETER, "Zhang Min", booth="zh", language="en"
        )
        spk_id, speaker = await open_as(browser, server, Role.PANELIST, "Speaker Sam")
        _, participant = await open_as(browser, server, Role.PARTICIPANT, "Pat One")
        _, moderator = await open_as(browser, server, Role.MODERATOR, "Mo Derator")
        assert "/booth" in a.url and "/stage" in speaker.url and "/control" in moderator.url

        # the moderator gives the floor through the control page
        await moderator.click("#tab-floor")  # the control page's floor section
        await moderator.locator(f"#speakers button[data-person='{spk_id}']").click()
        await moderator.wait_for_function(
            "() => document.querySelector('#floor-holder').textContent.includes('Speaker Sam')"
        )
        # a live speaker is not offered the floor again: the list says they speak
        live_item = moderator.locator("#speakers li[data-live]")
        assert "Speaker Sam" in await live_item.inner_text()
        assert "speaking" in await live_item.inner_text()
        assert await moderator.locator(f"#speakers button[data-person='{spk_id}']").count() == 0

        # agenda-aware: the booth sees what comes next, with speakers and their languages,
        # and a cue ahead of it (15 minutes here; the event starts in 10)
        cue = a.locator("[data-testid=cue]")
        await cue.wait_for(state="visible")
        assert "Coming up in 10 min: Welcome" in await cue.inner_text()
        now_next = await a.locator("[data-testid=now-next]").inner_text()
        assert "Next:" in now_next and "Programme director (English)" in now_next

        on_air = "[data-testid=on-air]"
        await a.click("button[data-booth=take]")
        await a.wait_for_function(
            f"() => document.querySelector('{on_air}').textContent === 'ON AIR'"
        )
        assert await b.locator(on_air).inner_text() == "OFF AIR"
        assert "Li Wei holds the mic" in await b.locator("[data-testid=booth-state]").inner_text()
        assert "Li Wei: on air" in await b.locator("[data-testid=partner]").inner_text()

        await b.click("button[data-booth=request]")
        for page in (a, b):  # both partners see the request
            await page.wait_for_function(
                "() => document.querySelector('[data-testid=booth-state]').textContent.includes('for the mic from')"
            )
        await a.click("button[data-booth=accept]")
        await b.wait_for_function(
            f"() => document.querySelector('{on_air}').textContent === 'ON AIR'"
        )
        await a.wait_for_function(
            f"() => document.querySelector('{on_air}').textContent === 'OFF AIR'"
        )
        booth = server.app[SESSION].stage.booths["zh"]
        assert booth.live == b_id and booth.pending is None

        # the on-mic timer reminds B to rotate after 5 minutes (server time moves on; a
        # timeline event carries it to the page)
        timer = b.locator("[data-testid=mic-timer]")
        assert "time to hand over" not in await timer.inner_text()
        server.clock.advance(minutes=6)
        await moderator.click("#tab-timeline")
        await moderator.click("#timeline-controls button[data-action=start]")
        await b.wait_for_function(
            "() => document.querySelector('[data-testid=mic-timer]').textContent.includes('time to hand over')"
        )

        # slow down: reaches the speaker's page and the moderator, without naming the sender
        await b.click("#slow-down")
        await speaker.locator("[data-testid=slow-down]").wait_for(state="visible")
        text = await speaker.locator("[data-testid=slow-down]").inner_text()
        assert "slow down" in text and "Zhang" not in text
        await moderator.locator("[data-testid=slow-down]").wait_for(state="visible")
        assert "Chinese booth" in await moderator.locator("[data-testid=slow-down]").inner_text()
        assert await participant.locator("[data-testid=slow-down]").is_hidden()

        # booth chat: the partner sees it (escaped), a participant's page never receives it
        await a.fill("#chat-text", "<i>Next speaker reads fast</i>")
        await a.click("#chat-form button")
        await b.locator("[data-testid=chat] li").wait_for()
        assert (
            "<i>Next speaker reads fast</i>" in await b.locator("[data-testid=chat]").inner_text()
        )
        assert await b.locator("[data-testid=chat] i").count() == 0
        seen = await participant.evaluate("() => document.body.innerText")
        assert "Next speaker reads fast" not in seen

        # what the booth hears, chosen by hand (keyboard): relay from the ja booth; nobody is
        # live there, so the console says it hears the floor; both consoles follow
        session = server.app[SESSION]
        assert await a.locator("#hear-choice").input_value() == "auto"
        await a.focus("#hear-choice")
        await a.select_option("#hear-choice", "ja")
        await a.wait_for_function(
            "() => window.simultan.state.snapshot.booths.zh.hear_choice === 'ja'"
        )
        assert session.stage.choices == {"zh": "ja"}
        # the partner's console follows when the booth event reaches it
        await b.wait_for_function("() => document.querySelector('#hear-choice').value === 'ja'")
        assert "your choice" in await a.locator("[data-testid=hear-how]").inner_text()
        assert await a.locator("[data-testid=hearing]").inner_text() == "the floor"
        await a.select_option("#hear-choice", "auto")
        await a.wait_for_function(
            "() => window.simultan.state.snapshot.booths.zh.hear_choice === 'auto'"
        )
        assert session.stage.choices == {}
        for page in (a, b, speaker, participant, moderator):
            assert page.errors == []
    finally:
        await runner.cleanup()


async def test_cough_unmutes_on_release_outside_and_on_blur_and_chat_survives_reload(
    tmp_path: Path, clock: FakeClock, seminar, browser
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=False)
    try:
        a_id, a = await open_as(
            browser, server, Role.INTERPRETER, "Li Wei", booth="zh", language="zh"
        )
        booth = lambda: server.app[SESSION].stage.booths["zh"]  # noqa: E731

        async def coughing(on: bool) -> None:
            for _ in range(200):
                if booth().coughing == on:
                    return
                await a.wait_for_timeout(50)
            raise AssertionError(f"server coughing != {on}")

        await a.click("button[data-booth=take]")
        await a.wait_for_function("() => !document.querySelector('#cough').hidden")
        box = await a.locator("#cough").bounding_box()
        middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        # press on the button, release far outside it: unmuted
        await a.mouse.move(*middle)
        await a.mouse.down()
        await coughing(True)
        await a.mouse.move(2, 2)
        await a.mouse.up()
        await coughing(False)
        # press with the C key, then the window loses focus before the key is released
        await a.locator("body").focus()
        await a.keyboard.down("c")
        await coughing(True)
        await a.evaluate("() => window.dispatchEvent(new Event('blur'))")
        await coughing(False)
        await a.keyboard.up("c")
        # the on-mic timer never shows a negative time, even with the page's clock behind
        await a.evaluate("() => { window.simultan.state.offset -= 10 * 60000; }")
        await a.wait_for_timeout(1200)
        assert "-" not in await a.locator("[data-testid=mic-timer]").inner_text()
        # booth chat survives a reload
        await a.fill("#chat-text", "Tianjin speaks next")
        await a.click("#chat-form button")
        await a.locator("[data-testid=chat] li").wait_for()
        await a.reload()
        await a.locator("[data-testid=chat] li").wait_for()
        assert "Tianjin speaks next" in await a.locator("[data-testid=chat]").inner_text()
        assert a.errors == []
    finally:
        await runner.cleanup()


async def test_the_console_shows_which_room_its_booth_serves(
    tmp_path: Path, clock: FakeClock, seminar, browser
) -> None:
    """Assigned to a group, the booth console says it serves that group only; unassigned
    (or once the groups close), the plenary. Screenshots at desktop and phone sizes."""
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=False)
    try:
        _, console = await open_as(browser, server, Role.INTERPRETER, "Ana Ruiz", booth="es")
        serves = console.locator("[data-testid=serves]")
        await console.wait_for_function(
            "() => document.querySelector('[data-testid=serves]').textContent !== ''"
        )
        assert await serves.inner_text() == "You interpret for the plenary."
        _, mod_token = await server.person(Role.MODERATOR, "Mo Derator")
        mod = await server.connect(mod_token)
        await mod.recv_type("welcome")
        for i in range(4):
            _, token = await server.person(Role.PARTICIPANT, f"City {i}")
            await (await server.connect(token)).recv_type("welcome")
        for msg in (
            {
                "type": "timeline",
                "action": "start",
                "item_id": "afternoon-groups",
                "base_version": 0,
            },
            {"type": "rooms", "action": "plan", "method": "random", "count": 2},
            {"type": "rooms", "action": "open"},
            {"type": "rooms", "action": "booth", "room": "governance", "booth": "es"},
        ):
            reply = await mod.request(msg)
            assert reply["type"] == "reply", reply
        size = len(server.app[SESSION].rooms.state.members("governance"))
        expected = (
            f"You interpret for the group “Governing the transition” ({size} cities) only: "
            "the plenary does not hear you."
        )
        await console.wait_for_function(
            "(text) => document.querySelector('[data-testid=serves]').textContent === text",
            arg=expected,
        )
        assert "in-group" in (await serves.get_attribute("class") or "")
        shots = Path(tmp_path) / "shots"
        for name, size_px in (("desktop", (1366, 900)), ("phone", (390, 844))):
            await console.set_viewport_size({"width": size_px[0], "height": size_px[1]})
            await console.screenshot(path=str(shots / f"booth-serves-{name}.png"), full_page=True)
        # The booth is taken back to the plenary: the console says so without a reload.
        reply = await mod.request(
            {"type": "rooms", "action": "booth", "room": "governance", "booth": None}
        )
        assert reply["type"] == "reply", reply
        await console.wait_for_function(
            "() => document.querySelector('[data-testid=serves]').textContent"
            " === 'You interpret for the plenary.'"
        )
        assert not console.errors  # type: ignore[attr-defined]
    finally:
        await runner.cleanup()
