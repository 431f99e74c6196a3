"""client/js/media.js and audiomix.js in headless Chromium against the real EmbeddedSfu.

A tiny page imports the two modules; a websocket on 127.0.0.1 relays ``rtc_offer`` and
``select_channel`` to the SFU the way the hub does. Chromium runs with loopback-only
candidates (``--allow-loopback-in-peer-connection``, mDNS hiding off), inside the test's
loopback-only namespace.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import WSMsgType, web

from simultan.media.plane import interpreter_key
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import TestPatternTrack, ToneTrack
from tests.media.tones import TONES, Tab, wait_until

pytestmark = pytest.mark.browser

CLIENT_JS = Path(__file__).resolve().parents[2] / "client" / "js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MIC_HZ = 659.0

PAGE = """<!doctype html><html><body><script type="module">
import { connectMedia } from "/js/media.js";
import { mixChannelWithFloor, levelMeter, dominantFrequency } from "/js/audiomix.js";

let ws, nextId = 1;
const pending = new Map();
function signal(msg) {
  const request_id = "r" + nextId++;
  return new Promise((resolve, reject) => {
    pending.set(request_id, { resolve, reject });
    ws.send(JSON.stringify({ ...msg, request_id }));
  });
}
window.start = async ({ channel, publish }) => {
  ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    const waiter = pending.get(msg.request_id);
    if (!waiter) return;
    pending.delete(msg.request_id);
    msg.type === "error" ? waiter.reject(new Error(msg.message)) : waiter.resolve(msg);
  };
  await new Promise((r) => { ws.onopen = r; });
  const localStream = publish
    ? await navigator.mediaDevices.getUserMedia({ audio: true }) : null;
  const media = await connectMedia({ signal, channel, publish, localStream });
  const els = media.attachHidden();
  const mix = mixChannelWithFloor({ channel: media.channelAudio, floor: media.floorAudio, original: 0 });
  const meter = levelMeter(media.channelAudio, { context: mix.mixer.context });
  window.media = media;
  window.channelHz = () => dominantFrequency(meter.analyser);
  window.videoSize = () => [els.video.videoWidth, els.video.videoHeight];
  window.candidates = () => media.pc.localDescription.sdp.split("\\r\\n")
    .filter((l) => l.startsWith("a=candidate")).map((l) => l.split(" ")[4]);
  return media.pc.connectionState;
};
window.ready = true;
</script></body></html>"""


def _mic_wav(path: Path) -> Path:
    t = np.arange(48000 * 5) / 48000
    pcm = (0.5 * np.sin(2 * np.pi * MIC_HZ * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(pcm.tobytes())
    return path


async def _signaling_app(sfu: EmbeddedSfu) -> web.Application:
    sessions = iter(range(1, 1000))

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session_id = f"page-{next(sessions)}"
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            req = json.loads(msg.data)
            rid = req.get("request_id")
            if req["type"] == "rtc_offer":
                # What the control plane does: map the requested role to an authorized key.
                publish = {"floor": "floor", "booth": interpreter_key("page")}.get(
                    req.get("publish") or ""
                )
                sdp = await sfu.negotiate(
                    session_id, req["sdp"], publish=publish, channel=req.get("channel")
                )
                await ws.send_json({"type": "rtc_answer", "sdp": sdp, "request_id": rid})
            elif req["type"] == "select_channel":
                sfu.select_channel(session_id, req["channel"])
                await ws.send_json({"type": "reply", "request_id": rid})
        await sfu.close_session(session_id)
        return ws

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/ws", ws_handler)
    app.router.add_static("/js/", CLIENT_JS)
    return app


@pytest.fixture
async def site(sfu: EmbeddedSfu) -> AsyncIterator[str]:
    runner = web.AppRunner(await _signaling_app(sfu))
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@pytest.fixture
async def page(site: str, tmp_path: Path) -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.async_api import async_playwright

    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={_mic_wav(tmp_path / 'mic.wav')}",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            tab = await browser.new_page()
            await tab.goto(site)
            await tab.wait_for_function("window.ready === true")
            yield tab
        finally:
            await browser.close()


async def _hz(tab: Any) -> float:
    return float(await tab.evaluate("window.channelHz()"))


async def _wait_for_hz(tab: Any, hz: float, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    last = 0.0
    while loop.time() - start < timeout:
        last = await _hz(tab)
        if abs(last - hz) < 6:
            return loop.time() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"page heard {last:.1f} Hz, not {hz} Hz, within {timeout} s")


async def test_page_listens_switches_channel_and_sees_floor_video(
    sfu: EmbeddedSfu, page: Any
) -> None:
    sfu.set_routes({"en": "floor", "zh": "interpreter:zh"})
    sfu.add_local_source(
        "floor", ToneTrack(TONES["en"]), TestPatternTrack("FLOOR", width=320, height=180)
    )
    sfu.add_local_source("interpreter:zh", ToneTrack(TONES["zh"]), None)
    await page.evaluate("window.start({ channel: 'zh', publish: null })")
    assert set(await page.evaluate("window.candidates()")) == {"127.0.0.1"}
    await _wait_for_hz(page, TONES["zh"], timeout=8)

    await page.evaluate("window.media.selectChannel('en')")
    took = await _wait_for_hz(page, TONES["en"], timeout=3)
    print(f"switch heard by the page after {took:.2f} s")
    assert took < 1.5  # includes the analyser's 170 ms window and polling
    assert await page.evaluate("window.media.pc.signalingState") == "stable"

    for _ in range(50):
        width, height = await page.evaluate("window.videoSize()")
        if width:
            break
        await asyncio.sleep(0.1)
    assert (width, height) == (320, 180)


async def test_page_publishes_into_a_booth_channel(sfu: EmbeddedSfu, page: Any) -> None:
    sfu.set_routes({"en": "floor", "ja": interpreter_key("page")})
    listener = Tab(sfu, "python-listener", channel="ja")
    try:
        await page.evaluate("window.start({ channel: 'en', publish: 'booth' })")
        await listener.connect()
        await wait_until(lambda: listener.channel_audio.packets > 50, timeout=10)
        await asyncio.sleep(0.3)
        assert abs(listener.channel_audio.frequency() - MIC_HZ) < 5
        assert sfu.stats().sources[interpreter_key("page")].kinds == ("audio",)
    finally:
        await listener.close()
