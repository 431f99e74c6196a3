"""Chromium: the listener's own "sound only" choice, and the server's "video paused to keep
the sound" on a weak link.

- Sound only: ticking the stage page's box renegotiates; the server stops sending the floor
  video to that tab (its video receiver counts no new frames) while the floor tone keeps
  playing; unticked, the video comes back.
- Video paused for link quality, through the real path: every 4th UDP packet the server sends
  to the tab is dropped (nftables in the test's loopback-only namespace); the browser's
  receiver reports tell the server, which pauses that tab's video, and the page shows the note
  in the person's language (a Spanish listener); the loss removed, the video comes back and
  the note goes away.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from tests.conftest import FakeClock
from tests.e2e.conftest import open_join_link
from tests.e2e.test_media_browser import heard
from tests.e2e.test_media_resilience import FLOOR_HZ, TOLERANCE_HZ, floor_server, hz
from tests.integration.test_stage_media import until
from tests.netns import UdpLoss, local_ports, require_nft

pytestmark = [pytest.mark.browser, pytest.mark.media]

CATALOGS = Path(__file__).resolve().parents[2] / "client" / "i18n"

VIDEO_FRAMES = """async () => {
  const stats = await window.simultan.media.session.pc.getStats();
  let frames = 0;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesReceived || 0;
  });
  return frames;
}"""


async def video_frames(page: Any) -> int:
    return int(await page.evaluate(VIDEO_FRAMES))


async def frames_over(page: Any, seconds: float) -> int:
    """Video frames the page's receiver counted over the next ``seconds``."""
    before = await video_frames(page)
    await asyncio.sleep(seconds)
    return await video_frames(page) - before


async def listening(browser: Any, server: Any, language: str) -> tuple[Any, list[str], str]:
    person, _ = await server.person(Role.PARTICIPANT, "Eva Sonido", language=language)
    page, errors = await open_join_link(browser, server, person)
    await page.click("#listen")
    await page.wait_for_function("() => window.simultan.media")
    await page.wait_for_function("() => window.simultan.live.mediaSession")
    await page.select_option("#channel", "en")  # the floor itself
    await heard(page, FLOOR_HZ)
    await page.wait_for_function(
        "() => document.querySelector('#floor-video').videoWidth > 0", timeout=10000
    )
    media_id = await page.evaluate("() => window.simultan.live.mediaSession")
    return page, errors, str(media_id)


async def test_sound_only_stops_the_video_and_keeps_the_tone(
    tmp_path: Path, clock: FakeClock, seminar: Any, browser: Any
) -> None:
    async with floor_server(tmp_path, clock, seminar) as (server, sfu):
        page, errors, media_id = await listening(browser, server, "en")
        flowing = await frames_over(page, 1.0)
        assert flowing > 5, flowing  # the control: video frames arrive before the choice

        session = sfu._sessions[media_id]
        assert "video" in session.bound
        await page.check("#audio-only")
        await until(lambda: "video" not in session.bound, 5)
        # The server knows the choice (the offer's video m-line is inactive): it no longer
        # binds the floor video to this tab's sender.
        assert "video" not in session.bound
        videos = [t for t in session.pc.getTransceivers() if t.kind == "video"]
        assert videos and all(t.sender.track is None for t in videos)
        await asyncio.sleep(0.5)  # frames already on the way
        stopped = await frames_over(page, 2.0)
        readings = []
        for _ in range(8):
            readings.append(await hz(page))
            await asyncio.sleep(0.2)
        print(f"MEASURED sound only: {flowing} video frames/s before, {stopped} in 2 s after")
        assert stopped == 0, stopped  # nothing of the video is sent to this tab
        assert all(abs(r - FLOOR_HZ) <= TOLERANCE_HZ for r in readings), readings
        assert "video" not in session.bound and sfu.session_ids() == [media_id]

        # Unticked: the video comes back (same peer connection, renegotiated).
        await page.uncheck("#audio-only")
        await page.wait_for_function(
            "() => document.querySelector('#floor-video').videoWidth > 0", timeout=10000
        )
        back = 0
        deadline = time.monotonic() + 8
        while back <= 5 and time.monotonic() < deadline:
            back = await frames_over(page, 0.5)
        assert back > 5, back
        assert "video" in session.bound
        assert await page.evaluate("() => window.simultan.media.session.renewals") == 0
        assert errors == []


async def test_video_paused_for_a_weak_link_is_said_in_the_persons_language(
    tmp_path: Path, clock: FakeClock, seminar: Any, browser: Any
) -> None:
    require_nft()
    note_es = json.loads((CATALOGS / "es.json").read_text("utf-8"))["media.video_paused"]
    note_en = json.loads((CATALOGS / "en.json").read_text("utf-8"))["media.video_paused"]
    assert note_es != note_en
    async with floor_server(tmp_path, clock, seminar, video_resume_seconds=2.0) as (server, sfu):
        page, errors, media_id = await listening(browser, server, "es")
        note = page.locator("#media-note")
        assert await note.is_hidden()
        ports = local_ports(sfu._sessions[media_id].pc)
        assert ports

        with UdpLoss(ports, every=4):  # a quarter of what the server sends this tab is lost
            lossy = time.monotonic()
            await page.wait_for_function(
                "() => !document.querySelector('#media-note').hidden", timeout=10000
            )
            shown = time.monotonic() - lossy
            assert await note.inner_text() == note_es
            assert sfu._sessions[media_id].video_paused
            await asyncio.sleep(0.5)
            paused_frames = await frames_over(page, 1.5)
            assert paused_frames == 0, paused_frames  # paused means nothing of it is sent
        clean = time.monotonic()
        await page.wait_for_function(
            "() => document.querySelector('#media-note').hidden", timeout=20000
        )
        gone = time.monotonic() - clean
        assert not sfu._sessions[media_id].video_paused
        back = 0
        deadline = time.monotonic() + 8
        while back <= 5 and time.monotonic() < deadline:
            back = await frames_over(page, 0.5)
        print(
            f"MEASURED weak link in Chromium: note shown {shown:.1f} s after the loss began, "
            f"gone {gone:.1f} s after it ended; video frames while paused {paused_frames}, "
            f"after {back} in 0.5 s"
        )
        assert back > 5, back
        assert abs(await hz(page) - FLOOR_HZ) <= TOLERANCE_HZ
        assert await note.inner_text() == ""
        assert errors == []
