"""Checking and trimming a browser's SDP offer before aiortc sees it.

The SFU forwards bytes: a listener must receive Opus and VP8 exactly as the publisher sent
them, so every m-line is trimmed to Opus (audio) and VP8 plus its RTX (video) before
negotiation. aiortc would otherwise pick the offer's first common codec (Safari puts
H.264 first) and relabel forwarded VP8 as something else.

Limits: the offer's size (``settings.max_sdp_bytes``), at most two audio m-lines and one
video m-line (floor/booth audio, channel audio, floor video) plus one member audio and one
member video slot per other member of the largest group (see :mod:`.rooms`), nothing else,
and at most ``MAX_CANDIDATES`` ICE candidates, all checked before aiortc sees the offer.
A violation is a :class:`~simultan.errors.ProtocolError` with a message a client developer
can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from simultan.core.rooms import MAX_GROUP
from simultan.errors import ProtocolError

# The plenary's three m-lines (floor video, program, channel) plus one member audio and one
# member video slot for each other member of the largest group (see .rooms).
MAX_AUDIO_MLINES = 2 + MAX_GROUP - 1
MAX_VIDEO_MLINES = 1 + MAX_GROUP - 1
# A browser on a laptop offers a handful (one per interface and protocol, bundled); more is
# an offer built to make aiortc probe a list of addresses.
MAX_CANDIDATES = 20
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

_M_LINE = re.compile(r"^m=(\w+) (\d+)(?:/\d+)? (\S+)((?: \S+)*)$")
_PT_ATTR = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+|\*)[ ]?(.*)$")


@dataclass(frozen=True)
class OfferedMedia:
    """One m-line of an offer, from the offerer's point of view."""

    index: int
    kind: str
    mid: str | None
    direction: str
    rejected: bool

    @property
    def sends(self) -> bool:
        """The offerer sends media on this m-line."""
        return not self.rejected and self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        """The offerer wants to receive media on this m-line."""
        return not self.rejected and self.direction in ("sendrecv", "recvonly")


@dataclass(frozen=True)
class Offer:
    sdp: str
    media: tuple[OfferedMedia, ...]
    # The offerer's DTLS certificate fingerprint: a new one means a new peer connection
    # (a reloaded tab), not a renegotiation of the existing one.
    fingerprint: str = ""

    def of_kind(self, kind: str) -> list[OfferedMedia]:
        return [m for m in self.media if m.kind == kind]


def parse_offer(text: object, *, max_bytes: int) -> Offer:
    """Validate an offer and trim it to Opus/VP8. Raises ProtocolError."""
    if not isinstance(text, str):
        raise ProtocolError("SDP offer must be a string")
    size = len(text.encode("utf-8", "replace"))
    if size > max_bytes:
        raise ProtocolError(
            f"SDP offer is {size} bytes; the limit is {max_bytes}",
            details={"size": size, "limit": max_bytes},
        )
    lines = [line.rstrip("\r") for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines or lines[0] != "v=0":
        raise ProtocolError("SDP offer must start with 'v=0'")

    session: list[str] = []
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            session.append(line)

    candidates = sum(1 for line in lines if line.startswith("a=candidate:"))
    if candidates > MAX_CANDIDATES:
        raise ProtocolError(
            f"SDP offer has {candidates} ICE candidates; at most {MAX_CANDIDATES} are accepted",
            details={"candidates": candidates, "limit": MAX_CANDIDATES},
        )
    counts = {"audio": 0, "video": 0}
    media: list[OfferedMedia] = []
    out = list(session)
    for index, section in enumerate(sections):
        trimmed, info = _trim_section(index, section)
        if info.kind not in counts:
            raise ProtocolError(
                f"SDP offer m-line {index} is {info.kind!r}; only audio and video are accepted"
            )
        counts[info.kind] += 1
        media.append(info)
        out.extend(trimmed)
    if counts["audio"] > MAX_AUDIO_MLINES or counts["video"] > MAX_VIDEO_MLINES:
        raise ProtocolError(
            f"SDP offer has {counts['audio']} audio and {counts['video']} video m-lines; "
            f"at most {MAX_AUDIO_MLINES} audio and {MAX_VIDEO_MLINES} video are accepted",
            details=dict(counts),
        )
    if not media:
        raise ProtocolError("SDP offer has no media")

    bundled = set()
    for line in session:
        if line.startswith("a=group:BUNDLE"):
            bundled.update(line.split()[1:])
    unbundled = [m.index for m in media if not m.rejected and m.mid not in bundled]
    if unbundled:
        raise ProtocolError(
            f"SDP offer must BUNDLE every m-line (a=group:BUNDLE with each a=mid); "
            f"m-lines {unbundled} are not"
        )

    trimmed_sdp = "\r\n".join(out) + "\r\n"
    try:
        parsed = aiortc_sdp.SessionDescription.parse(trimmed_sdp)
    except Exception as exc:  # aiortc's parser raises whatever its regexes trip on
        raise ProtocolError(f"SDP offer cannot be parsed: {exc}") from exc
    if len(parsed.media) != len(media):  # pragma: no cover - both parsers split on m=
        raise ProtocolError("SDP offer cannot be parsed: m-lines disagree")
    for m in parsed.media:
        if not m.ice or not m.ice.usernameFragment or not m.ice.password:
            raise ProtocolError("SDP offer lacks ICE credentials (a=ice-ufrag/a=ice-pwd)")
        if not m.dtls or not m.dtls.fingerprints:
            raise ProtocolError("SDP offer lacks a DTLS fingerprint (a=fingerprint)")
    dtls = parsed.media[0].dtls
    assert dtls is not None  # checked above
    first = dtls.fingerprints[0]
    return Offer(
        sdp=trimmed_sdp,
        media=tuple(media),
        fingerprint=f"{first.algorithm} {first.value}".lower(),
    )


def _trim_section(index: int, section: list[str]) -> tuple[list[str], OfferedMedia]:
    match = _M_LINE.match(section[0])
    if match is None:
        raise ProtocolError(f"SDP offer m-line {index} is malformed: {section[0][:80]!r}")
    kind, port, proto, fmt_text = match.groups()
    formats = fmt_text.split()
    rejected = port == "0"
    mid: str | None = None
    direction = "sendrecv"
    names: dict[str, str] = {}
    apt: dict[str, str] = {}
    for line in section[1:]:
        if line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line[2:] in DIRECTIONS and line.startswith("a="):
            direction = line[2:]
        pt_attr = _PT_ATTR.match(line)
        if pt_attr is None:
            continue
        attr, pt, value = pt_attr.groups()
        if attr == "rtpmap":
            names[pt] = value.split(" ")[0].lower()
        elif attr == "fmtp":
            found = re.search(r"(?:^|;)\s*apt=(\d+)", value)
            if found:
                apt[pt] = found.group(1)
    info = OfferedMedia(index=index, kind=kind, mid=mid, direction=direction, rejected=rejected)
    if kind not in ("audio", "video") or rejected:
        return section, info

    if kind == "audio":
        keep = [pt for pt in formats if names.get(pt, "").startswith("opus/48000")]
        if not keep:
            raise ProtocolError(f"SDP offer audio m-line {index} does not offer Opus/48000")
    else:
        vp8 = [pt for pt in formats if names.get(pt, "") == "vp8/90000"]
        if not vp8:
            raise ProtocolError(f"SDP offer video m-line {index} does not offer VP8")
        keep = [
            pt
            for pt in formats
            if pt in vp8 or (names.get(pt, "").startswith("rtx/") and apt.get(pt) in vp8)
        ]
    kept = set(keep)
    out = [f"m={kind} {port} {proto} {' '.join(keep)}"]
    for line in section[1:]:
        pt_attr = _PT_ATTR.match(line)
        if pt_attr is not None and pt_attr.group(2) != "*" and pt_attr.group(2) not in kept:
            continue
        out.append(line)
    return out, info
