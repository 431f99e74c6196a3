"""Route one parsed client message to the live session (or the media plane).

Each handler checks the capability its command needs; the websocket layer turns any
SimultanError into a typed error reply and keeps the connection open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from simultan.core.capabilities import Capability
from simultan.errors import ProtocolError
from simultan.hub.audience import Audience
from simultan.people import Person
from simultan.protocol import messages as m
from simultan.session.live import LiveSession, require

Handler = Callable[[LiveSession, Person, Any], Awaitable[Any]]


async def _timeline(session: LiveSession, person: Person, msg: m.TimelineCommand) -> dict[str, Any]:
    command = {"command": msg.action, "base_version": msg.base_version}
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
    await session.publish(
        "hand",
        {"person": person.public(), "raised": msg.raised},
        Audience(capability=Capability.GIVE_FLOOR),
    )
    return {}


HANDLERS: dict[str, Handler] = {
    "timeline": _timeline,
    "notice": _notice,
    "raise_hand": _raise_hand,
}


async def dispatch(session: LiveSession, person: Person, msg: Any, conn: Any = None) -> Any:
    """Run the handler for ``msg``; ``conn`` is the sender's connection (media signaling)."""
    handler = HANDLERS.get(msg.type)
    if handler is None:
        raise ProtocolError(f"{msg.type!r} is not available on this server")
    return await handler(session, person, msg)
