"""The wire schema of the /ws socket: pydantic models with a ``type`` discriminator.

Every model refuses unknown fields. ``parse_client_message`` turns raw text into a typed
message or raises ProtocolError; docs/protocol.md documents each message.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from simultan.errors import ProtocolError

RequestId = Annotated[str, Field(max_length=64)]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
ItemId = Annotated[str, Field(max_length=64)]
PersonId = Annotated[str, Field(max_length=64)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server ------------------------------------------------------------------------


class Resume(_Message):
    epoch: str = Field(max_length=64)
    seq: int = Field(ge=0)


class Hello(_Message):
    """First message on a new socket: the join token, and where to resume from."""

    type: Literal["hello"]
    token: str = Field(max_length=4096)
    resume: Resume | None = None
    # The media session this tab had on its previous socket (``rtc_answer.session``): the
    # peer connection outlives the socket for a grace period and is taken over.
    media_session: str | None = Field(default=None, max_length=64)


class Ping(_Message):
    type: Literal["ping"]
    request_id: RequestId | None = None


class TimelineCommand(_Message):
    """A moderator's timeline command, based on the version the moderator saw."""

    type: Literal["timeline"]
    request_id: RequestId | None = None
    action: Literal[
        "start", "next", "pause", "resume", "extend", "skip", "reorder", "jump", "finish"
    ]
    base_version: int = Field(ge=0)
    item_id: ItemId | None = None
    minutes: int | None = Field(default=None, ge=1, le=240)
    order: list[ItemId] | None = Field(default=None, max_length=500)


class RtcOffer(_Message):
    """A WebRTC offer for this tab's one peer connection (complete ICE, no trickle)."""

    type: Literal["rtc_offer"]
    request_id: RequestId | None = None
    sdp: str
    publish: Literal["floor", "booth", "member"] | None = None
    channel: Language | None = None


class RtcConfig(_Message):
    """Ask for this tab's ICE servers (STUN, TURN with fresh credentials) before offering."""

    type: Literal["rtc_config"]
    request_id: RequestId | None = None


class SelectChannel(_Message):
    type: Literal["select_channel"]
    request_id: RequestId | None = None
    channel: Language


class FloorCommand(_Message):
    """A moderator's move on the floor (a set of live speakers); see docs/protocol.md.

    ``action`` "set" (the default) makes ``person_id`` the only live speaker (null: nobody);
    "give"/"take"/"mute"/"unmute"/"pin"/"lower" act on ``person_id`` ("give" with
    ``person_ids`` and no ``person_id``: all of them at once, or none); "end" takes everyone
    back; "unpin", "lower_all"; "invite" names ``person_ids`` (the item's panelists);
    "language" sets a live speaker's spoken language (their own, or any for a moderator).
    ``base_version``, when given, must be the floor version the sender saw."""

    type: Literal["floor"]
    request_id: RequestId | None = None
    action: Literal[
        "set",
        "give",
        "take",
        "mute",
        "unmute",
        "end",
        "pin",
        "unpin",
        "lower",
        "lower_all",
        "invite",
        "language",
    ] = "set"
    person_id: PersonId | None = None
    person_ids: list[PersonId] = Field(default_factory=list, max_length=50)
    language: Language | None = None
    base_version: int | None = Field(default=None, ge=0)


class FloorLanguage(_Message):
    type: Literal["floor_language"]
    request_id: RequestId | None = None
    language: Language


class RaiseHand(_Message):
    """Raise (or lower) one's own hand, with the language one will speak (default: the
    registration's)."""

    type: Literal["raise_hand"]
    request_id: RequestId | None = None
    raised: bool = True
    language: Language | None = None


class BoothCommand(_Message):
    """An interpreter's (or, for force, a moderator's) action on a booth's mic."""

    type: Literal["booth"]
    request_id: RequestId | None = None
    booth: Annotated[str, Field(max_length=64)]
    action: Literal[
        "take", "release", "offer", "request", "accept", "decline", "cancel", "force", "cough"
    ]
    to: PersonId | None = None
    on: bool | None = None
    # The booth version the console showed; a stale one is refused with a conflict.
    base_version: Annotated[int, Field(ge=0)] | None = None


class BoothSource(_Message):
    """An interpreter chooses what their booth hears: "auto" (the routing rules decide),
    "floor", or relay from another booth (its id)."""

    type: Literal["booth_source"]
    request_id: RequestId | None = None
    booth: Annotated[str, Field(max_length=64)]
    source: Annotated[str, Field(min_length=1, max_length=64)]


class BoothChat(_Message):
    type: Literal["booth_chat"]
    request_id: RequestId | None = None
    booth: Annotated[str, Field(max_length=64)]
    text: str = Field(min_length=1, max_length=2000)


class SlowDown(_Message):
    """An interpreter asks the current speaker to slow down (the sender is not named)."""

    type: Literal["slow_down"]
    request_id: RequestId | None = None


class Record(_Message):
    type: Literal["record"]
    request_id: RequestId | None = None
    on: bool


class Notice(_Message):
    type: Literal["notice"]
    request_id: RequestId | None = None
    text: str = Field(min_length=1, max_length=1000)


RoomId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class RoomsCommand(_Message):
    """Group discussions: the moderator plans, arranges, opens and calls back; a moderator
    visits any room; a participant may only enter its own."""

    type: Literal["rooms"]
    request_id: RequestId | None = None
    action: Literal[
        "plan", "move", "roles", "booth", "open", "cancel", "call_back", "visit", "enter"
    ]
    method: Literal["topic", "language", "random", "hand"] | None = None
    count: int | None = Field(default=None, ge=1, le=100)
    size: int | None = Field(default=None, ge=1, le=100)
    seed: int | None = Field(default=None, ge=0, le=2**31)
    person_id: PersonId | None = None
    room: RoomId | None = None
    facilitator: PersonId | None = None
    rapporteur: PersonId | None = None
    booth: Annotated[str, Field(max_length=64)] | None = None
    speak: bool | None = None


class RoomNotice(_Message):
    """A moderator's message into one room, or (room null) into every room."""

    type: Literal["room_notice"]
    request_id: RequestId | None = None
    room: RoomId | None = None
    text: str = Field(min_length=1, max_length=1000)


class B2BJoin(_Message):
    """This tab enters one of the person's B2B meetings (from its start until its end)."""

    type: Literal["b2b_join"]
    request_id: RequestId | None = None
    meeting: Annotated[str, Field(min_length=1, max_length=64)]


class B2BHear(_Message):
    """In a B2B meeting with an interpreter: hear the interpretation, the original voices, or
    the automatic choice (the interpretation when one's language is one of the pair)."""

    type: Literal["b2b_hear"]
    request_id: RequestId | None = None
    hear: Literal["auto", "interpretation", "original"]


class B2BLeave(_Message):
    """This tab leaves its B2B meeting (back to the plenary)."""

    type: Literal["b2b_leave"]
    request_id: RequestId | None = None


ClientMessage = Annotated[
    Hello
    | Ping
    | TimelineCommand
    | RtcOffer
    | RtcConfig
    | SelectChannel
    | FloorCommand
    | FloorLanguage
    | RaiseHand
    | BoothCommand
    | BoothChat
    | SlowDown
    | BoothSource
    | Record
    | Notice
    | RoomsCommand
    | RoomNotice
    | B2BJoin
    | B2BHear
    | B2BLeave,
    Field(discriminator="type"),
]

_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = (
    "hello ping timeline rtc_offer rtc_config select_channel floor floor_language raise_hand booth "
    "booth_chat booth_source slow_down record notice rooms room_notice b2b_join b2b_hear b2b_leave"
).split()


# No client message nests deeper than this (hello.resume is 2); deeper input is refused
# before pydantic walks it.
MAX_DEPTH = 8


def loads_checked(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text to Python, refusing what would crash a handler later: nesting deeper than
    ``max_depth`` (``json`` itself recurses and raises RecursionError near 1000 levels) and
    strings that are not Unicode text (a lone surrogate such as ``"\\ud800"`` cannot be
    encoded as UTF-8, so it would fail when stored or sent). Raises ValueError."""
    try:
        raw = json.loads(text)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # The walk is needed only when the text could hold either problem: a lone surrogate can
    # only come from a \ud800-\udfff escape (decoded text has none), and nesting deeper than
    # max_depth needs more than max_depth brackets. Most frames skip it.
    if _SURROGATE_ESCAPE.search(text) or text.count("[") + text.count("{") > max_depth:
        _check_value(raw, max_depth)
    return raw


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_value(value: Any, depth: int) -> None:
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError("a string holds a lone surrogate (not Unicode text)") from exc
        return
    if isinstance(value, dict | list):
        if depth <= 0:
            raise ValueError("nested too deeply")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _check_value(key, depth)
            _check_value(item, depth - 1)


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse one client frame; every failure is a ProtocolError with a clear reason."""
    try:
        raw = loads_checked(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("message is not valid JSON") from exc
    except ValueError as exc:
        raise ProtocolError(f"message refused: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError("message must be a JSON object")
    kind = raw.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            f"unknown message type {str(kind)[:40]!r}", details={"known_types": CLIENT_TYPES}
        )
    try:
        return _client_adapter.validate_python(raw)
    except PydanticValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'message'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        error = ProtocolError(
            f"invalid {kind} message: {'; '.join(problems)}", details={"problems": problems}
        )
        error.message_type = kind
        raise error from exc


def request_id_of(text: str | bytes) -> str | None:
    """Best effort: the request_id of a frame that failed to parse, to address the error."""
    try:
        raw = loads_checked(text)
    except (ValueError, UnicodeDecodeError):
        return None
    rid = raw.get("request_id") if isinstance(raw, dict) else None
    return rid[:64] if isinstance(rid, str) else None


# --- server -> client ------------------------------------------------------------------------


class Welcome(_Message):
    """Sent after a good hello: who you are and a full snapshot of the live state.

    ``resync`` is true when the snapshot replaces a resume that could not be served
    (too far behind, or another epoch): the client drops its state and starts from here.
    """

    type: Literal["welcome"] = "welcome"
    epoch: str
    seq: int
    resync: bool = False
    you: dict[str, Any]
    snapshot: dict[str, Any]


class Event(_Message):
    """One live-state change. ``seq`` grows by one per event within ``epoch``; a client may
    see gaps where events were addressed to others (booth chat of another booth)."""

    type: Literal["event"] = "event"
    epoch: str
    seq: int
    name: str
    data: dict[str, Any]


class Resumed(_Message):
    """Sent after a hello whose resume point could be served: the missed events follow."""

    type: Literal["resumed"] = "resumed"
    epoch: str
    from_seq: int
    to_seq: int


class Reply(_Message):
    type: Literal["reply"] = "reply"
    request_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class ErrorReply(_Message):
    type: Literal["error"] = "error"
    request_id: str | None = None
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Pong(_Message):
    type: Literal["pong"] = "pong"
    request_id: str | None = None


class RtcAnswer(_Message):
    type: Literal["rtc_answer"] = "rtc_answer"
    request_id: str | None = None
    sdp: str
    session: str | None = None  # this tab's media session id: name it in hello to resume


class MediaStatus(_Message):
    """About this tab's media session (unnumbered, for this connection only).

    After a hello naming ``media_session``: ``resumed`` says whether the server still had it
    (false: offer again on a new peer connection). ``video_paused`` (audio before video): the
    server stopped or resumed sending floor video to this tab; ``message`` says why.
    """

    type: Literal["media"] = "media"
    session: str | None = None
    resumed: bool | None = None
    video_paused: bool | None = None
    message: str = ""


class Tech(_Message):
    """The organizers' tech view, about once a second; a gauge, not numbered or replayed."""

    type: Literal["tech"] = "tech"
    view: dict[str, Any]


ServerMessage = (
    Welcome | Resumed | Event | Tech | Reply | ErrorReply | Pong | RtcAnswer | MediaStatus
)


def encode(message: ServerMessage) -> str:
    return message.model_dump_json()
