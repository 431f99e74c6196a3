"""Chromium: the moderator opens two groups; two participant pages land in the same group and
hear each other's tones (AnalyserNode); a notice into every room reaches both; calling
everyone back returns both pages to the plenary without a reload. An interpreter's console,
its booth assigned to a group, hears that group's member and not the floor, then the floor."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.media.synthetic import TestPatternTrack, ToneTrack
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, LiveServer, start_server
from tests.e2e.conftest import CHROMIUM, chromium_args, open_join_link
from tests.e2e.test_media_browser import write_tone
from tests.hub.test_rooms_ws import FACILITATORS

pytestmark = [pytest.mark.browser, pytest.mark.media]

TONES = {"Ana Costa": 523.0, "Bo Lind": 784.0}


async def hears(page: Any, target: float, *, within: float = 30.0) -> float:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = 0.0
    while loop.time() < deadline:
        last = float(await page.evaluate("() => window.simultan.rooms.frequency(0)"))
        if abs(last - target) <= 12:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"expected {target} Hz from the other member, heard {last:.1f} Hz")


@asynccontextmanager
async def media_server_and_browsers(
    tmp_path: Path, clock: FakeClock, seminar: Any
) -> AsyncIterator[tuple[LiveServer, list[Any]]]:
    """A server with media, and a list for the test's own browsers: at the end each of
    them is closed, then the server."""
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True)
    browsers: list[Any] = []
    try:
        yield server, browsers
    finally:
        for browser in browsers:
            await browser.close()
        await runner.cleanup()


async def moderator_socket(server: LiveServer) -> tuple[str, Any]:
    """The moderator, registered and welcomed on a plain /ws socket: its id and the socket."""
    mod_id, mod_token = await server.person(Role.MODERATOR, "Mo Derator")
    ws = await server.connect(mod_token)
    await ws.recv_type("welcome")
    return mod_id, ws


async def mic_browser(playwright: Any, browsers: list[Any], tmp_path: Path, hz: float) -> Any:
    """A Chromium of its own whose fake microphone plays ``hz`` (a WAV under ``tmp_path``),
    kept in ``browsers`` to be closed at the end."""
    wav = write_tone(tmp_path / f"{hz:.0f}.wav", hz)
    browser = await playwright.chromium.launch(
        executable_path=CHROMIUM, args=chromium_args(fake_audio=wav)
    )
    browsers.append(browser)
    return browser


async def listening_on_stage(
    browser: Any, server: LiveServer, name: str
) -> tuple[str, Any, list[str]]:
    """A participant ``name``, registered, whose stage page in ``browser`` listens: its id,
    the page and the page's JS errors."""
    person_id, _ = await server.person(Role.PARTICIPANT, name)
    page, errors = await open_join_link(browser, server, person_id)
    await page.click("#listen")
    await page.wait_for_function("() => window.simultan.state.media")
    return person_id, page, errors


async def cities_on_plain_sockets(server: LiveServer, *names: str) -> list[str]:
    """Participants ``names``, registered and welcomed on plain /ws sockets: their ids."""
    ids = []
    for name in names:
        pid, token = await server.person(Role.PARTICIPANT, name)
        await (await server.connect(token)).recv_type("welcome")
        ids.append(pid)
    return ids


async def plan_two_groups(server: Any, mod: Any) -> list[dict[str, Any]]:
    """The morning's discussion item starts; a preview of two groups, filled by hand."""
    for email in FACILITATORS:  # the event file's facilitators are registered
        await server.person(Role.PARTICIPANT, email.split("@")[0], email=email)
    await mod.request(
        {"type": "timeline", "action": "start", "item_id": "morning-groups", "base_version": 0}
    )
    reply = await mod.request({"type": "rooms", "action": "plan", "method": "hand", "count": 2})
    assert reply["type"] == "reply", reply
    groups: list[dict[str, Any]] = reply["data"]["rooms"]["rooms"][1:]
    return groups


async def test_two_pages_in_one_group_hear_each_other_and_come_back(
    tmp_path: Path, clock: FakeClock, seminar: Any, playwright: Any
) -> None:
    async with media_server_and_browsers(tmp_path, clock, seminar) as (server, browsers):
        _, mod = await moderator_socket(server)
        pages = {}
        for name, hz in TONES.items():
            browser = await mic_browser(playwright, browsers, tmp_path, hz)
            person_id, page, errors = await listening_on_stage(browser, server, name)
            pages[person_id] = (page, errors)
        # Two more cities on plain sockets make the second group.
        others = await cities_on_plain_sockets(server, "Cy One", "Di Two")

        first, second = (r["id"] for r in await plan_two_groups(server, mod))
        for pid in pages:
            assert (
                await mod.request(
                    {"type": "rooms", "action": "move", "person_id": pid, "room": first}
                )
            )["type"] == "reply"
        for pid in others:
            await mod.request({"type": "rooms", "action": "move", "person_id": pid, "room": second})
        reply = await mod.request({"type": "rooms", "action": "open"})
        assert reply["type"] == "reply", reply

        # Each page hears the other member's tone on its member slot.
        (a_id, (a, a_err)), (b_id, (b, b_err)) = pages.items()
        await a.locator("[data-testid=room-panel]").wait_for()
        assert first in (await a.locator("#room-panel").get_attribute("data-room") or "")
        await hears(a, TONES["Bo Lind"])
        await hears(b, TONES["Ana Costa"])
        await a.screenshot(path=str(tmp_path / "group-desktop.png"))

        # A notice into every room reaches both pages.
        reply = await mod.request({"type": "room_notice", "text": "Ten minutes left"})
        assert reply["type"] == "reply", reply
        for page in (a, b):
            await page.locator(
                "[data-testid=notice-banner]", has_text="Ten minutes left"
            ).wait_for()

        # A's peer connection is rebuilt (as after an ICE failure or a server restart): the new
        # one starts with the plenary m-lines only, and the page opens its member slots again.
        await a.evaluate("() => window.simultan.media.session.renew('test')")
        await a.wait_for_function("() => window.simultan.media.session.renewals >= 1")
        await hears(a, TONES["Bo Lind"])
        await hears(b, TONES["Ana Costa"])
        assert await a.locator(".member-tile:not([hidden])").count() == 1

        # Call everyone back: after 60 s both pages are in the plenary, same page (no reload).
        marker = await a.evaluate("() => (window.__kept = 1)")
        await mod.request({"type": "rooms", "action": "call_back"})
        server.clock.advance(seconds=61)
        for page in (a, b):
            await page.wait_for_function(
                "() => window.simultan.state.snapshot.rooms.phase === 'plenary'"
                " && window.simultan.rooms.media.stream === null",
                timeout=20000,
            )
            assert await page.locator("#room-panel").is_hidden()
        assert await a.evaluate("() => window.__kept") == marker
        assert server.app[SESSION].rooms.state.members("plenary") == tuple(
            sorted([*pages, *others])
        )
        assert a_err == [] and b_err == []


FLOOR_HZ = 440.0
MEMBER_HZ = 784.0
BOOTH_HEARS = """async () => {
  const m = await import('/static/js/audiomix.js');
  const heard = window.simultan.state.media.heard;
  const samples = new Float32Array(heard.fftSize);
  heard.getFloatTimeDomainData(samples);
  const rms = Math.sqrt(samples.reduce((s, v) => s + v * v, 0) / samples.length);
  return [m.dominantFrequency(heard), rms];
}"""


async def booth_hears(page: Any, target: float, *, within: float = 30.0) -> None:
    """The console's mix (after its volumes) settles on ``target`` Hz and holds it 2 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    held: list[float] = []
    while loop.time() < deadline:
        hz, _ = await page.evaluate(BOOTH_HEARS)
        held = [*held, hz] if abs(hz - target) <= 12 else []
        if len(held) >= 8:  # 8 readings 0.25 s apart: nothing else (the floor) came through
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"the interpreter should hear {target} Hz, hears {hz:.1f} Hz")


async def test_the_booth_console_hears_the_group_it_serves_then_the_floor_again(
    tmp_path: Path, clock: FakeClock, seminar: Any, playwright: Any
) -> None:
    """An interpreter's console, its booth assigned to a group, hears a group member's tone
    (not the floor's), at the floor volume, and says so; after the call back, the floor."""
    async with media_server_and_browsers(tmp_path, clock, seminar) as (server, browsers):
        server.app[SESSION].stage.media.add_local_source(
            "floor", ToneTrack(FLOOR_HZ), TestPatternTrack("FLOOR")
        )
        _, mod = await moderator_socket(server)
        member_browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=chromium_args(fake_audio=write_tone(tmp_path / "member.wav", MEMBER_HZ)),
        )
        booth_browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=chromium_args()
        )
        browsers += [member_browser, booth_browser]
        interp_id, _ = await server.person(Role.INTERPRETER, "Ana Ruiz", booth="es")
        console, console_errors = await open_join_link(booth_browser, server, interp_id)
        await console.click("#start-audio")
        await console.wait_for_function("() => window.simultan.state.media")
        await booth_hears(console, FLOOR_HZ)  # the plenary: the floor
        assert await console.locator("#hearing").inner_text() == "the floor"

        member_id, member, member_errors = await listening_on_stage(
            member_browser, server, "Bo Lind"
        )
        cities = await cities_on_plain_sockets(server, "Cy One", "Di Two", "Ed Three")
        groups = await plan_two_groups(server, mod)
        first, second = (r["id"] for r in groups)
        title = groups[0]["title"]
        for pid, room in ((member_id, first), (cities[0], first), (cities[1], second)):
            await mod.request({"type": "rooms", "action": "move", "person_id": pid, "room": room})
        await mod.request(
            {"type": "rooms", "action": "move", "person_id": cities[2], "room": second}
        )
        for msg in (
            {"type": "rooms", "action": "open"},
            {"type": "rooms", "action": "booth", "room": first, "booth": "es"},
        ):
            reply = await mod.request(msg)
            assert reply["type"] == "reply", reply

        # Serving the group: its member's tone, not the floor, and the console says so.
        await booth_hears(console, MEMBER_HZ)
        await console.wait_for_function(
            "(text) => document.querySelector('#hearing').textContent === text",
            arg=f"the group “{title}” (its members, not the floor)",
        )
        # Who speaks is the group's members, named, not "Nobody has the floor".
        speaking = await console.locator("#speaking").inner_text()
        assert speaking.startswith(f"In the group “{title}”: "), speaking
        assert "Bo Lind" in speaking and "Cy One" in speaking and "Nobody" not in speaking
        mic = await console.locator("#booth-state").inner_text()
        assert mic == f"Nobody holds the mic: the group “{title}” hears its members only.", mic
        # No floor to watch (its last frame would freeze) or to choose from meanwhile.
        assert await console.locator("#floor-video").is_hidden()
        assert await console.locator("#hear-choice").is_hidden()
        # The floor volume applies to the members: down to 0, silence; back up, the tone.
        set_volume = """(v) => { const s = document.querySelector('#floor-volume');
          s.value = String(v); s.dispatchEvent(new Event('input')); }"""
        await console.evaluate(set_volume, 0)
        await console.wait_for_timeout(500)
        assert (await console.evaluate(BOOTH_HEARS))[1] < 0.002
        await console.evaluate(set_volume, 1)
        await booth_hears(console, MEMBER_HZ)
        shots = tmp_path / "shots"
        for name, size_px in (("desktop", (1366, 900)), ("phone", (390, 844))):
            await console.set_viewport_size({"width": size_px[0], "height": size_px[1]})
            await console.screenshot(path=str(shots / f"booth-group-{name}.png"), full_page=True)

        # Everyone back: the console hears the floor again, and says so, without a reload.
        await mod.request({"type": "rooms", "action": "call_back"})
        server.clock.advance(seconds=61)
        await console.wait_for_function(
            "() => document.querySelector('#hearing').textContent === 'the floor'",
            timeout=20000,
        )
        await booth_hears(console, FLOOR_HZ)
        assert await console.locator("#floor-video").is_visible()
        assert await console.locator("#speaking").inner_text() == "Nobody has the floor."
        mic = await console.locator("#booth-state").inner_text()
        assert mic == "Nobody holds the mic: the channel carries the floor.", mic
        assert console_errors == [] and member_errors == []


ANA_HZ, BO_HZ, MOD_HZ = 523.0, 784.0, 659.0
SPEAKING = """(who) => [...document.querySelectorAll('.member-tile.speaking')]
  .map((t) => t.dataset.person).join() === who"""


async def visible_tiles(page: Any) -> int:
    return int(await page.locator(".member-tile:not([hidden])").count())


async def test_the_moderator_runs_the_groups_from_the_control_page_and_visits_one(
    tmp_path: Path, clock: FakeClock, seminar: Any, playwright: Any
) -> None:
    """Only clicks on the control page's Groups tab: a preview by group size, cities moved by
    hand, a facilitator and a rapporteur, a booth, open; the members hear each other (the one
    whose tone plays highlighted, the room's countdown shown); the moderator listens in
    (hears both, heard by nobody), speaks (heard by both), leaves; calls everyone back."""
    async with media_server_and_browsers(tmp_path, clock, seminar) as (server, browsers):
        mod_id, ws = await moderator_socket(server)
        members = {}
        for name, hz in (("Ana Costa", ANA_HZ), ("Bo Lind", BO_HZ)):
            browser = await mic_browser(playwright, browsers, tmp_path, hz)
            pid, page, errors = await listening_on_stage(browser, server, name)
            members[pid] = (page, errors)
        others = await cities_on_plain_sockets(server, "Cy One", "Di Two")
        (ana_id, (ana, ana_err)), (bo_id, (bo, bo_err)) = members.items()
        reply = await ws.request(
            {
                "type": "timeline",
                "action": "start",
                "item_id": "afternoon-groups",
                "base_version": 0,
            }
        )
        assert reply["type"] == "reply", reply

        control, control_err = await open_join_link(
            await mic_browser(playwright, browsers, tmp_path, MOD_HZ), server, mod_id
        )
        # A loopback-only namespace has no default route: Chromium gathers ICE candidates on
        # loopback only for a page granted a device (as after a device check), so grant one.
        await control.evaluate(
            "async () => (await navigator.mediaDevices.getUserMedia({audio: true}))"
            ".getTracks().forEach((t) => t.stop())"
        )
        await control.click("#tab-groups")
        announce = control.locator("[data-testid=rooms-announce]")
        # A preview by group size (2 cities a group: 4 cities, 2 groups), filled by hand.
        await control.select_option("[data-testid=rooms-method]", "hand")
        await control.click("[data-testid=rooms-by-size]")
        assert await control.locator("#rooms-count-label").inner_text() == "Cities per group"
        await control.fill("[data-testid=rooms-count]", "2")
        await control.click("[data-testid=rooms-plan]")
        await control.locator("[data-testid=rooms-list] > li.room").nth(2).wait_for()
        assert await announce.inner_text() == "Preview ready: groups 2"
        rooms = server.app[SESSION].rooms
        assert [r.id for r in rooms.state.groups] == ["neutrality", "governance"]
        for pid, room in ((ana_id, "neutrality"), (bo_id, "neutrality"),
                          (others[0], "governance"), (others[1], "governance")):  # fmt: skip
            await control.select_option(f"select[data-person='{pid}']", room)
            await control.wait_for_function(
                "([p, r]) => document.querySelector(`[data-room=${r}] select[data-person='${p}']`)",
                arg=[pid, room],
            )
        assert rooms.state.planned("neutrality") == tuple(sorted((ana_id, bo_id)))
        assert "moved to" in await announce.inner_text()
        group = control.locator("[data-room=neutrality]")
        await group.locator("[data-testid=rooms-facilitator]").select_option(ana_id)
        await control.wait_for_function(
            "() => document.querySelector('#rooms-announce').textContent.startsWith('Facilitator')"
        )
        await group.locator("[data-testid=rooms-rapporteur]").select_option(bo_id)
        await control.wait_for_function(
            "() => document.querySelector('#rooms-announce').textContent.startsWith('Rapporteur')"
        )
        neutrality = rooms.state.room("neutrality")
        assert (neutrality.facilitator, neutrality.rapporteur) == (ana_id, bo_id)
        await group.locator("[data-testid=rooms-booth]").select_option("es")
        await control.wait_for_function(
            "() => document.querySelector('#rooms-announce').textContent.includes('booth')"
        )
        assert rooms.state.room("neutrality").booth == "es"
        await control.click("[data-testid=rooms-open]")
        await control.wait_for_function(
            "() => document.querySelector('[data-testid=rooms-phase]').textContent === 'open'"
        )

        # The members hear each other; the one whose tone plays is highlighted; the countdown.
        await hears(ana, BO_HZ)
        await hears(bo, ANA_HZ)
        await ana.wait_for_function(SPEAKING, arg=bo_id)
        await bo.wait_for_function(SPEAKING, arg=ana_id)
        left = await ana.locator("#room-countdown").inner_text()
        assert re.fullmatch(r"Time left 1:(29:[0-5]\d|30:00)", left), left  # the item's 90 min
        assert "Facilitator" in await ana.locator("#room-roles").inner_text()
        left = await control.locator("#rooms-countdown").inner_text()  # the server's clock
        assert re.fullmatch(r"time left 1:(29:[0-5]\d|30:00)", left), left

        # Listening in: the control page hears both members; they do not hear it.
        await group.locator("[data-testid=rooms-listen]").click()
        panel = control.locator("[data-testid=visit-panel]")
        await panel.wait_for()
        title = rooms.state.room("neutrality").title
        assert await control.locator("#visit-title").inner_text() == f"You are listening in {title}"
        first, second = sorted((ana_id, bo_id))
        tone = {ana_id: ANA_HZ, bo_id: BO_HZ}
        await control.wait_for_function(
            "() => window.simultan.rooms.members.media.slots.length === 2"
        )
        await hears_slot(control, 0, tone[first])
        await hears_slot(control, 1, tone[second])
        assert await control.evaluate("() => window.simultan.rooms.members.media.stream") is None
        assert await visible_tiles(ana) == 1 and await visible_tiles(bo) == 1
        shots = tmp_path / "shots"
        for name, (width, height) in (("desktop", (1366, 900)), ("phone", (390, 844))):
            await control.set_viewport_size({"width": width, "height": height})
            await control.screenshot(path=str(shots / f"control-groups-{name}.png"), full_page=True)

        # Speaking: both members get a second tile carrying the moderator's tone.
        await control.click("[data-testid=visit-toggle]")
        await control.wait_for_function(
            "() => document.querySelector('#visit-title').textContent.includes('speaking')"
        )
        for page in (ana, bo):
            await page.wait_for_function(
                "() => document.querySelectorAll('.member-tile:not([hidden])').length === 2"
            )
            await hears_slot(page, 1, MOD_HZ)
        await hears_slot(control, 0, tone[first])

        # Leaving: the panel goes, the members are back to one tile each.
        await control.click("[data-testid=visit-leave]")
        await panel.wait_for(state="hidden")
        assert "You left" in await announce.inner_text()
        for page in (ana, bo):
            await page.wait_for_function(
                "() => document.querySelectorAll('.member-tile:not([hidden])').length === 1"
            )
        await control.wait_for_function("() => window.simultan.rooms.session() === null")

        # Call everyone back: the rooms count down to the plenary, then everyone is back.
        await control.click("[data-testid=rooms-call-back]")
        await ana.wait_for_function(
            "() => /^Back to the plenary in 0:[0-5]\\d|1:00$/.test("
            "document.querySelector('#room-countdown').textContent)"
        )
        server.clock.advance(seconds=61)
        for page in (ana, bo):
            await page.wait_for_function(
                "() => window.simultan.state.snapshot.rooms.phase === 'plenary'", timeout=20000
            )
        await control.wait_for_function(
            "() => document.querySelector('[data-testid=rooms-phase]').textContent === 'plenary'"
        )
        assert ana_err == [] and bo_err == [] and control_err == []


async def hears_slot(page: Any, slot: int, target: float, *, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = 0.0
    while loop.time() < deadline:
        last = float(await page.evaluate("(i) => window.simultan.rooms.frequency(i)", slot))
        if abs(last - target) <= 12:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"expected {target} Hz on member slot {slot}, heard {last:.1f} Hz")
