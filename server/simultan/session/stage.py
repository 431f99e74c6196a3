"""The stage: the floor (holder and language), the booths and the media routing they imply.

Decisions come from the pure core (``core.booths.apply``, ``core.routing.route``); this
module keeps the current values, checks capabilities, publishes hub events and tells the
media plane what feeds each channel. Booth state is about live connections, so it is not
replayed after a restart (everyone reconnects); the floor is (``stream = "floor"``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simultan.core import booths as bc
from simultan.core.booth_console import partner_by_seat
from simultan.core.capabilities import Capability
from simultan.core.routing import AUTOMATIC, Routing, Source, check_choice, route
from simultan.errors import CommandError, ForbiddenError, NotFoundError
from simultan.eventdef import EventDefinition
from simultan.hub.audience import EVERYONE, Audience
from simultan.people import Person

if TYPE_CHECKING:
    from simultan.media.plane import MediaPlane

log = logging.getLogger("simultan.stage")

SEAT_ORDER: tuple[bc.Seat, ...] = bc.SEATS


def source_key(source: Source) -> str:
    return "floor" if source.kind == "floor" else f"interpreter:{source.person}"


# The booth chat messages a console gets back after a reconnect or reload.
CHAT_HISTORY = 200


class Stage:
    def __init__(self, defn: EventDefinition) -> None:
        self.floor_channel = defn.event.floor_language
        self.languages = defn.languages
        # Seats are taken by registration ids when interpreters connect (see ``seat``).
        self.booths: dict[str, bc.Booth] = {
            b.id: bc.booth_from_definition(b.model_copy(update={"interpreters": ()}))
            for b in defn.booths
        }
        # Seat preference from the definition, by interpreter name (A, B or backup).
        self._seat_by_name = {
            i.name.lower(): (b.id, i.seat) for b in defn.booths for i in b.interpreters
        }
        self.media: MediaPlane | None = None
        # Display names of seated interpreters (registration id -> name), for the pages.
        self.names: dict[str, str] = {}
        # Each booth's last chat messages: a console that reconnects or reloads gets them.
        self.chat: dict[str, deque[dict[str, Any]]] = {
            b.id: deque(maxlen=CHAT_HISTORY) for b in defn.booths
        }
        # Called after every routing change (the rooms driver takes booths serving a group
        # out of the plenary).
        self.after_routes: Callable[[], None] | None = None
        # Booths whose interpreters chose what they hear (booth id -> "floor" or a booth id).
        self.choices: dict[str, str] = {}

    # --- routing -------------------------------------------------------------------------

    def routing(self, floor_language: str) -> Routing:
        return route(self.floor_channel, floor_language, list(self.booths.values()), self.choices)

    def choose_source(self, person: Person, booth_id: str, choice: str) -> bool:
        """An interpreter's manual choice of what their booth hears ("auto", "floor" or
        relay from a booth id); False when it is already so (nothing to publish)."""
        booth = self.booth_of(person)
        if booth.id != booth_id:
            raise ForbiddenError(f"you interpret in booth {booth.id}, not {booth_id}")
        try:
            choice = check_choice(booth_id, choice, list(self.booths.values()))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if self.choices.get(booth_id, AUTOMATIC) == choice:
            return False
        if choice == AUTOMATIC:
            del self.choices[booth_id]
        else:
            self.choices[booth_id] = choice
        return True

    def apply_routes(self, floor_language: str) -> Routing:
        decision = self.routing(floor_language)
        if self.media is not None:
            from simultan.media.plane import BoothFeed

            self.media.set_routes({ch: source_key(s) for ch, s in decision.channels.items()})
            feeds: dict[str, BoothFeed] = {}
            for booth in self.booths.values():
                hear = source_key(decision.booth_hears[booth.id])
                for pid in booth.connected:
                    partner = next((p for p in sorted(booth.connected) if p != pid), None)
                    feeds[f"interpreter:{pid}"] = BoothFeed(
                        hear=hear, partner=f"interpreter:{partner}" if partner else None
                    )
            self.media.set_booth_feeds(feeds)
            if self.after_routes is not None:
                self.after_routes()
        return decision

    # --- booths --------------------------------------------------------------------------

    def booth_of(self, person: Person) -> bc.Booth:
        if person.booth is None or person.booth not in self.booths:
            raise ForbiddenError("you are not assigned to a booth")
        return self.booths[person.booth]

    def seat(self, person: Person) -> bc.Booth:
        """The person's booth, with them seated (A, B, backup) if they were not yet."""
        booth = self.booth_of(person)
        self.names[person.id] = person.name
        if booth.is_member(person.id):
            return booth
        members = dict(booth.members)
        wanted = self._seat_by_name.get(person.name.lower())
        free = [s for s in SEAT_ORDER if s not in members]
        if not free:
            raise CommandError(f"booth {booth.id} has no free seat")
        seat = wanted[1] if wanted and wanted[1] in free else free[0]
        members[seat] = person.id
        booth = dataclasses.replace(booth, members=members)
        self.booths[booth.id] = booth
        return booth

    def booth_command(
        self, person: Person, booth_id: str, action: str, to: str | None, on: bool | None
    ) -> bc.BoothCommand:
        # capability first, then the lookup: a refusal says nothing about which booths exist
        if action == "force":
            if not person.can(Capability.FORCE_HANDOVER):
                raise ForbiddenError("only a moderator or organizer can force a handover")
        elif not person.can(Capability.BOOTH_MEMBER) or person.booth != booth_id:
            raise ForbiddenError(f"you are not a member of booth {booth_id}")
        if booth_id not in self.booths:
            raise NotFoundError(f"no booth {booth_id!r}")
        if action == "force":
            return bc.ForceHandover(by=person.id, to=to)
        if action == "offer":
            # without 'to', the partner by seat (A <-> B); the backup only when named
            partner = to if to is not None else partner_by_seat(self.booths[booth_id], person.id)
            return bc.OfferMic(by=person.id, to=partner)
        if action == "cough":
            return bc.Cough(by=person.id, on=bool(on))
        simple: dict[str, type[Any]] = {
            "take": bc.TakeMic,
            "release": bc.ReleaseMic,
            "request": bc.RequestMic,
            "accept": bc.Accept,
            "decline": bc.Decline,
            "cancel": bc.Cancel,
        }
        return simple[action](by=person.id)  # type: ignore[no-any-return]

    def incoming(self, booth_id: str, cmd: bc.BoothCommand) -> str | None:
        """Who would go live if ``cmd`` is accepted (None: nobody new)."""
        booth = self.booths[booth_id]
        if isinstance(cmd, bc.TakeMic):
            return cmd.by
        if isinstance(cmd, bc.Accept) and booth.pending is not None:
            return booth.pending.to_person
        if isinstance(cmd, bc.ForceHandover):
            return cmd.to
        return None

    def check_audio(self, booth_id: str, cmd: bc.BoothCommand) -> None:
        """Refuse to give the mic to an interpreter whose audio is not reaching us: their
        channel would go silent (a listener never hears dead air)."""
        person = self.incoming(booth_id, cmd)
        if person is None or self.media is None:
            return
        if f"interpreter:{person}" not in self.media.stats().sources:
            raise CommandError(
                "That interpreter's microphone is not connected yet: the mic stays where it is."
            )

    def apply(
        self, booth_id: str, cmd: bc.BoothCommand, now: datetime
    ) -> tuple[bc.Booth, tuple[bc.BoothEvent, ...]]:
        new, events = bc.apply(self.booths[booth_id], cmd, now)
        self.booths[booth_id] = new
        return new, events

    def booth_dict(self, booth: bc.Booth, now: datetime) -> dict[str, Any]:
        """``booth_to_dict`` with each member's display name (the partner's name on the
        console, interpreters by name in the tech view)."""
        data = bc.booth_to_dict(booth, now)
        members = data["members"]
        assert isinstance(members, list)
        for member in members:
            member["name"] = self.names.get(member["person"])
        data["hear_choice"] = self.choices.get(booth.id, AUTOMATIC)
        return data

    def booth_event(
        self,
        booth: bc.Booth,
        events: tuple[bc.BoothEvent, ...],
        now: datetime,
        floor_language: str,
    ) -> tuple[str, dict[str, Any], Audience]:
        data = {
            "booth": self.booth_dict(booth, now),
            "changes": [e.to_dict() for e in events],
            "routing": self.routing(floor_language).to_dict(),
        }
        return ("booth", data, EVERYONE)

    def remember_chat(self, booth_id: str, message: dict[str, Any]) -> None:
        self.chat[booth_id].append(message)

    def chat_for(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        """The booth chat history this person may read: their booth's, or all for those
        who see every booth's chat."""
        if person.can(Capability.SEE_ALL_BOOTH_CHAT):
            return {bid: list(msgs) for bid, msgs in self.chat.items()}
        if person.can(Capability.BOOTH_MEMBER) and person.booth in self.chat:
            return {person.booth: list(self.chat[person.booth])}
        return {}

    def snapshot(self, floor_language: str, now: datetime) -> dict[str, Any]:
        return {
            "booths": {bid: self.booth_dict(b, now) for bid, b in self.booths.items()},
            "routing": self.routing(floor_language).to_dict(),
        }
