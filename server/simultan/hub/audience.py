"""Who may see a hub event: everyone, one booth, holders of a capability, one person, or the
people in one room (a group discussion; the hub is told who is where)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simultan.core.capabilities import Capability
from simultan.people import Person


@dataclass(frozen=True)
class Audience:
    booth: str | None = None  # members of this booth (and holders of see_all_booth_chat)
    capability: Capability | None = None
    person: str | None = None
    room: str | None = None  # the people in this room (and its visitors)

    def admits(self, person: Person, room_of: Callable[[str], str] | None = None) -> bool:
        if self.person is not None and person.id != self.person:
            return False
        if self.room is not None and (room_of is None or room_of(person.id) != self.room):
            return False
        if self.capability is not None and not person.can(self.capability):
            return False
        if self.booth is not None:
            return person.booth == self.booth or person.can(Capability.SEE_ALL_BOOTH_CHAT)
        return True

    def to_dict(self) -> dict[str, str | None]:
        out = {"booth": self.booth, "capability": self.capability, "person": self.person}
        if self.room is not None:
            out["room"] = self.room
        return out

    @classmethod
    def from_dict(cls, data: dict[str, str | None] | None) -> Audience:
        if not data:
            return EVERYONE
        cap = data.get("capability")
        return cls(
            booth=data.get("booth"),
            capability=Capability(cap) if cap else None,
            person=data.get("person"),
            room=data.get("room"),
        )


EVERYONE = Audience()
