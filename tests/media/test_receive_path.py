"""The direct receive path: SRTP handled as each datagram arrives, frames assembled only when
someone reads them (passthrough hook 6, stunpath's media sink)."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import os
import struct
from typing import Any

import av
import pylibsrtp
import pytest
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtpPacket

from simultan.media import passthrough, stunpath
from simultan.media.encode import EncodedTrack
from simultan.media.fanout import DownTrack
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import TestPatternTrack
from tests.media.tones import FLOOR_HZ, Tab, ToneTrack, wait_until


def test_fast_unprotect_gives_the_bytes_of_pylibsrtp() -> None:
    key = os.urandom(30)

    def session(direction: int) -> pylibsrtp.Session:
        return pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=direction))

    sender = session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    reference = session(pylibsrtp.Policy.SSRC_ANY_INBOUND)
    fast = passthrough.fast_unprotect(session(pylibsrtp.Policy.SSRC_ANY_INBOUND))
    for seq, size in enumerate((120, 1100, 1, 1200) * 5):
        clear = struct.pack("!BBHII", 0x80, 111, seq, seq * 960, 0x1234) + os.urandom(size)
        protected = sender.protect(clear)
        assert fast(protected) == reference.unprotect(protected) == clear
    tampered = sender.protect(struct.pack("!BBHII", 0x80, 111, 99, 0, 0x1234) + b"x" * 50)
    with pytest.raises(pylibsrtp.Error, match="srtp_unprotect"):
        fast(tampered[:-1] + bytes([tampered[-1] ^ 1]))


def test_the_internals_the_receive_path_relies_on() -> None:
    """aiortc 1.16.0: what _MediaSink does in place of RTCDtlsTransport._recv_next."""
    assert callable(RTCDtlsTransport._handle_rtp_data)
    assert callable(RTCDtlsTransport._handle_rtcp_data)
    names = RTCDtlsTransport.__init__.__code__.co_names
    assert "_RTCDtlsTransport__rx_bytes" in names
    assert "_RTCDtlsTransport__rx_packets" in names
    assert "_rx_srtp" in names
    assert stunpath._Connection._simultan_media_sink is None  # the default: aioice's queue


async def test_run_eagerly_finishes_what_does_not_wait_at_once() -> None:
    done: list[str] = []

    async def send() -> str:  # as aioice's send: async, but it never waits
        return "now"

    async def handler() -> None:
        done.append(await send())

    passthrough.run_eagerly(handler())
    assert done == ["now"]  # on the caller's stack, no task


async def test_run_eagerly_hands_what_waits_to_a_task() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[int] = loop.create_future()
    done: list[object] = []

    async def handler() -> None:
        done.append(await gate)
        await asyncio.sleep(0)
        done.append("after a bare yield")

    passthrough.run_eagerly(handler())
    assert done == []
    gate.set_result(7)
    await wait_until(lambda: len(done) == 2, timeout=1)
    assert done == [7, "after a bare yield"]


async def test_run_eagerly_logs_a_failure_and_does_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler() -> None:
        raise RuntimeError("bad packet")

    with caplog.at_level(logging.ERROR, logger=passthrough.__name__):
        passthrough.run_eagerly(handler())
    assert "packet handler failed" in caplog.text


def _rtp(seq: int, ts: int, payload: bytes, marker: int = 0) -> RtpPacket:
    packet = RtpPacket(payload_type=97, sequence_number=seq, timestamp=ts, marker=marker)
    packet.payload = payload
    packet._data = payload[1:]  # type: ignore[attr-defined]  # the depayloaded VP8
    return packet


class _Receiver:
    def __init__(self) -> None:
        self.want = False
        self.seen: list[int] = []
        self._simultan_arrival = 0
        self._simultan_tap = self.tap

    def tap(self, packet: RtpPacket, arrival_ms: int) -> bool:
        self.seen.append(packet.sequence_number)
        return self.want


def test_tap_buffer_skips_frames_nobody_reads_and_restarts_at_a_frame_start() -> None:
    receiver = _Receiver()
    inner = passthrough._ORIGINAL_JITTER_BUFFER(capacity=128, is_video=True)
    buffer = passthrough._TapBuffer(inner, receiver)  # type: ignore[arg-type]
    start, middle = b"\x10", b"\x00"  # VP8 descriptor: S=1 PID=0, and a continuation
    seq = 0

    def frame(ts: int) -> list[Any]:
        nonlocal seq
        out = []
        for i, head in enumerate((start, middle, middle)):
            out.append(buffer.add(_rtp(seq, ts, head + bytes([ts % 256, i]), int(i == 2))))
            seq += 1
        return out

    for ts in range(5):  # nobody reads frames: each packet is tapped, none buffered
        assert all(result == (False, None) for result in frame(ts * 3000))
    assert buffer.skipped == 15 and receiver.seen == list(range(15))
    assert all(p is None for p in inner._packets)

    receiver.want = True  # a frame reader came: wait for a frame's first packet
    assert buffer.add(_rtp(seq, 90000, middle + b"late", 1)) == (False, None)
    seq += 1
    emitted = [f for f in frame(93000) + frame(96000) if f[1] is not None]
    # The first complete frame comes out when the next one starts, beginning at its start.
    assert len(emitted) == 1
    assert emitted[0][1].timestamp == 93000
    assert emitted[0][1].data == bytes([93000 % 256, 0, 93000 % 256, 1, 93000 % 256, 2])


def test_tap_buffer_passes_everything_when_the_tap_says_nothing() -> None:
    receiver = _Receiver()
    receiver._simultan_tap = lambda packet, arrival: None  # type: ignore[assignment,return-value]
    buffer = passthrough._TapBuffer(passthrough.ForwardingAudioBuffer(capacity=16), receiver)  # type: ignore[arg-type]
    results = [buffer.add(_rtp(s, s * 960, b"\x00opus")) for s in range(4)]
    assert all(frame is not None for _, frame in results)
    assert buffer.skipped == 0


def _receivers(sfu: EmbeddedSfu, session_id: str) -> list[Any]:
    return [
        t.receiver
        for t in sfu._sessions[session_id].pc.getTransceivers()
        if t.currentDirection in ("recvonly", "sendrecv")
    ]


async def test_publisher_media_takes_the_direct_receive_path(
    sfu: EmbeddedSfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A floor with audio and video, listeners that take RTP only: every SRTP packet is
    handled in the datagram callback, no frame is assembled, and a frame reader that comes
    later gets whole frames from a keyframe on."""
    calls = {"sink": 0, "queued": 0}
    sink_call = passthrough._MediaSink.__call__

    def counting_sink(self: Any, data: bytes) -> bool:
        calls["sink"] += 1
        return sink_call(self, data)

    queued = stunpath._Connection.data_received

    def counting_queue(self: Any, data: bytes, component: int) -> None:
        if 127 < data[0] < 192:
            calls["queued"] += 1
        queued(self, data, component)

    monkeypatch.setattr(passthrough._MediaSink, "__call__", counting_sink)
    monkeypatch.setattr(stunpath._Connection, "data_received", counting_queue)
    sfu.set_routes({"en": "floor"})
    camera = EncodedTrack(TestPatternTrack("FLOOR", width=320, height=180, fps=15))
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ), video=camera)
    listener = Tab(sfu, "l1", channel="en")
    reader = DownTrack("video", sfu._board, queue_size=64, name="frames")
    try:
        await floor.connect()
        await listener.connect()
        await wait_until(
            lambda: listener.channel_audio.packets > 50 and listener.video.packets > 20, timeout=8
        )
        assert abs(listener.channel_audio.frequency() - FLOOR_HZ) < 5
        receivers = _receivers(sfu, "floor")
        assert len(receivers) == 2
        for receiver in receivers:
            ice = receiver.transport.transport._connection
            assert isinstance(ice._simultan_media_sink, passthrough._MediaSink)
            assert receiver._RTCRtpReceiver__jitter_buffer.skipped > 20
            assert receiver._simultan_lean.handled > 20  # aiortc's handler not run for them
        assert calls["sink"] > 100
        assert calls["queued"] == 0  # nothing went through aioice's queue and aiortc's task

        def received() -> int:  # aiortc's own transport counters still count
            stats = receivers[0].transport._get_stats()
            return int(next(iter(stats.values())).packetsReceived)

        before = received()
        await asyncio.sleep(0.5)
        assert received() - before > 20  # ~50 audio + 15+ video packets a second
        # The tech panel still counts frames in, from the RTP path.
        source = sfu.stats().sources["floor"]
        assert source.frames_in > 50

        # A frame reader (as the recorder is) attaches: frames are assembled again, and the
        # first it gets is a whole keyframe that decodes.
        sfu._board.attach(reader, "floor")
        first = await asyncio.wait_for(reader.recv(), timeout=4)
        assert isinstance(first, av.Packet) and first.is_keyframe
        assert passthrough.vp8_dimensions(bytes(first)) == (320, 180)
        decoder = av.CodecContext.create("vp8", "r")
        frames = decoder.decode(first)
        for _ in range(5):
            frames += decoder.decode(await asyncio.wait_for(reader.recv(), timeout=2))
        assert len(frames) == 6 and (frames[0].width, frames[0].height) == (320, 180)
    finally:
        sfu._board.detach(reader)
        await asyncio.gather(listener.close(), floor.close())


def test_lean_receive_is_pinned_to_aiortcs_handler() -> None:
    """LeanReceive repeats what aiortc 1.16.0's RTCRtpReceiver._handle_rtp_packet does with a
    forwarded packet. Any change to that handler must be read again before this passes."""
    source = inspect.getsource(passthrough._ORIGINAL_HANDLE_RTP)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "4e54983d021a6336d80c29490f82f9a6dd531c0d3179b2daed818120c5ece238"
    )
    names = passthrough._ORIGINAL_HANDLE_RTP.__code__.co_names
    for name in (
        "_enabled",
        "_RTCRtpReceiver__remote_bitrate_estimator",
        "_RTCRtpReceiver__rtcp_ssrc",
        "_RTCRtpReceiver__active_ssrc",
        "_RTCRtpReceiver__codecs",
        "_RTCRtpReceiver__remote_streams",
        "_RTCRtpReceiver__nack_generator",
        "_send_rtcp",
        "_send_rtcp_nack",
    ):
        assert name in names, name


async def test_a_packet_lost_on_the_way_in_is_nacked_on_the_lean_path(
    sfu: EmbeddedSfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SFU's receiver of a publisher's video still asks for what it missed (NACK), from
    the lean path; its statistics and bitrate estimate go on."""
    retransmits: list[int] = []
    retransmit = RTCRtpSender._retransmit

    async def counting(self: RTCRtpSender, sequence_number: int) -> None:
        retransmits.append(sequence_number)
        await retransmit(self, sequence_number)

    monkeypatch.setattr(RTCRtpSender, "_retransmit", counting)
    lost: list[int] = []
    rtp = passthrough._MediaSink._rtp

    def losing(dtls: Any, data: bytes, arrival: int) -> None:
        seq = int.from_bytes(data[2:4], "big")
        # Only on the way into the SFU's receiver (the listener's tab, in this process, has
        # its packets on this path too).
        if dtls is into[0] and data[1] & 0x7F == video_pt[0] and len(lost) < 3 and seq % 7 == 0:
            lost.append(seq)
            return
        rtp(dtls, data, arrival)

    video_pt = [-1]
    into: list[Any] = [None]
    monkeypatch.setattr(passthrough._MediaSink, "_rtp", staticmethod(losing))
    sfu.set_routes({"en": "floor"})
    camera = EncodedTrack(TestPatternTrack("FLOOR", width=320, height=180, fps=15))
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ), video=camera)
    listener = Tab(sfu, "l1", channel="en")
    try:
        await floor.connect()
        await listener.connect()
        await wait_until(lambda: listener.video.packets > 10, timeout=8)
        video = next(r for r in _receivers(sfu, "floor") if r.track.kind == "video")
        codecs = video._RTCRtpReceiver__codecs
        video_pt[0] = next(pt for pt, c in codecs.items() if c.mimeType.lower() == "video/vp8")
        into[0] = video.transport
        await wait_until(lambda: len(lost) == 3, timeout=8)
        await wait_until(lambda: set(lost) <= set(retransmits), timeout=4)
        assert video._simultan_lean.handled >= 10  # the media packets took the lean path
        # The statistics behind the receiver reports, per SSRC: the media one counts on the
        # lean path (aiortc's getStats shows only one SSRC, here the RTX one, under one id).
        streams = video._RTCRtpReceiver__remote_streams
        media = streams[passthrough.remote_ssrc(video)]
        # Every packet the lean path took was counted, and the three dropped ones are missing
        # from the media SSRC (their retransmissions come on the RTX one).
        assert media.packets_received >= video._simultan_lean.handled
        assert media.packets_lost >= len(lost)
    finally:
        await asyncio.gather(listener.close(), floor.close())


async def test_a_failing_handler_never_reaches_the_socket(
    sfu: EmbeddedSfu, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug on the receive path is logged once and the packet dropped: the datagram callback
    never raises (asyncio would close the publisher's socket), and media goes on after it."""
    failures = [0]
    rtp = passthrough._MediaSink._rtp

    def failing(dtls: Any, data: bytes, arrival: int) -> None:
        if failures[0] < 20:
            failures[0] += 1
            raise KeyError("a bug")
        rtp(dtls, data, arrival)

    monkeypatch.setattr(passthrough._MediaSink, "_rtp", staticmethod(failing))
    sfu.set_routes({"en": "floor"})
    floor = Tab(sfu, "floor", publish="floor", audio=ToneTrack(FLOOR_HZ))
    listener = Tab(sfu, "l1", channel="en")
    try:
        with caplog.at_level(logging.ERROR, logger=passthrough.__name__):
            await floor.connect()
            await listener.connect()
            await wait_until(lambda: listener.channel_audio.packets > 30, timeout=8)
        assert failures[0] == 20
        assert abs(listener.channel_audio.frequency() - FLOOR_HZ) < 5
        # Once per sink (the server's publisher transport, the listener's own in-process one).
        assert 1 <= caplog.text.count("packet handling failed") <= 2
    finally:
        await asyncio.gather(listener.close(), floor.close())
