"""Who may see a hub event: everyone, one booth, holders of a capability, or one person."""

from __future__ import annotations

from dataclasses import dataclass

from simultan.core.capabilities import Capability
from simultan.people import Person


@dataclass(frozen=True)
class Audience:
    booth: str | None = None  # members of this booth (and holders of see_all_booth_chat)
    capability: Capability | None = None
    person: str | None = None

    def admits(self, person: Person) -> bool:
        if self.person is not None and person.id != self.person:
            return False
        if self.capability is not None and not person.can(self.capability):
            return False
        if self.booth is not None:
            return person.booth == self.booth or person.can(Capability.SEE_ALL_BOOTH_CHAT)
        return True

    def to_dict(self) -> dict[str, str | None]:
        return {"booth": self.booth, "capability": self.capability, "person": self.person}

    @classmethod
    def from_dict(cls, data: dict[str, str | None] | None) -> Audience:
        if not data:
            return EVERYONE
        cap = data.get("capability")
        return cls(
            booth=data.get("booth"),
            capability=Capability(cap) if cap else None,
            person=data.get("person"),
        )


EVERYONE = Audience()
