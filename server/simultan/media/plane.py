"""The media port: what the control plane needs from a media engine.

The embedded aiortc SFU (:class:`simultan.media.sfu.EmbeddedSfu`) implements it inside the
server process; an external engine (Janus, driven through its API) can implement the same
Protocol later. The five concerns map to methods:

- **publish** and **subscribe**: :meth:`MediaPlane.negotiate` (one peer connection per
  browser tab carries both), :meth:`MediaPlane.select_channel`,
  :meth:`MediaPlane.add_local_source`, :meth:`MediaPlane.close_session`;
- **route**: :meth:`MediaPlane.set_routes` (channel -> source key, computed by the pure
  routing function of the core) and :meth:`MediaPlane.set_booth_feeds` (what each
  interpreter hears);
- **record**: :meth:`MediaPlane.start_recording` / :meth:`MediaPlane.stop_recording`;
- **rooms**: :meth:`MediaPlane.set_rooms` and :meth:`MediaPlane.place` (groups: each
  member receives every other member on pre-allocated member slots, see :mod:`.rooms`);
- **stats**: :meth:`MediaPlane.stats`.

Source keys: ``"floor"`` (audio + video), ``"interpreter:<person_id>"`` (audio),
``"speaker:<person_id>"`` (a live floor speaker's audio + video, mixed into ``floor`` by
:meth:`MediaPlane.set_floor_mix`), plus whatever keys local (server-side) sources are
given. Channels are language codes.

What a session receives, by m-line of its offer (in order):

- the video m-line: floor video (if ``listen_to_floor_video``);
- the first audio m-line, the *program*: the floor for a listener; for an interpreter, the
  source their booth feed names (the floor, or a relay booth);
- the second audio m-line, the *channel*: for a listener the source routed to their channel
  (switchable with ``select_channel``); for an interpreter their booth partner (the page
  plays it at a lower volume).

Further m-lines are member slots (further audio: member audio 0, 1, ...; further video:
member video 0, 1, ...), silent in the plenary; in a group they carry the other members.
Source keys of group members: ``"member:<person_id>"`` (audio + video).

A session never receives its own published source. What it publishes (``publish``, already
authorized by the control plane) comes from the first audio m-line it sends on, plus its
video m-line when ``publish`` is ``"floor"`` or a member key. With ``publish=None``
incoming media is refused in the answer, so nobody can hear it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from simultan.errors import ProtocolError

FLOOR = "floor"
INTERPRETER_PREFIX = "interpreter:"
SPEAKER_PREFIX = "speaker:"

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_CHANNEL = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


def interpreter_key(person_id: str | int) -> str:
    return f"{INTERPRETER_PREFIX}{person_id}"


def speaker_key(person_id: str) -> str:
    """A live floor speaker's own source: mixed into ``floor``, never heard raw."""
    return f"{SPEAKER_PREFIX}{person_id}"


def check_source_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ProtocolError(f"invalid media source key {key!r}")
    return key


def check_channel(channel: object) -> str:
    if not isinstance(channel, str) or not _CHANNEL.match(channel):
        raise ProtocolError(f"invalid channel {channel!r}: expected a language code like 'zh'")
    return channel


@dataclass(frozen=True)
class BoothFeed:
    """What one interpreter hears: ``hear`` on the program track, ``partner`` on the second."""

    hear: str = FLOOR
    partner: str | None = None


@dataclass(frozen=True)
class RoomMedia:
    """What one room (a group) forwards: every member's tracks to every other member.

    ``members`` are source keys in slot order (a session's member slot ``i`` carries the
    ``i``-th member other than itself); ``routes`` are the room's own channel -> source key
    (an interpreter assigned to the group), heard on the channel slot. ``channels`` overrides,
    per session id, the channel a session hears in this room: a channel of ``routes``, or
    None for the original only (a B2B side's choice; a session not named keeps its own).
    """

    members: tuple[str, ...] = ()
    routes: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class FloorMix:
    """What the floor carries: ``speakers`` (source keys) mixed into ``floor`` audio except
    the ``muted`` ones, and ``video``'s video as the floor video (None: no speaker video)."""

    speakers: tuple[str, ...] = ()
    muted: frozenset[str] = frozenset()
    video: str | None = None


FloorLevels = Callable[[Mapping[str, float]], None]


@dataclass(frozen=True)
class SourceStats:
    key: str
    kinds: tuple[str, ...]
    local: bool
    frames_in: int
    frames_out: int
    keyframe_requests: int
    late_drops: int = 0  # audio that arrived too late to forward (the feed caught up)


@dataclass(frozen=True)
class SessionStats:
    session_id: str
    publish: str | None
    channel: str | None
    connection_state: str
    frames_out: int
    drops: int


@dataclass(frozen=True)
class MediaStats:
    sessions: int
    # Sources live now (a publisher is connected, or a local source runs), by key.
    sources: Mapping[str, SourceStats]
    per_session: Mapping[str, SessionStats] = field(default_factory=dict)
    routes: Mapping[str, str] = field(default_factory=dict)
    recording: Path | None = None

    @property
    def frames_in(self) -> int:
        return sum(s.frames_in for s in self.sources.values())

    @property
    def frames_out(self) -> int:
        return sum(s.frames_out for s in self.sources.values())

    @property
    def drops(self) -> int:
        return sum(s.drops for s in self.per_session.values())


@dataclass(frozen=True)
class LinkReport:
    """A session's receiver reports: fraction lost (0..1) on what it is sent, None when
    nothing was reported for that kind."""

    audio_loss: float | None
    video_loss: float | None
    video_paused: bool = False


SourceGone = Callable[[str], None]


class FrameSource(Protocol):
    """A server-side source of raw frames (audio or video), read one frame per ``recv()``.

    The port names no engine's types: the embedded engine takes aiortc tracks (which have
    this shape), an external engine would take whatever reads frames the same way.
    """

    @property
    def kind(self) -> str: ...

    async def recv(self) -> Any: ...

    def stop(self) -> None: ...


@runtime_checkable
class MediaPlane(Protocol):
    """A media engine the control plane drives. All methods run on the server's loop."""

    on_source_gone: SourceGone | None
    # Levels of the live speakers in the floor mix (dBFS by source key, about every 100 ms).
    on_floor_levels: FloorLevels | None

    async def negotiate(
        self,
        session_id: str,
        offer_sdp: str,
        *,
        publish: str | None,
        channel: str | None,
        listen_to_floor_video: bool = True,
    ) -> str:
        """Answer a tab's (re-)offer; returns the answer SDP. Bad SDP: ProtocolError."""
        ...

    def unpublish(self, key: str) -> None:
        """Stop forwarding what any session publishes as ``key``."""

    def select_channel(self, session_id: str, channel: str | None) -> None:
        """Switch a listener's channel track to another channel, without renegotiation."""
        ...

    async def close_session(self, session_id: str) -> None: ...

    def set_routes(self, routes: Mapping[str, str]) -> None:
        """Apply channel -> source key for every channel (the core's routing decision)."""
        ...

    def set_booth_feeds(self, feeds: Mapping[str, BoothFeed]) -> None:
        """Apply interpreter source key -> what that interpreter hears."""
        ...

    def set_rooms(self, rooms: Mapping[str, RoomMedia], layer: str = "groups") -> None:
        """Apply every group's members and routes (room id -> RoomMedia); the plenary is
        implicit: a session placed nowhere (or in a room not listed) is in the plenary.
        Each ``layer`` ("groups", "b2b") is set apart, without touching the others."""
        ...

    def place(self, session_id: str, room: str | None, layer: str = "groups") -> None:
        """Put a session in a room (None or "plenary": back in the plenary), no
        renegotiation; a session not negotiated yet takes its place when it is. A placement
        in another layer than "groups" wins over the session's group."""
        ...

    def set_floor_mix(self, mix: FloorMix) -> None:
        """Mix these live speakers into the floor (decode each, mix, encode once); a live
        speaker hears the mix without themselves."""
        ...

    def add_local_source(
        self,
        key: str,
        audio: FrameSource | None,
        video: FrameSource | None,
    ) -> None:
        """A server-side source (raw frames), encoded once and fanned out like a remote one."""
        ...

    async def remove_local_source(self, key: str) -> None: ...

    async def start_recording(self, directory: Path) -> Path:
        """Record every channel and the floor video, each to its own file, under directory."""
        ...

    async def stop_recording(self) -> list[Path]: ...

    def stats(self) -> MediaStats: ...

    def session_ids(self) -> list[str]:
        """The media sessions (peer connections) open now."""
        ...

    def set_video_paused(self, session_id: str, paused: bool) -> None:
        """Audio before video: stop (or resume) sending floor video to one session."""

    async def link_reports(self) -> Mapping[str, LinkReport]:
        """Each session's latest receiver reports (loss on audio and on video)."""
        ...

    def frames_in(self) -> Mapping[str, int]:
        """Frames received so far per live source key (the loss watch samples it often)."""
        ...

    def last_packets(self) -> Mapping[str, float]:
        """When each live source key's last packet arrived (time.monotonic() seconds)."""
        ...

    async def close(self) -> None: ...
