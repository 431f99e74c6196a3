"""Media in Chromium: an interpreter page publishes a fake-microphone tone into the zh booth,
a participant page selects zh and its AnalyserNode hears that tone; switched to the floor, it
hears 440 Hz; the floor video plays."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from simultan.core.capabilities import Role
from simultan.media.synthetic import TestPatternTrack, ToneTrack
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock
from tests.e2e.conftest import media_server_and_mic_browser, open_join_link

CLIENT = Path(__file__).resolve().parents[2] / "client"

pytestmark = [pytest.mark.browser, pytest.mark.media]

FLOOR_HZ = 440.0
ZH_HZ = 523.0


def write_tone(path: Path, hz: float, seconds: float = 10.0, rate: int = 48000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


DOMINANT = """async () => {
  const m = await import('/static/js/audiomix.js');
  return m.dominantFrequency(window.simultan.media.channelMeter.analyser);
}"""


async def heard(page, target: float, *, within: float = 12.0, tolerance: float = 12.0) -> float:
    """Poll the page's AnalyserNode until it hears ``target`` Hz; return the last reading."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = 0.0
    while loop.time() < deadline:
        last = float(await page.evaluate(DOMINANT))
        if abs(last - target) <= tolerance:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"expected {target} Hz, heard {last:.1f} Hz")


async def test_interpreter_page_publishes_participant_page_hears(
    tmp_path: Path, clock: FakeClock, seminar, browser, playwright
) -> None:
    tone = write_tone(tmp_path / "zh.wav", ZH_HZ)
    mic_server = media_server_and_mic_browser(tmp_path, clock, seminar, playwright, tone)
    async with mic_server as (server, interp_browser):
        media = server.app[SESSION].stage.media
        media.add_local_source("floor", ToneTrack(FLOOR_HZ), TestPatternTrack("FLOOR"))

        interp_id, _ = await server.person(Role.INTERPRETER, "Li Wei", booth="zh", language="zh")
        part_id, _ = await server.person(Role.PARTICIPANT, "Ana Costa", language="zh")
        interp, interp_errors = await open_join_link(interp_browser, server, interp_id)
        await interp.click("#start-audio")
        await interp.wait_for_function("() => window.simultan.state.media")
        # the mic is only handed over once the interpreter's audio reaches the server
        for _ in range(50):
            await interp.click("button[data-booth=take]")
            if server.app[SESSION].stage.booths["zh"].live == interp_id:
                break
            await interp.wait_for_timeout(200)
        await interp.wait_for_function(
            # on-air is a state class (the label is in the interpreter's language, here zh)
            "() => document.querySelector('[data-testid=on-air]').classList.contains('on')"
        )

        participant, part_errors = await open_join_link(browser, server, part_id)
        # The channel list is filled once the page is welcomed: the default is the
        # participant's language.
        await participant.wait_for_function(
            "() => document.querySelector('#channel').options.length > 0"
        )
        assert await participant.locator("#channel").input_value() == "zh"
        await participant.click("#listen")
        await participant.wait_for_function("() => window.simultan.media")
        zh = await heard(participant, ZH_HZ)
        await participant.select_option("#channel", "en")
        floor = await heard(participant, FLOOR_HZ)
        # the floor video plays
        await participant.wait_for_function(
            "() => document.querySelector('#floor-video').videoWidth > 0", timeout=10000
        )
        # the interpreter hears the floor on its program track
        hear_floor = json.loads((CLIENT / "i18n" / "zh.json").read_text("utf-8"))[
            "booth.hear_floor"
        ]
        assert hear_floor in await interp.locator("[data-testid=hearing]").inner_text()
        print(f"MEASURED participant heard zh {zh:.1f} Hz, floor {floor:.1f} Hz")
        assert interp_errors == [] and part_errors == []


async def test_speaker_given_the_floor_publishes_camera_and_microphone(
    tmp_path: Path, clock: FakeClock, seminar, browser, playwright
) -> None:
    voice = write_tone(tmp_path / "speaker.wav", FLOOR_HZ)
    mic_server = media_server_and_mic_browser(tmp_path, clock, seminar, playwright, voice)
    async with mic_server as (server, speaker_browser):
        spk_id, _ = await server.person(Role.PANELIST, "Speaker Sam", language="en")
        part_id, _ = await server.person(Role.PARTICIPANT, "Ana Costa", language="en")
        _, mod_token = await server.person(Role.MODERATOR, "Mo Derator")
        speaker, spk_errors = await open_join_link(speaker_browser, server, spk_id)
        await speaker.click("#listen")
        await speaker.wait_for_function("() => window.simultan.media")
        assert not await speaker.evaluate("() => window.simultan.media.isPublishing()")

        moderator = await server.connect(mod_token)
        await moderator.recv_type("welcome")
        reply = await moderator.request({"type": "floor", "person_id": spk_id})
        assert reply["type"] == "reply", reply
        await speaker.wait_for_function("() => window.simultan.media.isPublishing()")

        participant, part_errors = await open_join_link(browser, server, part_id)
        await participant.click("#listen")
        await participant.wait_for_function("() => window.simultan.media")
        await heard(participant, FLOOR_HZ)
        await participant.wait_for_function(
            "() => document.querySelector('#floor-video').videoWidth > 0", timeout=10000
        )
        assert "Speaker Sam" in await participant.locator("#floor-holder").inner_text()

        # the floor taken back: the speaker's page stops publishing
        await moderator.request({"type": "floor", "person_id": None})
        await speaker.wait_for_function("() => !window.simultan.media.isPublishing()")
        assert spk_errors == [] and part_errors == []
