"""Who is connected: the identity the control plane works with after authentication."""

from __future__ import annotations

from dataclasses import dataclass

from simultan.core.capabilities import Capability, Role, capabilities_of


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    city: str
    role: Role
    booth: str | None
    language: str
    timezone: str
    topic: str | None = None  # the discussion topic chosen at registration

    @property
    def capabilities(self) -> frozenset[Capability]:
        return capabilities_of(self.role)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def public(self) -> dict[str, str | None]:
        """What other clients may see of this person: never email nor token."""
        return {"id": self.id, "name": self.name, "city": self.city, "role": self.role.value}
