"""The booth console's warnings, by ear in Chromium with real media: the partner's mic open
while we are on air (their tone reaches our partner meter through the server), and our own
live channel silent (a silent fake microphone). Each warning appears only while it is true."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.e2e.conftest import CHROMIUM, chromium_args, open_join_link
from tests.e2e.test_media_browser import write_tone

pytestmark = [pytest.mark.browser, pytest.mark.media]

PARTNER_HZ = 523.0
EN = json.loads((Path(__file__).resolve().parents[2] / "client/i18n/en.json").read_text("utf-8"))


def write_silence(path: Path, seconds: float = 10.0, rate: int = 48000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(int(seconds * rate), dtype=np.int16).tobytes())
    return path


WARNING = "() => { const w = document.querySelector('[data-testid=warning]'); return w.hidden ? '' : w.textContent; }"


@pytest.mark.timeout(180)
async def test_both_mics_open_and_silent_channel_warnings(
    tmp_path: Path, clock: FakeClock, seminar, playwright
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True)
    quiet = await playwright.chromium.launch(
        executable_path=CHROMIUM, args=chromium_args(fake_audio=write_silence(tmp_path / "q.wav"))
    )
    talking = await playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=chromium_args(fake_audio=write_tone(tmp_path / "b.wav", PARTNER_HZ)),
    )
    try:
        a_id, _ = await server.person(Role.INTERPRETER, "Li Wei", booth="zh", language="en")
        b_id, _ = await server.person(Role.INTERPRETER, "Zhang Min", booth="zh", language="en")
        a, a_errors = await open_join_link(quiet, server, a_id)
        b, b_errors = await open_join_link(talking, server, b_id)
        for page in (a, b):
            await page.click("#start-audio")
            await page.wait_for_function("() => window.simultan.state.media")
        # nobody live: no warning, although the partner's tone is there
        await a.wait_for_function(
            "() => window.simultan.state.media.partnerMeter.level() > 0.02", timeout=15000
        )
        assert await a.evaluate(WARNING) == ""
        # a takes the mic (once a's audio reaches the server) while b's mic carries a tone
        session = server.app[SESSION]
        for _ in range(50):
            await a.click("button[data-booth=take]")
            if session.stage.booths["zh"].live == a_id:
                break
            await a.wait_for_timeout(200)
        assert session.stage.booths["zh"].live == a_id
        await a.wait_for_function(
            f"() => ({WARNING})().includes({json.dumps(EN['booth.both_open'])})"
        )
        # the partner closes their mic (their track sends silence): the warning goes
        await b.evaluate(
            "() => { window.simultan.state.localStream.getAudioTracks()[0].enabled = false; }"
        )
        await a.wait_for_function(
            f"() => !({WARNING})().includes({json.dumps(EN['booth.both_open'])})", timeout=10000
        )
        # a's own channel is silent: after 20 s (the page's clock moved on) the console says so
        assert await a.evaluate("() => window.simultan.state.media.micMeter.level()") < 0.003
        await a.evaluate("() => { window.simultan.state.silentSince = Date.now() - 21000; }")
        silent = EN["booth.silent"].split("{")[0]
        await a.wait_for_function(f"() => ({WARNING})().includes({json.dumps(silent)})")
        # off the mic: no warning at all
        await a.click("button[data-booth=release]")
        await a.wait_for_function(f"() => ({WARNING})() === ''")
        assert a_errors == [] and b_errors == []
    finally:
        await quiet.close()
        await talking.close()
        await runner.cleanup()
