"""The reliance on aiortc internals: hooks installed, packets forwarded, nothing re-encoded."""

from __future__ import annotations

import asyncio
import fractions
import importlib.util
import itertools
import os
import statistics
import struct
from collections.abc import Callable, Iterator

import aiortc
import aiortc.rtcrtpreceiver as receiver_mod
import av
import pylibsrtp
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtpPacket

from simultan.media import passthrough
from simultan.media.encode import EncodedTrack
from simultan.media.sfu import EmbeddedSfu
from simultan.media.synthetic import TestPatternTrack
from tests.media.tones import FLOOR_HZ, TONES, Tab, ToneTrack, wait_until

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=96)
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
PCMU = RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, channels=1, payloadType=0)


@pytest.fixture
def installed() -> Iterator[None]:
    passthrough.install()
    yield
    passthrough.install()


def test_pins_aiortc_version() -> None:
    assert aiortc.__version__ == passthrough.REQUIRED_AIORTC == "1.16.0"


def test_refuses_another_aiortc_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    spec = importlib.util.spec_from_file_location("passthrough_copy", passthrough.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(ImportError, match=r"aiortc 1\.16\.0 internals.*found aiortc 1\.17\.0"):
        spec.loader.exec_module(module)


def test_fast_protect_gives_the_bytes_of_pylibsrtp() -> None:
    """Wires call libsrtp through pylibsrtp 1.0.0's session internals: same output."""
    assert pylibsrtp.__version__ == "1.0.0"
    key = os.urandom(30)

    def session() -> pylibsrtp.Session:
        policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        return pylibsrtp.Session(policy)

    reference, fast = session(), passthrough.fast_protect(session())
    for seq, size in enumerate((120, 1100, 1, 1200) * 5):
        packet = struct.pack("!BBHII", 0x80, 111, seq, seq * 960, 0x1234) + os.urandom(size)
        assert fast(packet) == reference.protect(packet)
    with pytest.raises(ValueError, match="too long"):
        fast(b"\x80" * 1400)
    with pytest.raises(pylibsrtp.Error):  # a replayed packet, as pylibsrtp refuses it
        fast(packet)


def test_install_and_uninstall() -> None:
    passthrough.uninstall()
    try:
        assert not passthrough.is_installed()
        assert receiver_mod.JitterBuffer is JitterBuffer
        passthrough.install(low_latency_audio=False)
        assert passthrough.is_installed()
        assert not passthrough.low_latency_audio_installed()
        passthrough.install()
        assert passthrough.low_latency_audio_installed()
        assert RTCRtpSender._send_keyframe is passthrough._send_keyframe
        assert RTCRtpReceiver.receive is passthrough._receive
        assert RTCRtpSender._run_rtcp is passthrough._run_rtcp
        passthrough.uninstall()
        assert RTCRtpReceiver.receive is passthrough._ORIGINAL_RECEIVE
        assert RTCRtpSender._run_rtcp is passthrough._ORIGINAL_RUN_RTCP
    finally:
        passthrough.install()


def test_decoder_hook_returns_packets_with_timing(installed: None) -> None:
    audio = receiver_mod.get_decoder(OPUS)
    assert isinstance(audio, passthrough.PassThroughDecoder)
    (packet,) = audio.decode(JitterFrame(data=b"\xfc\x01\x02", timestamp=960))
    assert isinstance(packet, av.Packet)
    assert bytes(packet) == b"\xfc\x01\x02"
    assert packet.pts == 960
    assert packet.time_base == fractions.Fraction(1, 48000)

    video = receiver_mod.get_decoder(VP8)
    keyframe = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xB4, 0x00]) + b"\0" * 8
    (packet,) = video.decode(JitterFrame(data=keyframe, timestamp=3000))
    assert packet.time_base == fractions.Fraction(1, 90000)
    assert packet.pts == 3000
    assert packet.is_keyframe
    (packet,) = video.decode(JitterFrame(data=b"\x11\x00\x00\x00", timestamp=6000))
    assert not packet.is_keyframe


def test_other_codecs_are_decoded_not_passed(installed: None) -> None:
    assert not isinstance(receiver_mod.get_decoder(PCMU), passthrough.PassThroughDecoder)


def test_vp8_header_helpers() -> None:
    keyframe = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xB4, 0x00])
    assert passthrough.vp8_is_keyframe(keyframe)
    assert passthrough.vp8_dimensions(keyframe) == (320, 180)
    assert passthrough.vp8_dimensions(b"\x11\x00\x00\x00") is None
    assert not passthrough.vp8_is_keyframe(b"")


def _rtp(seq: int, ts: int) -> RtpPacket:
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts)
    packet._data = b"opus"  # type: ignore[attr-defined]
    return packet


def test_forwarding_audio_buffer_releases_at_once() -> None:
    buffer = receiver_mod.JitterBuffer(capacity=16, prefetch=4)
    assert isinstance(buffer, passthrough.ForwardingAudioBuffer)
    assert buffer.capacity == 16
    pli, frame = buffer.add(_rtp(100, 960))
    assert not pli and frame is not None and frame.timestamp == 960
    assert buffer.add(_rtp(100, 960)) == (False, None)  # duplicate
    assert buffer.add(_rtp(102, 2880))[1] is not None
    assert buffer.add(_rtp(101, 1920)) == (False, None)  # late: time never goes back
    assert buffer.add(_rtp(0xFFFF, 4800))[1] is not None  # a restart far behind: accepted
    assert buffer.add(_rtp(0, 5760))[1] is not None  # sequence wrap
    # Video keeps aiortc's frame-assembling jitter buffer.
    assert isinstance(receiver_mod.JitterBuffer(capacity=128, is_video=True), JitterBuffer)


async def test_forwarded_tracks_never_encode(
    sfu: EmbeddedSfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for cls in (OpusEncoder, Vp8Encoder, H264Encoder):
        original = cls.encode

        def counting(self, frame, force_keyframe=False, _original=original, _name=cls.__name__):  # type: ignore[no-untyped-def]
            calls.append(_name)
            return _original(self, frame, force_keyframe)

        monkeypatch.setattr(cls, "encode", counting)

    sfu.set_routes({"en": "floor", "zh": "interpreter:zh-a", "ja": "interpreter:ja-a"})
    # Publishers send pre-encoded packets, so no encoder runs anywhere in this process
    # unless the SFU (or a subscriber's sender) encodes.
    floor = Tab(
        sfu,
        "floor",
        publish="floor",
        audio=EncodedTrack(ToneTrack(FLOOR_HZ)),
        video=EncodedTrack(TestPatternTrack(width=320, height=180, fps=15)),
    )
    booth = Tab(
        sfu, "booth", publish="interpreter:zh-a", audio=EncodedTrack(ToneTrack(TONES["zh"]))
    )
    listeners = [Tab(sfu, f"l{i}", channel=lang) for i, lang in enumerate(("en", "zh", "zh"))]
    raw = Tab(sfu, "raw", publish="interpreter:ja-a", audio=(raw_tone := ToneTrack(TONES["ja"])))
    try:
        await asyncio.gather(floor.connect(), booth.connect())
        await asyncio.gather(*(t.connect() for t in listeners))
        await wait_until(
            lambda: all(t.channel_audio.packets > 50 and t.video.packets > 10 for t in listeners),
            timeout=10,
        )
        # Received frames skip aiortc's decoder thread: packets go straight to the track.
        inline = [
            t.receiver._RTCRtpReceiver__decoder_queue  # type: ignore[attr-defined]
            for t in sfu._sessions["floor"].pc.getTransceivers()
            if t.currentDirection in ("recvonly", "sendrecv")
        ]
        assert len(inline) == 2
        assert all(isinstance(q, passthrough._InlineDecoderQueue) for q in inline)
        assert abs(listeners[0].channel_audio.frequency() - FLOOR_HZ) < 5
        assert abs(listeners[1].channel_audio.frequency() - TONES["zh"]) < 5
        assert calls == []

        # Control: a publisher that sends raw frames does make its own sender encode, so
        # the counter works; the SFU still adds none for the listeners it forwards to.
        await raw.connect()
        sfu.select_channel("l1", "ja")
        await wait_until(lambda: len(calls) > 30, timeout=5)
        await asyncio.sleep(0.5)
        assert set(calls) == {"OpusEncoder"}
        assert len(calls) <= raw_tone.sent + 1
        assert abs(listeners[1].channel_audio.frequency() - TONES["ja"]) < 5
    finally:
        await asyncio.gather(*(t.close() for t in (*listeners, raw, booth, floor)))


class _FakeTransport:
    state = "connected"


class _FakeSender:
    """What the RTCP clock reads of an aiortc sender (its name-mangled counters)."""

    def __init__(self, transport: _FakeTransport, kind: str, ssrc: int) -> None:
        self.transport = transport
        self.kind = kind
        self._ssrc = ssrc
        self._RTCRtpSender__packet_count = 0
        self._RTCRtpSender__octet_count = 0
        self._RTCRtpSender__rtp_timestamp = 0
        self._RTCRtpSender__ntp_timestamp = 0
        self._RTCRtpSender__cname = "cname"
        self._RTCRtpSender__lsr = 0
        self._RTCRtpSender__lsr_time = 0.0

    def send(self, packets: int) -> None:
        self._RTCRtpSender__packet_count += packets
        self._RTCRtpSender__octet_count += 120 * packets
        self._RTCRtpSender__rtp_timestamp += 960 * packets
        self._RTCRtpSender__ntp_timestamp += packets << 27


def _run_clock(
    clock: passthrough.RtcpClock,
    senders: list[_FakeSender],
    seconds: float,
    start: float = 0.0,
    sending: Callable[[_FakeSender, float], bool] = lambda s, t: True,
) -> dict[int, list[float]]:
    """Drive the clock's ticks over ``seconds`` of fake loop time: when each SR went out."""
    reports: dict[int, list[float]] = {id(t): [] for t in (s.transport for s in senders)}
    ticks = int(seconds / clock.TICK)
    for i in range(1, ticks + 1):
        now = start + i * clock.TICK
        for sender in senders:
            if sending(sender, now):
                sender.send(12)  # ~50 packets/s
        for transport, payload in clock.step(now):
            assert payload[1] == 200  # an SR first
            reports[id(transport)].append(now)
    return reports


def test_rtcp_clock_reports_audio_every_five_seconds_and_video_every_second() -> None:
    """libwebrtc's intervals: audio-only transports ~5 s (2.5-7.5 s), video ones ~1 s."""
    clock = passthrough.RtcpClock()
    audio_t, video_t = _FakeTransport(), _FakeTransport()
    audio = [_FakeSender(audio_t, "audio", 1), _FakeSender(audio_t, "audio", 2)]
    video = [_FakeSender(video_t, "audio", 3), _FakeSender(video_t, "video", 4)]
    for sender in (*audio, *video):
        clock.enroll(sender, 0.0)  # type: ignore[arg-type]
    reports = _run_clock(clock, [*audio, *video], 120.0)
    audio_times, video_times = reports[id(audio_t)], reports[id(video_t)]
    # The first report comes soon after the start (lip sync and RTT from the start).
    assert audio_times[0] <= 1.75 and video_times[0] <= 1.75
    audio_gaps = [b - a for a, b in itertools.pairwise(audio_times)]
    video_gaps = [b - a for a, b in itertools.pairwise(video_times)]
    # Audio: 0.5-1.5 x 5 s, on the clock's 0.25 s ticks; about 24 reports in 120 s, never
    # anywhere near one a second.
    assert min(audio_gaps) >= 2.5 and max(audio_gaps) <= 7.75
    assert 3.5 <= statistics.mean(audio_gaps) <= 6.5
    assert 14 <= len(audio_times) <= 40
    # Video (with its audio on the same transport): 0.5-1.5 x 1 s.
    assert min(video_gaps) >= 0.5 and max(video_gaps) <= 1.75
    assert len(video_times) >= 80
    # Every report carried both of the transport's senders.
    assert clock.reports == 2 * (len(audio_times) + len(video_times))
    # RTT: a report leaves the sender's LSR and its time for the receiver reports to match.
    assert audio[0]._RTCRtpSender__lsr != 0 and audio[0]._RTCRtpSender__lsr_time > 0


def test_rtcp_clock_reports_video_promptly_when_it_starts() -> None:
    """A transport on the audio interval whose video starts (or resumes) is reported within
    about a second, then at the video interval; when video pauses, back to ~5 s."""
    clock = passthrough.RtcpClock()
    transport = _FakeTransport()
    audio, video = _FakeSender(transport, "audio", 1), _FakeSender(transport, "video", 2)
    for sender in (audio, video):
        clock.enroll(sender, 0.0)  # type: ignore[arg-type]

    def sending(sender: _FakeSender, now: float) -> bool:
        return sender.kind == "audio" or 30.0 <= now < 60.0

    times = _run_clock(clock, [audio, video], 90.0, sending=sending)[id(transport)]
    before = [t for t in times if t < 30.0]
    during = [t for t in times if 30.0 <= t < 60.0]
    after = [t for t in times if t >= 62.0]
    assert len(before) <= 12  # audio interval while the video slot is idle
    assert during and during[0] <= 31.25  # video seen within a second
    assert len(during) >= 20
    assert len(after) <= 10  # back to the audio interval
    assert min(b - a for a, b in itertools.pairwise(after)) >= 2.5


def test_rtcp_clock_sends_nothing_for_idle_transports() -> None:
    clock = passthrough.RtcpClock()
    transport = _FakeTransport()
    sender = _FakeSender(transport, "audio", 1)
    clock.enroll(sender, 0.0)  # type: ignore[arg-type]
    assert _run_clock(clock, [sender], 10.0, sending=lambda s, t: False)[id(transport)] == []
    # Once it sends, the first report follows within about a second.
    times = _run_clock(clock, [sender], 10.0, start=10.0)[id(transport)]
    assert times and times[0] <= 11.75
