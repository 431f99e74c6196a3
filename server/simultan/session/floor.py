"""The floor driver: capability checks, people lookup and media around ``core.floor``.

Decisions are the pure core's (:mod:`simultan.core.floor`); this module checks who may ask,
looks the people up (registered, admitted, connected), runs the command under the
session's lock, persists and publishes it, and tells the media plane what the floor mixes
and shows. A :class:`FloorDriver` owns one :class:`~simultan.core.floor.Floor` value and is
owned by whoever owns the floor (the plenary's live session today, a room later).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simultan.core import floor as fl
from simultan.core import liveness as lv
from simultan.core.capabilities import Capability
from simultan.errors import CommandError, ForbiddenError, NotFoundError
from simultan.hub.audience import EVERYONE
from simultan.media.plane import SPEAKER_PREFIX, FloorMix, speaker_key
from simultan.people import Person
from simultan.store import event_log

if TYPE_CHECKING:
    from simultan.session.live import LiveSession

log = logging.getLogger("simultan.floor")

MODERATOR_ACTIONS = frozenset(
    {"set", "give", "take", "mute", "unmute", "end", "pin", "unpin", "lower_all", "invite"}
)


@dataclass(frozen=True)
class FloorRequest:
    """A parsed floor message (``protocol.messages.FloorCommand``), once, at the edge."""

    action: str
    person_id: str | None = None
    language: str | None = None
    person_ids: tuple[str, ...] = ()
    base_version: int | None = None


def person_view(person: Person) -> dict[str, Any]:
    return {**person.public(), "language": person.language, "timezone": person.timezone}


class FloorDriver:
    def __init__(self, session: LiveSession, language: str, *, limit: int) -> None:
        self.session = session
        self.floor = fl.initial_floor(language, limit=limit)
        self.people: dict[str, dict[str, Any]] = {}  # everyone the floor names, for views
        self._levels_task: asyncio.Task[None] | None = None
        # Live speakers whose packets stopped (session/liveness.py): out of the mix, and the
        # floor video shows someone else, until their packets return.
        self.lost: frozenset[str] = frozenset()

    # -- views -----------------------------------------------------------------------------

    def view(self, floor: fl.Floor | None = None) -> dict[str, Any]:
        floor = floor or self.floor
        data = fl.to_dict(floor)
        names = {p for p in (*(s.person_id for s in floor.live), *floor.invited)}
        names |= {h.person_id for h in floor.hands}
        data["people"] = {p: self.people[p] for p in sorted(names) if p in self.people}
        shown = floor.shown()
        # ``holder``: who the floor shows now (pages before the panel read this one name)
        data["holder"] = self.people.get(shown) if shown else None
        # what each booth will hear once a debounced language change lands (the consoles
        # say so before it happens)
        pending = floor.pending_language
        data["pending_hears"] = (
            self.session.stage.routing(pending).to_dict()["booth_hears"] if pending else None
        )
        return data

    # -- commands --------------------------------------------------------------------------

    async def raise_hand(
        self, person: Person, raised: bool, language: str | None
    ) -> dict[str, Any]:
        if not person.can(Capability.RAISE_HAND):
            raise ForbiddenError(f"your role ({person.role}) may not raise a hand")
        lang = self._language(language or person.language, fallback=True)
        cmd: fl.FloorCommand = fl.RaiseHand(person.id, lang) if raised else fl.LowerHand(person.id)
        self.people[person.id] = person_view(person)
        # raising twice (or lowering a hand that is down) is a typed ``unchanged`` error
        return await self._run(person, cmd, idempotent=False)

    async def command(self, person: Person, req: FloorRequest) -> dict[str, Any]:
        if (
            req.action in MODERATOR_ACTIONS
            or req.action == "lower"
            or (req.action == "language" and req.person_id not in (None, person.id))
        ):
            if not person.can(Capability.GIVE_FLOOR):
                raise ForbiddenError(f"your role ({person.role}) may not give or take the floor")
        elif req.action == "language":
            if not self.floor.is_live(person.id):
                raise ForbiddenError("only a live speaker (or a moderator) sets their language")
        fl.check_version(self.floor, req.base_version)
        try:
            cmds = await self._commands(person, req)
        except fl.AlreadySo:
            return {"floor": self.view(), "version": self.floor.version}
        return await self._run(person, *cmds)

    async def _commands(self, person: Person, req: FloorRequest) -> list[fl.FloorCommand]:
        a, pid = req.action, req.person_id
        if a == "set":  # the one-holder move: exactly this person live (or nobody)
            out: list[fl.FloorCommand] = []
            if self.floor.live and not (
                pid is not None and [s.person_id for s in self.floor.live] == [pid]
            ):
                out.append(fl.EndPanel())
            if pid is not None and not (self.floor.is_live(pid) and len(self.floor.live) == 1):
                target = await self._grantable(pid)
                out.append(fl.Grant(pid, self._speaker_language(target, req.language)))
            if not out:
                raise fl.AlreadySo("the floor is that way already")
            return out
        if a == "end":
            return [fl.EndPanel()]
        if a == "lower_all":
            return [fl.LowerAllHands()]
        if a == "invite":
            for p in req.person_ids:
                await self._admitted(p)
            return [fl.Invite(req.person_ids)]
        if a == "unpin":
            return [fl.Pin(None)]
        if a == "language" and pid is None:
            pid = person.id
        if a == "give" and pid is None and req.person_ids:
            # the invited panelists live all together: every grant or none (one version)
            ids = [p for p in dict.fromkeys(req.person_ids) if not self.floor.is_live(p)]
            if not ids:
                raise fl.AlreadySo("they are all on the floor already")
            return [
                fl.Grant(p, self._speaker_language(await self._grantable(p), None)) for p in ids
            ]
        if pid is None:
            raise CommandError(f"floor {a} needs person_id")
        if a == "give":
            target = await self._grantable(pid)
            return [fl.Grant(pid, self._speaker_language(target, req.language))]
        if a == "take":
            return [fl.TakeBack(pid)]
        if a in ("mute", "unmute"):
            return [fl.Mute(pid, a == "mute")]
        if a == "pin":
            return [fl.Pin(pid)]
        if a == "lower":
            return [fl.LowerHand(pid)]
        if a == "language":
            return [fl.SpeakerLanguage(pid, self._language(req.language or ""))]
        raise CommandError(f"unknown floor action {a!r}")  # pragma: no cover - schema

    def _language(self, language: str, *, fallback: bool = False) -> str:
        languages = self.session.defn.languages
        if language in languages:
            return language
        if fallback:
            return self.session.defn.event.floor_language
        raise CommandError(f"the floor can speak {', '.join(languages)}, not {language!r}")

    def _speaker_language(self, target: Person, language: str | None) -> str:
        if language:
            return self._language(language)
        hand = self.floor.hand(target.id)
        return hand.language if hand else self._language(target.language, fallback=True)

    async def _admitted(self, person_id: str) -> Person:
        try:
            target = await self.session.person_by_id(person_id)
        except NotFoundError:
            raise NotFoundError(f"nobody is registered as {person_id!r}") from None
        self.people[target.id] = person_view(target)
        return target

    async def _grantable(self, person_id: str) -> Person:
        """Registered, admitted, and here now (a page open to publish from)."""
        target = await self._admitted(person_id)
        if not target.can(Capability.LISTEN):
            raise CommandError(f"{target.name} cannot take the floor")
        if not self.session.hub.connections_of(target.id):
            raise CommandError(f"{target.name} is not connected: the floor stays as it is")
        return target

    async def queue_hands(self, people: list[Person]) -> None:
        """Raise the hands of ``people`` in this order, after the hands already up (the
        groups' rapporteurs once everyone is back); someone live or already waiting is left
        where they are."""
        async with self.session.lock:
            now = self.session.now()
            floor, changes = self.floor, list[fl.FloorEvent]()
            for person in people:
                if floor.is_live(person.id) or floor.hand(person.id) is not None:
                    continue
                self.people[person.id] = person_view(person)
                language = self._language(person.language, fallback=True)
                floor, events = fl.apply(floor, fl.RaiseHand(person.id, language), now)
                changes += events
            if changes:
                await self._publish(floor, changes, now, by=None, persist=True)

    async def set_language(self, person: Person, language: str) -> dict[str, Any]:
        """The moderator's floor language (also the shown speaker's spoken language)."""
        return await self._run(person, fl.SetLanguage(self._language(language)))

    async def invite(self, person_ids: tuple[str, ...]) -> None:
        """The run-of-show's invitation: the panelists of the item that came up (the core
        skips the live ones; the same invitation again stores nothing)."""
        for pid in person_ids:
            await self._admitted(pid)
        await self._run(None, fl.Invite(person_ids))

    async def item_language(self, person: Person, language: str) -> None:
        """An agenda item started: its lead speaker's language, unless someone live speaks."""
        if language != self.floor.language and not self.floor.live:
            await self._run(person, fl.SetLanguage(language))

    # -- running ---------------------------------------------------------------------------

    async def _run(
        self, by: Person | None, *cmds: fl.FloorCommand, idempotent: bool = True
    ) -> dict[str, Any]:
        session = self.session
        async with session.lock:
            now = session.now()
            floor, changes = self.floor, list[fl.FloorEvent]()
            try:
                for cmd in cmds:
                    floor, events = fl.apply(floor, cmd, now)
                    changes += events
            except fl.AlreadySo:
                if not idempotent:
                    raise
                # idempotent: already so, nothing stored, no event (a retried message)
                return {"floor": self.view(), "version": self.floor.version}
            await self._publish(floor, changes, now, by=by, persist=True)
        return {"floor": self.view(), "version": self.floor.version}

    def event_data(
        self,
        floor: fl.Floor,
        changes: list[fl.FloorEvent] | tuple[fl.FloorEvent, ...],
        by: Person | None,
    ) -> dict[str, Any]:
        return {
            "floor": self.view(floor),
            "changes": [c.to_dict() for c in changes],
            "routing": self.session.stage.routing(floor.language).to_dict(),
            "by": by.public() if by else None,
        }

    async def _publish(
        self,
        floor: fl.Floor,
        changes: list[fl.FloorEvent],
        now: datetime,
        *,
        by: Person | None,
        persist: bool,
    ) -> None:
        """Persist and publish ``floor``, then make media follow it. Lock held."""
        session = self.session
        before = self.floor
        self.floor = floor
        data = self.event_data(floor, changes, by)
        commands = (
            [event_log.LoggedCommand("floor", self.to_record(floor), now, by.id if by else None)]
            if persist
            else []
        )
        try:
            await session.commit(commands, [("floor", data, EVERYONE)])
        except BaseException:
            self.floor = before
            raise
        gone = {s.person_id for s in before.live} - {s.person_id for s in floor.live}
        self.apply_media(gone)
        if floor.language != before.language:
            session.stage.apply_routes(floor.language)

    def apply_media(self, gone: set[str] | frozenset[str] = frozenset()) -> None:
        media = self.session.stage.media
        if media is None:
            return
        for pid in gone:  # a taken-back speaker's media stops reaching anyone at once
            media.unpublish(speaker_key(pid))
        shown = lv.floor_shown(self.floor, self.lost)
        media.set_floor_mix(
            FloorMix(
                speakers=tuple(speaker_key(s.person_id) for s in self.floor.live),
                muted=frozenset(map(speaker_key, lv.floor_muted(self.floor, self.lost))),
                video=speaker_key(shown) if shown else None,
            )
        )

    # -- levels from the mix ---------------------------------------------------------------

    def levels(self, levels: Mapping[str, float]) -> None:
        """The mixer's levels (by source key): the core picks the active speaker."""
        if self._levels_task is not None and not self._levels_task.done():
            return  # the previous observation is still being published: skip this one
        by_person = {
            k.removeprefix(SPEAKER_PREFIX): v
            for k, v in levels.items()
            if k.startswith(SPEAKER_PREFIX)
        }
        self._levels_task = asyncio.ensure_future(self._observe(by_person))

    async def _observe(self, levels: Mapping[str, float]) -> None:
        session = self.session
        async with session.lock:
            now = session.now()
            floor, events = fl.apply(self.floor, fl.Levels(levels), now)
            if not events:
                self.floor = floor  # challenger bookkeeping only
                return
            log.info("= floor: %s", ", ".join(e.kind for e in events))
            await self._publish(floor, list(events), now, by=None, persist=False)

    # -- persistence -----------------------------------------------------------------------

    def to_record(self, floor: fl.Floor | None = None) -> dict[str, Any]:
        f = floor or self.floor
        return {
            "floor": {
                "language": f.language,
                "version": f.version,
                "live": [s.to_dict() for s in f.live],
                "hands": [h.to_dict() for h in f.hands],
                "invited": list(f.invited),
                "pinned": f.pinned,
            },
            "people": self.view(f)["people"],
        }

    def restore(self, record: Mapping[str, Any]) -> None:
        """The floor as a logged record left it (older records: one holder and a language)."""
        if "floor" not in record:
            language = record.get("language", self.floor.language)
            self.floor = replace(self.floor, language=language)
            return
        data = record["floor"]
        t = datetime.fromisoformat
        live = tuple(
            fl.Speaker(s["person_id"], s["language"], t(s["since"]), s["muted"])
            for s in data["live"][: self.floor.limit]
        )
        ids = {s.person_id for s in live}
        self.floor = replace(
            self.floor,
            language=data["language"],
            version=data["version"],
            live=live,
            hands=tuple(
                fl.Hand(h["person_id"], h["language"], t(h["raised_at"])) for h in data["hands"]
            ),
            invited=tuple(data["invited"]),
            pinned=data["pinned"] if data["pinned"] in ids else None,
            active=live[0].person_id if live else None,
        )
        self.people.update(record.get("people", {}))
