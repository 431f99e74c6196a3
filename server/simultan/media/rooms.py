"""Room forwarding: in a group every member receives every other member's tracks.

Engine-neutral decisions (no aiortc type here); :class:`~.sfu.EmbeddedSfu` asks
:class:`RoomTable` what each of a session's slots should carry.

Receive slots are pre-allocated by the tab's offer: beyond the three plenary m-lines
(floor video, program audio, channel audio) every further audio m-line is a *member audio*
slot and every further video m-line a *member video* slot, numbered from 0 in offer order.
In a room, member slot ``i`` (audio and video alike) carries the ``i``-th of the room's
``members`` other than the session's own published key; the plenary slots are silent,
except the channel slot, which carries the room's own route for the listener's channel
(an interpreter assigned to the group; a B2B side may choose the interpretation or the
original, ``RoomMedia.channels``) or, for an interpreter, the booth partner.
Moving a session between rooms re-points its slots: a dictionary move, no renegotiation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from simultan.media.plane import FLOOR, INTERPRETER_PREFIX, SPEAKER_PREFIX, RoomMedia

MEMBER_PREFIX = "member:"
PLENARY = "plenary"
_MEMBER_SLOT = re.compile(r"^member-(audio|video)-(\d+)$")


def member_key(person_id: str | int) -> str:
    """The source key a group member publishes under."""
    return f"{MEMBER_PREFIX}{person_id}"


def publishes_video(key: str | None) -> bool:
    """Whether a session publishing ``key`` may send video too (not only audio)."""
    return key is not None and (
        key == FLOOR or key.startswith(MEMBER_PREFIX) or key.startswith(SPEAKER_PREFIX)
    )


def slot_name(kind: str, index: int) -> str:
    """The slot of the ``index``-th m-line of ``kind`` in a tab's offer."""
    if kind == "video":
        return "video" if index == 0 else f"member-video-{index - 1}"
    if index < 2:
        return ("program", "channel")[index]
    return f"member-audio-{index - 2}"


def member_slot(slot: str) -> tuple[str, int] | None:
    """(kind, index) of a member slot, None for a plenary slot."""
    match = _MEMBER_SLOT.match(slot)
    return (match.group(1), int(match.group(2))) if match else None


GROUPS = "groups"


class RoomTable:
    """Which room each session is in, and what each room forwards.

    Rooms come in layers, each set by its own driver without clobbering the others: the
    group discussions (``"groups"``, the default) and the B2B meetings (``"b2b"``). A
    placement in any other layer wins over one in ``"groups"``: a company in its B2B meeting
    is there, whatever the group discussions do with its tab meanwhile.
    """

    def __init__(self) -> None:
        self._layers: dict[str, dict[str, RoomMedia]] = {}
        self._rooms: dict[str, RoomMedia] = {}
        self._placements: dict[str, dict[str, str]] = {}
        self._placement: dict[str, str] = {}

    def set_rooms(self, rooms: Mapping[str, RoomMedia], layer: str = GROUPS) -> None:
        self._layers[layer] = dict(rooms)
        self._rooms = {
            k: v for layer_rooms in self._layers.values() for k, v in layer_rooms.items()
        }

    def place(self, session_id: str, room: str | None, layer: str = GROUPS) -> None:
        placed = self._placements.setdefault(layer, {})
        if room is None or room == PLENARY:
            placed.pop(session_id, None)
        else:
            placed[session_id] = room
        self._merge()

    def forget(self, session_id: str) -> None:
        for placed in self._placements.values():
            placed.pop(session_id, None)
        self._merge()

    def _merge(self) -> None:
        order = sorted(self._placements, key=lambda layer: layer != GROUPS)  # groups first
        self._placement = {}
        for layer in order:
            self._placement.update(self._placements[layer])

    def room_of(self, session_id: str) -> str:
        return self._placement.get(session_id, PLENARY)

    def placements(self) -> Mapping[str, str]:
        return dict(self._placement)

    def wanted(
        self,
        session_id: str,
        *,
        publish: str | None,
        channel: str | None,
        plenary: Mapping[str, str | None],
        slots: Iterable[str],
    ) -> dict[str, str | None]:
        """Slot -> source key for one session; ``plenary`` is what it carries outside rooms."""
        room = self._rooms.get(self._placement.get(session_id, PLENARY))
        out: dict[str, str | None] = {}
        if room is None:  # the plenary: member slots stay silent
            for slot in slots:
                out[slot] = None if member_slot(slot) else plenary.get(slot)
            return out
        others = [k for k in room.members if k != publish]
        interpreter = publish is not None and publish.startswith(INTERPRETER_PREFIX)
        for slot in slots:
            member = member_slot(slot)
            if member is not None:
                index = member[1]
                out[slot] = others[index] if index < len(others) else None
            elif slot == "channel":
                if interpreter:
                    out[slot] = plenary.get("channel")  # the booth partner
                else:
                    heard = room.channels.get(session_id, channel)  # a side's own choice
                    out[slot] = room.routes.get(heard) if heard else None
            else:
                out[slot] = None  # no floor inside a group
        return out
