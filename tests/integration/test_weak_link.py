"""Audio before video on a weak link: one listener behind a slow, lossy link (a tc rate limit
on a veth pair into a namespace the test makes, and 0.3 % loss by nftables there; this
kernel has no sch_netem, whose rate and loss do the same) stops getting floor video, keeps the sound
with under 1 % of its audio frames lost, and is told why; another listener on a good link
keeps its video; when the link recovers, the video comes back.

What the weak listener gets is counted as its RTP packets reach its process (before aiortc's
jitter buffers and decoders; see remote_tab.py): that is what the link and the server
delivered. aiortc's own receive path is no measure of it: its audio jitter buffer (16
packets, 4 prefetched) throws away the 4 arrived frames before each lost one (one packet lost,
5 frames missing: what earlier runs of this test counted), and its video jitter buffer (512
packets) waits for packets lost before the pause until it overflows, where a browser decodes
from the next keyframe. The decoded figures are printed beside the counted ones.

The media server offers 127.0.0.1 and 10.200.8.1 (our side of the veth, in the test's own
namespace); the weak listener is 10.200.8.2 in its own namespace.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition
from simultan.media.synthetic import TestPatternTrack, ToneTrack
from simultan.session.link_watch import PAUSED
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.integration.test_stage_media import Stage, until
from tests.netns import RemoteTab, VethHost, shape, unshape

pytestmark = pytest.mark.media

OURS, THEIRS = "10.200.8.1", "10.200.8.2"
FLOOR_HZ = 440.0


@pytest.fixture
def weak_host() -> Iterator[VethHost]:
    import os
    import shutil

    if shutil.which("tc") is None or shutil.which("nft") is None:
        pytest.skip("tc (iproute2) or nft (nftables) is not installed")
    host = VethHost(f"simweak{os.getpid()}", OURS, THEIRS).start()
    try:
        yield host
    finally:
        host.stop()


def gaps(heard: Any, start: float, end: float) -> tuple[int, int]:
    """(packets, frames missing between them) that ``heard`` got in [start, end]."""
    pts = [p for at, p in list(heard.timestamps) if start <= at <= end]
    missing = sum(max(0, round((b - a) / 960) - 1) for a, b in itertools.pairwise(pts) if b > a)
    return len(pts), missing


async def media_messages(tab: Any, into: list[dict[str, Any]]) -> None:
    while True:
        msg = await tab.recv(timeout=120)
        if msg["type"] == "media":
            into.append(msg)


async def test_weak_link_pauses_video_keeps_the_sound_and_others_are_not_affected(
    tmp_path: Path, clock: FakeClock, seminar: EventDefinition, weak_host: VethHost
) -> None:
    runner, server = await start_server(
        tmp_path,
        clock,
        seminar,
        media_enabled=True,
        ice_host_addresses=("127.0.0.1", OURS),
        video_resume_seconds=9.0,  # longer than the measurement below
    )
    remote = RemoteTab(weak_host)
    stage = Stage(server)
    reader: asyncio.Future[None] | None = None
    try:
        media = server.app[SESSION].stage.media
        media.add_local_source("floor", ToneTrack(FLOOR_HZ), TestPatternTrack("FLOOR"))
        good = await stage.listener("en", "Good Link")  # loopback, in this process
        _, token = await server.person(Role.PARTICIPANT, "Weak Link", language="en")
        tab = await server.connect(token)
        await tab.recv_type("welcome")
        config = (await tab.request({"type": "rtc_config"}))["data"]
        await remote.start()
        await remote.connect(tab, config, "en")
        weak_sid = next(s for s in media.session_ids() if s != good.session_id)
        seen: list[dict[str, Any]] = []
        reader = asyncio.ensure_future(media_messages(tab, seen))
        reader.add_done_callback(lambda f: f.cancelled() or f.exception())

        report = await remote.said()
        while report["video"] < 30:  # video and sound flow on the good link first
            report = await remote.said()
        assert abs(report["hz"] - FLOOR_HZ) < 5

        # The link becomes weak: 250 kbit/s (less than video + audio) and a little loss.
        before = await remote.said()
        shape(weak_host.veth, "250kbit")
        # Every 333rd UDP packet lost (0.3 %): at random, 0.3 % loss over the 7 s measured
        # below would pass 1 % by chance in a few runs in a hundred.
        weak_host.lose_every(333)
        degraded = time.monotonic()
        await until(lambda: any(m["video_paused"] for m in seen), 20)
        paused = time.monotonic()
        assert seen[0]["message"] == PAUSED and seen[0]["session"] == weak_sid
        assert good.tab is not None
        video_before = good.tab.video.packets

        # While paused: the sound keeps under 1 % frames lost, the tone right. Counted as the
        # RTP packets reach the listener's process (timestamp gaps before any jitter buffer
        # or decode: what the link and the server delivered); from 1 s after the pause (what
        # the shaper had queued before it drains) for 7 s: a 5 s window (~260 packets) left
        # 1 % at 2 lost, and runs saw 0, 1 and 2; 7 s stays clear of the link watch's first
        # try to resume video (after 10 s of clean audio).
        first = await remote.said_after(paused + 1.0)
        last = await remote.said_after(first["t"] + 7.0)
        arrived = last["arrived"] - first["arrived"]
        lost = last["arrived_lost"] - first["arrived_lost"]
        never = last["rtp_lost"] - first["rtp_lost"]
        decoded = last["frames"] - first["frames"]
        decoded_lost = last["lost"] - first["lost"]
        video = last["video_arrived"] - first["video_arrived"]
        # Control: the good listener's gaps over the same seconds (what the source and the
        # server lost, not the weak link; both processes share CLOCK_MONOTONIC).
        good_frames, good_lost = gaps(good.tab.channel_audio, first["t"], last["t"])
        change = (first["arrived_lost"] - before["arrived_lost"]) / max(
            first["arrived"] - before["arrived"] + first["arrived_lost"] - before["arrived_lost"], 1
        )
        print(
            f"MEASURED weak link: video paused {paused - degraded:.1f} s after degrading "
            f"(audio lost from then to 1 s after the pause: {100 * change:.1f} %); "
            f"while paused ({last['t'] - first['t']:.1f} s) audio {arrived} packets arrived, "
            f"{lost} frames missing ({100 * lost / max(arrived + lost, 1):.2f} %; aiortc's "
            f"packetsLost {never}), video frames {video}; decoded by aiortc {decoded} frames, "
            f"{decoded_lost} missing; good listener {good_frames} frames, {good_lost} missing"
        )
        assert arrived > 300
        assert lost / (arrived + lost) < 0.01
        assert video == 0  # paused means nothing of it is sent
        assert abs(last["hz"] - FLOOR_HZ) < 5
        # The good listener was not affected: its sound under 1 % frames lost over the same
        # seconds, still sent video (never paused, never told so).
        assert good_frames > 200, good_frames
        assert good_lost / (good_frames + good_lost) < 0.01, (good_frames, good_lost)
        await until(lambda: good.tab is not None and good.tab.video.packets > video_before + 30, 5)
        assert not media._sessions[good.session_id].video_paused
        good_status = [m for _, m in good.inbox if m["type"] == "media"]
        assert all(not m.get("video_paused") for m in good_status), good_status
        assert all(m["session"] == weak_sid for m in seen)

        # The link recovers: the video comes back to the weak listener, from a keyframe.
        unshape(weak_host.veth)
        weak_host.lossless()
        recovered = time.monotonic()
        await until(lambda: seen and seen[-1]["video_paused"] is False, 60)
        back = time.monotonic()
        start = await remote.said_after(back)
        # (4 s counted: a re-pause soon after the resume shows as few frames)
        end = await remote.said_after(start["t"] + 4.0)
        frames_back = end["video_arrived"] - start["video_arrived"]
        print(
            f"MEASURED video back {back - recovered:.1f} s after the link recovered: "
            f"{frames_back} frames and {end['keyframes'] - start['keyframes']} keyframes "
            f"arrived in {end['t'] - start['t']:.1f} s (aiortc decoded "
            f"{end['video'] - start['video']})"
        )
        # Not paused again: the first video report after the resume (it counts the packets
        # lost just before the pause) is not taken for the link now (seen: 16-25 %).
        assert not media._sessions[weak_sid].video_paused, [m["video_paused"] for m in seen]
        assert frames_back > 10
        assert end["keyframes"] > first["keyframes"]
    finally:
        if reader is not None:
            reader.cancel()
        await remote.stop()
        await stage.close()
        await runner.cleanup()
