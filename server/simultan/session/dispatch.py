"""Route one parsed client message to the live session (or the media plane).

``dispatch`` checks the capability a command's type needs (``CAPABILITY``) before any
handler runs, so nothing is looked up for a caller who may not send that command (a person
by id, a booth by name). A type without an entry is refused: a new command must name its
capability here. Handlers check the finer capabilities (publishing, force, one's own booth).
The websocket layer turns any SimultanError into a typed error reply and keeps the
connection open.

Idempotent commands create no event: a command that would leave the state as it is (a hand
raised again, the floor given to its holder) is answered with ``reply`` and nothing is stored
or sent, so repeating a command cannot flush the replay buffer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from simultan.core.capabilities import Capability
from simultan.errors import (
    BadOffer,
    CommandError,
    ForbiddenError,
    ProtocolError,
    SimultanError,
)
from simultan.hub.audience import EVERYONE, Audience
from simultan.media.plane import speaker_key
from simultan.people import Person
from simultan.protocol import messages as m
from simultan.session.floor import FloorRequest
from simultan.session.live import LiveSession, require

Handler = Callable[[LiveSession, Person, Any], Awaitable[Any]]


async def _timeline(session: LiveSession, person: Person, msg: m.TimelineCommand) -> dict[str, Any]:
    command: dict[str, Any] = {"command": msg.action, "base_version": msg.base_version}
    if msg.item_id is not None:
        command["item_id"] = msg.item_id
    if msg.minutes is not None:
        command["minutes"] = msg.minutes
    if msg.order is not None:
        command["order"] = list(msg.order)
    return await session.timeline_command(person, command)


async def _notice(session: LiveSession, person: Person, msg: m.Notice) -> dict[str, Any]:
    require(person, Capability.BROADCAST)
    await session.publish("notice", {"text": msg.text, "by": person.public()})
    return {}


async def _raise_hand(session: LiveSession, person: Person, msg: m.RaiseHand) -> dict[str, Any]:
    require(person, Capability.RAISE_HAND)
    return await session.floor_driver.raise_hand(person, msg.raised, msg.language)


async def _floor(session: LiveSession, person: Person, msg: m.FloorCommand) -> dict[str, Any]:
    req = FloorRequest(
        action=msg.action,
        person_id=msg.person_id,
        language=msg.language,
        person_ids=tuple(msg.person_ids),
        base_version=msg.base_version,
    )
    return await session.floor_driver.command(person, req)


async def _floor_language(
    session: LiveSession, person: Person, msg: m.FloorLanguage
) -> dict[str, Any]:
    return await session.set_floor_language(person, msg.language)


async def _booth(session: LiveSession, person: Person, msg: m.BoothCommand) -> dict[str, Any]:
    return await session.booth_command(
        person, msg.booth, msg.action, msg.to, msg.on, base_version=msg.base_version
    )


async def _booth_source(session: LiveSession, person: Person, msg: m.BoothSource) -> dict[str, Any]:
    require(person, Capability.BOOTH_MEMBER)
    return await session.booth_source(person, msg.booth, msg.source)


async def _booth_chat(session: LiveSession, person: Person, msg: m.BoothChat) -> dict[str, Any]:
    mine = person.can(Capability.BOOTH_MEMBER) and person.booth == msg.booth
    if not (mine or person.can(Capability.SEE_ALL_BOOTH_CHAT)):
        raise ForbiddenError(f"booth {msg.booth} chat is for its interpreters and the organizers")
    if msg.booth not in session.stage.booths:
        raise CommandError(f"no booth {msg.booth!r}")
    data = {"booth": msg.booth, "text": msg.text, "by": person.public()}
    await session.publish("booth_chat", data, Audience(booth=msg.booth))
    session.stage.remember_chat(msg.booth, data)
    return {}


async def _slow_down(session: LiveSession, person: Person, msg: m.SlowDown) -> dict[str, Any]:
    require(person, Capability.BOOTH_MEMBER)
    # Not named on purpose: the speaker and the moderators see "a booth", not who.
    data = {"booth": person.booth, "at": session.now().isoformat()}
    await session.publish("slow_down", data, Audience(capability=Capability.GIVE_FLOOR))
    for speaker in session.floor.live:
        await session.publish("slow_down", data, Audience(person=speaker.person_id))
    return {}


async def _rtc_offer(
    session: LiveSession, person: Person, msg: m.RtcOffer, conn: Any
) -> m.RtcAnswer:
    require(person, Capability.LISTEN)
    media = session.stage.media
    if media is None:
        raise CommandError("the media plane is off on this server")
    publish: str | None = None
    if msg.publish == "floor":
        # the floor is a per-person grant: being live adds publish_floor for a while
        if not session.floor.may_publish(person.id):
            raise ForbiddenError("only a live speaker on the floor may publish to it")
        publish = speaker_key(person.id)
    elif msg.publish == "member":
        b2b_rooms = session.b2b_rooms
        seated = b2b_rooms is not None and b2b_rooms.seat(conn.media_id) is not None
        if b2b_rooms is not None and seated:
            publish = b2b_rooms.publish_key(conn.media_id, person.id)  # a B2B meeting's room
        else:
            publish = session.rooms.may_publish(person)
    elif msg.publish == "booth":
        require(person, Capability.PUBLISH_BOOTH)
        session.stage.booth_of(person)
        publish = f"interpreter:{person.id}"
    channel = msg.channel or (
        person.language
        if person.language in session.defn.languages
        else session.stage.floor_channel
    )
    if channel not in session.defn.languages:
        raise CommandError(
            f"no channel {channel!r}: choose one of {', '.join(session.defn.languages)}"
        )
    media_id = session.media_sessions.register(conn) if session.media_sessions else conn.media_id
    try:
        answer = await media.negotiate(media_id, msg.sdp, publish=publish, channel=channel)
    except SimultanError:
        raise
    except Exception as exc:
        # aiortc failing on an offer it accepted for parsing (a renegotiation it cannot
        # follow, a transport it cannot set up) is the offer's problem to the tab
        raise BadOffer(f"the offer could not be negotiated: {exc}") from exc
    conn.media_publish = publish
    if publish and publish.startswith("interpreter:") and msg.publish == "booth":
        await session.interpreter_present(person, True)
    session.rooms.sync_media()
    if session.b2b_rooms is not None:
        session.b2b_rooms.sync()
    return m.RtcAnswer(request_id=msg.request_id, sdp=answer, session=media_id)


async def _rtc_config(session: LiveSession, person: Person, msg: m.RtcConfig) -> dict[str, Any]:
    require(person, Capability.LISTEN)
    return session.rtc_config(person)


async def _select_channel(
    session: LiveSession, person: Person, msg: m.SelectChannel, conn: Any
) -> dict[str, Any]:
    require(person, Capability.LISTEN)
    media = session.stage.media
    if media is None:
        raise CommandError("the media plane is off on this server")
    if msg.channel not in session.defn.languages:
        raise CommandError(
            f"no channel {msg.channel!r}: choose one of {', '.join(session.defn.languages)}"
        )
    media.select_channel(conn.media_id, msg.channel)
    return {"channel": msg.channel}


async def _rooms(session: LiveSession, person: Person, msg: m.RoomsCommand) -> dict[str, Any]:
    args = msg.model_dump(exclude={"type", "request_id", "action"})
    return await session.rooms.command(person, msg.action, **args)


async def _room_notice(session: LiveSession, person: Person, msg: m.RoomNotice) -> dict[str, Any]:
    require(person, Capability.BROADCAST)
    if msg.room is not None:
        session.rooms.state.room(msg.room)  # NotFoundError for a room that does not exist
    data = {"text": msg.text, "by": person.public(), "room": msg.room}
    await session.publish("notice", data, Audience(room=msg.room) if msg.room else EVERYONE)
    return {}


def _b2b_rooms(session: LiveSession) -> Any:
    if session.b2b_rooms is None:
        raise CommandError("this event has no B2B day", details={"reason": "no_b2b"})
    return session.b2b_rooms


async def _b2b_join(
    session: LiveSession, person: Person, msg: m.B2BJoin, conn: Any
) -> dict[str, Any]:
    """This tab into one of the person's B2B meetings (typed errors: not a participant,
    too early, over; nothing changes)."""
    meeting = await _b2b_rooms(session).join(conn.media_id, person.id, msg.meeting, person.language)
    return {
        "meeting": meeting.id,
        "end": meeting.end.isoformat(),
        "participants": list(meeting.participants),
        "interpreter": meeting.interpretation.interpreter if meeting.interpretation else None,
        "languages": list(meeting.interpretation.languages) if meeting.interpretation else [],
    }


async def _b2b_hear(
    session: LiveSession, person: Person, msg: m.B2BHear, conn: Any
) -> dict[str, Any]:
    """The interpretation or the original in this tab's B2B meeting (typed errors)."""
    result: dict[str, Any] = _b2b_rooms(session).hear(conn.media_id, person.id, msg.hear)
    return result


async def _b2b_leave(
    session: LiveSession, person: Person, msg: m.B2BLeave, conn: Any
) -> dict[str, Any]:
    await _b2b_rooms(session).leave(conn.media_id)
    return {"meeting": None}


async def _record(session: LiveSession, person: Person, msg: m.Record) -> dict[str, Any]:
    require(person, Capability.RECORD)
    return await session.set_recording(person, msg.on)


HANDLERS: dict[str, Handler] = {
    "timeline": _timeline,
    "notice": _notice,
    "raise_hand": _raise_hand,
    "floor": _floor,
    "floor_language": _floor_language,
    "booth": _booth,
    "booth_chat": _booth_chat,
    "booth_source": _booth_source,
    "slow_down": _slow_down,
    "record": _record,
    "rtc_config": _rtc_config,
    "rooms": _rooms,
    "room_notice": _room_notice,
}
CONNECTION_HANDLERS: dict[str, Any] = {
    "rtc_offer": _rtc_offer,
    "select_channel": _select_channel,
    "b2b_join": _b2b_join,
    "b2b_hear": _b2b_hear,
    "b2b_leave": _b2b_leave,
}


# What a command's type needs (any one of them), checked before the handler looks anything up.
CAPABILITY: dict[str, tuple[Capability, ...]] = {
    "timeline": (Capability.DRIVE_TIMELINE,),
    "notice": (Capability.BROADCAST,),
    "raise_hand": (Capability.RAISE_HAND,),
    # A moderator's moves; a live city's own spoken language (session/floor.py checks which).
    "floor": (Capability.GIVE_FLOOR, Capability.RAISE_HAND),
    "floor_language": (Capability.SET_FLOOR_LANGUAGE,),
    "booth": (Capability.BOOTH_MEMBER, Capability.FORCE_HANDOVER),
    "booth_chat": (Capability.BOOTH_MEMBER, Capability.SEE_ALL_BOOTH_CHAT),
    "booth_source": (Capability.BOOTH_MEMBER,),
    "slow_down": (Capability.BOOTH_MEMBER,),
    "record": (Capability.RECORD,),
    "rtc_offer": (Capability.LISTEN,),
    "select_channel": (Capability.LISTEN,),
    "rtc_config": (Capability.LISTEN,),
    # Each rooms action checks its own capability (manage, visit, or enter one's group).
    "rooms": (Capability.MANAGE_ROOMS, Capability.VISIT_ROOMS, Capability.JOIN_GROUP),
    "room_notice": (Capability.BROADCAST,),
    # A company or the interpreter booked into the meeting: core.b2b.admit checks which.
    "b2b_join": (Capability.B2B,),
    "b2b_hear": (Capability.B2B,),
    "b2b_leave": (Capability.B2B,),
}


def check_capability(person: Person, kind: str) -> None:
    needed = CAPABILITY.get(kind)
    if needed is None:
        raise ProtocolError(f"{kind!r} is not available on this server")
    if not any(person.can(c) for c in needed):
        raise ForbiddenError(f"{kind} needs the {' or '.join(needed)} permission")


async def dispatch(session: LiveSession, person: Person, msg: Any, conn: Any = None) -> Any:
    """Run the handler for ``msg``; ``conn`` is the sender's connection (media signaling)."""
    check_capability(person, msg.type)
    if msg.type in CONNECTION_HANDLERS:
        return await CONNECTION_HANDLERS[msg.type](session, person, msg, conn)
    handler = HANDLERS.get(msg.type)
    if handler is None:
        raise ProtocolError(f"{msg.type!r} is not available on this server")
    return await handler(session, person, msg)
