"""Offer checks: limits, typed errors, trimming to Opus/VP8 (no network)."""

from __future__ import annotations

import pytest

from simultan.errors import ProtocolError
from simultan.media.offer import MAX_AUDIO_MLINES, MAX_VIDEO_MLINES, parse_offer

FP = ":".join(["AA", "BB", "CC", "DD", "EE", "FF", "00", "11"] * 4)
SESSION = """v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE {mids}
a=msid-semantic: WMS
"""

VIDEO = """m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 45 102
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 {fp}
a=setup:actpass
a=mid:{mid}
a={direction}
a=rtcp-mux
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:98 VP9/90000
a=fmtp:98 profile-id=0
a=rtpmap:99 rtx/90000
a=fmtp:99 apt=98
a=rtpmap:45 AV1/90000
a=rtpmap:102 H264/90000
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
"""

AUDIO = """m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 {fp}
a=setup:actpass
a=mid:{mid}
a={direction}
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
"""


def offer(*kinds: str, directions: tuple[str, ...] | None = None, bundle: bool = True) -> str:
    mids = [str(i) for i in range(len(kinds))]
    directions = directions or ("recvonly",) * len(kinds)
    text = SESSION.format(mids=" ".join(mids) if bundle else "")
    for mid, kind, direction in zip(mids, kinds, directions, strict=True):
        section = VIDEO if kind == "video" else AUDIO
        text += section.format(mid=mid, direction=direction, fp=FP)
    return text.replace("\n", "\r\n")


LIMIT = 32 * 1024


def test_a_browser_offer_is_trimmed_to_opus_and_vp8() -> None:
    parsed = parse_offer(
        offer("video", "audio", "audio", directions=("sendrecv", "sendrecv", "recvonly")),
        max_bytes=LIMIT,
    )
    assert [(m.kind, m.mid, m.direction) for m in parsed.media] == [
        ("video", "0", "sendrecv"),
        ("audio", "1", "sendrecv"),
        ("audio", "2", "recvonly"),
    ]
    assert parsed.media[0].sends and parsed.media[0].receives
    assert not parsed.media[2].sends and parsed.media[2].receives
    lines = parsed.sdp.split("\r\n")
    assert "m=video 9 UDP/TLS/RTP/SAVPF 96 97" in lines
    assert lines.count("m=audio 9 UDP/TLS/RTP/SAVPF 111") == 2
    for gone in ("VP9", "AV1", "H264", "rtx/90000\r\na=fmtp:99", "G722", "PCMU", "red/", "CN/"):
        assert gone not in parsed.sdp
    assert "a=fmtp:97 apt=96" in lines
    assert "a=rtcp-fb:96 nack pli" in lines
    assert "a=fmtp:111 minptime=10;useinbandfec=1" in lines
    assert parsed.fingerprint.startswith("sha-256 aa:bb")


def test_oversized_offer() -> None:
    text = offer("audio")
    with pytest.raises(ProtocolError, match=r"SDP offer is \d+ bytes; the limit is 1024") as info:
        parse_offer(text + "a=x-pad:" + "x" * 2000 + "\r\n", max_bytes=1024)
    assert info.value.code == "bad_message"
    assert info.value.details["limit"] == 1024


def test_too_many_m_lines() -> None:
    audio = ("audio",) * (MAX_AUDIO_MLINES + 1)
    with pytest.raises(ProtocolError, match=f"{len(audio)} audio and 1 video m-lines"):
        parse_offer(offer("video", *audio), max_bytes=LIMIT)
    video = ("video",) * (MAX_VIDEO_MLINES + 1)
    with pytest.raises(ProtocolError, match=f"0 audio and {len(video)} video"):
        parse_offer(offer(*video), max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "must be a string"),
        ("", "must start with 'v=0'"),
        ("hello", "must start with 'v=0'"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "has no media"),
        ("v=0\r\nm=audio\r\n", "m-line 0 is malformed"),
        (
            offer("audio").replace("m=audio 9", "m=application 9"),
            "only audio and video are accepted",
        ),
        (offer("audio").replace("opus/48000/2", "speex/16000"), "does not offer Opus"),
        (offer("video").replace("VP8/90000", "VP7/90000"), "does not offer VP8"),
        (offer("audio", bundle=False), "must BUNDLE every m-line"),
        (offer("audio").replace("a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n", ""), "ICE credentials"),
        (
            "\r\n".join(line for line in offer("audio").split("\r\n") if "fingerprint" not in line),
            "DTLS fingerprint",
        ),
    ],
)
def test_bad_offers_are_protocol_errors(text: object, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_offer(text, max_bytes=LIMIT)


def test_a_rejected_m_line_is_left_alone() -> None:
    rejected = AUDIO.format(mid="1", direction="inactive", fp=FP).replace(
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110", "m=audio 0 UDP/TLS/RTP/SAVPF 0"
    )
    text = offer("audio") + rejected.replace("\n", "\r\n")
    parsed = parse_offer(text.replace("BUNDLE 0", "BUNDLE 0 1"), max_bytes=LIMIT)
    assert parsed.media[1].rejected
    assert not parsed.media[1].sends and not parsed.media[1].receives
    assert "m=audio 0 UDP/TLS/RTP/SAVPF 0" in parsed.sdp


def test_too_many_candidates_refused_before_aiortc() -> None:
    text = offer("audio")
    many = "".join(
        f"a=candidate:{n} 1 udp 2122260223 127.0.0.{n % 250 + 1} {50000 + n} typ host\r\n"
        for n in range(21)
    )
    assert parse_offer(text + many.split("\r\n", 1)[1], max_bytes=LIMIT)  # 20 pass
    with pytest.raises(ProtocolError, match="21 ICE candidates; at most 20") as info:
        parse_offer(text + many, max_bytes=LIMIT)
    assert info.value.details == {"candidates": 21, "limit": 20}
