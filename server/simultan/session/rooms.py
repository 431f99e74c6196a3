"""Rooms driver: group discussions in the live session.

Drives the pure :mod:`simultan.core.rooms` (capability check → ``apply`` → publish → media),
keeps the media plane's rooms in step (who hears whom, an interpreter serving a group), and
ticks once a second so that "call everyone back" and the item's end close the groups on
time. Every change is logged (stream ``rooms``, the whole state as a record) in the same
transaction as its event, so open groups and their members survive a restart, even SIGKILL.
When the groups close, their rapporteurs' hands are raised on the plenary floor, in group
order, for the reports item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simultan.core import rooms as rc
from simultan.core import timeline as tl
from simultan.core.capabilities import Capability
from simultan.core.registration import normalize_email
from simultan.errors import CommandError, ConfigError, ForbiddenError, NotFoundError
from simultan.eventdef import ItemKind
from simultan.hub.audience import EVERYONE, Audience
from simultan.people import Person
from simultan.session.live import require
from simultan.session.ticker import every
from simultan.store import event_log

if TYPE_CHECKING:
    from simultan.session.live import LiveSession

log = logging.getLogger("simultan.rooms")


def member_key(person_id: str) -> str:
    return f"member:{person_id}"


def joins_groups(person: Person) -> bool:
    """Cities (participants and panelists) are assigned to groups; staff visit them."""
    return person.can(Capability.JOIN_GROUP)


class RoomsDriver:
    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.state = rc.RoomsState()
        self._lock = asyncio.Lock()
        self._names: dict[str, str] = {}  # person id -> "name (city)", for the pages

    # --- views -----------------------------------------------------------------------------

    def room_of(self, person_id: str) -> str:
        return self.state.room_of(person_id)

    def snapshot(self) -> dict[str, Any]:
        return self.view(self.state)

    def view(self, state: rc.RoomsState) -> dict[str, Any]:
        """The state as clients see it, with the names of the people it lists."""
        out = state.to_dict()
        listed = set(state.people) | set(state.visits)
        out["names"] = {p: self._names[p] for p in sorted(listed) if p in self._names}
        return out

    # --- commands --------------------------------------------------------------------------

    def restore(self, record: Mapping[str, Any]) -> None:
        """The state the last logged record left (at start, before anyone connects)."""
        self.state = rc.from_record(record["state"])
        self._names.update(record.get("names", {}))

    async def connected(self, person: Person) -> None:
        """A tab opened: a city is admitted (a known one keeps its room)."""
        self._names[person.id] = f"{person.name} ({person.city})"
        if not joins_groups(person):
            return
        profile = rc.Profile(topic=person.topic, language=person.language)
        if self.state.people.get(person.id) == profile:
            self.sync_media()
            return
        await self._apply(person, rc.Admit(person.id, profile))

    async def command(self, person: Person, action: str, **args: Any) -> dict[str, Any]:
        if action == "enter":
            return await self._enter(person, args.get("room"))
        if action == "visit":
            require(person, Capability.VISIT_ROOMS)
            room = args.get("room")
            if room is not None:
                self.state.room(room)
            cmd: rc.Command = rc.VisitRoom(person.id, room, bool(args.get("speak")))
            return await self._apply(person, cmd)
        require(person, Capability.MANAGE_ROOMS)
        now = self.session.now()
        if action == "plan":
            item = self._discussion_item(now)
            method = rc.Method(args.get("method") or "random")
            predefined = await self._predefined(item)
            cmd = rc.Plan(
                item.id,
                method,
                count=args.get("count"),
                size=args.get("size"),
                seed=args.get("seed") or 0,
                predefined=predefined,
            )
        elif action == "move":
            person_id, room = args.get("person_id"), args.get("room")
            if not person_id or not room:
                raise CommandError("move needs person_id and room")
            cmd = rc.Move(person_id, room)
        elif action == "roles":
            room = args.get("room")
            if not room:
                raise CommandError("roles needs a room")
            cmd = rc.SetRoles(room, args.get("facilitator"), args.get("rapporteur"))
        elif action == "booth":
            room = args.get("room")
            if not room:
                raise CommandError("booth needs a room")
            booth = args.get("booth")
            if booth is not None and booth not in self.session.stage.booths:
                raise CommandError(f"no booth {booth!r}")
            cmd = rc.AssignBooth(room, booth)
        elif action == "open":
            self._discussion_item(now)
            cmd = rc.Open(ends_at=self._item_end(now))
        elif action == "cancel":
            cmd = rc.Cancel()
        elif action == "call_back":
            cmd = rc.CallBack()
        else:
            raise CommandError(f"unknown rooms action {action!r}")
        return await self._apply(person, cmd)

    async def _enter(self, person: Person, room: str | None) -> dict[str, Any]:
        require(person, Capability.JOIN_GROUP)
        if not room:
            raise CommandError("enter needs a room")
        if not rc.may_enter(self.state, person.id, room, visitor=False):
            raise ForbiddenError(f"room {room!r} is private to its members")
        if self.state.room_of(person.id) == room:
            return {"room": room}
        raise ForbiddenError("only the moderator moves people between groups")

    def may_publish(self, person: Person) -> str:
        """The member key a person may publish under: a member of a group, or a visitor who
        speaks there."""
        visit = self.state.visits.get(person.id)
        if visit is not None and visit.speak:
            return member_key(person.id)
        if not person.can(Capability.JOIN_GROUP):
            raise ForbiddenError(f"your role ({person.role}) does not join groups")
        if self.state.where.get(person.id, rc.PLENARY) == rc.PLENARY:
            raise ForbiddenError("you are in the plenary: only group members publish to a group")
        return member_key(person.id)

    async def tick(self) -> None:
        if self.state.phase in (rc.Phase.OPEN, rc.Phase.CLOSING):
            await self._apply(None, rc.Tick())

    async def run(self, interval: float = 1.0) -> None:
        await every(interval, self.tick, log)

    async def _apply(self, person: Person | None, cmd: rc.Command) -> dict[str, Any]:
        session = self.session
        async with self._lock:
            before = self.state
            now = session.now()
            new, events = rc.apply(before, cmd, now)
            if new is before:
                return {"version": new.version}
            names = [e.name for e in events]
            view = self.view(new)
            data = {
                "events": [{"name": e.name, **e.data} for e in events],
                "rooms": view,
                "by": person.public() if person is not None else None,
            }
            # A city arriving while no groups exist changes nothing anyone sees (the preview
            # counts it); later it is placed in a group, and everyone's view changes.
            quiet = names == ["admitted"] and new.phase is rc.Phase.PLENARY
            record = {"state": rc.to_record(new), "names": view["names"]}
            logged = event_log.LoggedCommand("rooms", record, now, person.id if person else None)
            async with session.lock:
                await session.commit([logged], [] if quiet else [("rooms", data, EVERYONE)])
                self.state = new
        if "groups_closed" in names:
            await self._after_close(before)
        self.sync_media()
        return {"version": new.version, "rooms": self.view(new)}

    async def _after_close(self, before: rc.RoomsState) -> None:
        media = self.session.stage.media
        if media is not None:
            for person_id in before.where:
                media.unpublish(member_key(person_id))
        if self.state.reporters:
            await self.session.publish(
                "rapporteurs",
                {"item": before.item, "queue": list(self.state.reporters)},
                Audience(capability=Capability.GIVE_FLOOR),
            )
            # Everyone is back: the rapporteurs wait on the plenary floor, in group order.
            people = []
            for person_id in self.state.reporters:
                try:
                    people.append(await self.session.person_by_id(person_id))
                except (CommandError, NotFoundError):
                    log.warning("! rapporteur %s is no longer registered", person_id[:8])
            await self.session.floor_driver.queue_hands(people)

    # --- media -----------------------------------------------------------------------------

    def group_media(self) -> dict[str, Any]:
        """Room id -> RoomMedia for every group, from the state and the booths."""
        from simultan.media.plane import RoomMedia

        plenary_routes = self._plenary_routes()
        served = self.state.booths_serving
        out: dict[str, Any] = {}
        for room in self.state.groups:
            keys = [member_key(p) for p in self.state.members(room.id)]
            keys += [
                member_key(p)
                for p, v in sorted(self.state.visits.items())
                if v.room == room.id and v.speak
            ]
            routes: dict[str, str] = {}
            booth = (
                self.session.stage.booths.get(room.booth)
                if room.booth is not None and room.booth in served
                else None
            )
            if booth is not None and booth.language in plenary_routes:
                key = plenary_routes[booth.language]
                if key.startswith("interpreter:"):
                    routes[booth.language] = key
            out[room.id] = RoomMedia(members=tuple(keys), routes=routes)
        return out

    def _plenary_routes(self) -> Mapping[str, str]:
        """Channel -> source key as the booths and the floor decide (before any group)."""
        from simultan.session.stage import source_key

        decision = self.session.stage.routing(self.session.floor.language)
        return {ch: source_key(src) for ch, src in decision.channels.items()}

    def booth_rooms(self) -> dict[str, str]:
        """Booth id -> the group it serves."""
        return self.state.booths_serving

    def sync_media(self) -> None:
        media = self.session.stage.media
        if media is None:
            return
        groups = self.group_media()
        media.set_rooms(groups)
        served = self.booth_rooms()
        # A booth serving a group is heard there only: its plenary channel takes the floor.
        routes = dict(self._plenary_routes())
        floor = self.session.stage.floor_channel
        for booth_id in served:
            booth = self.session.stage.booths.get(booth_id)
            if booth is not None and booth.language in routes:
                routes[booth.language] = routes.get(floor, "floor")
        media.set_routes(routes)
        for conn in self.session.hub.connections:
            person = conn.person
            room = self.state.room_of(person.id)
            if person.booth and person.booth in served:
                room = served[person.booth]
            media.place(conn.media_id, room)

    # --- the agenda ------------------------------------------------------------------------

    def _discussion_item(self, now: datetime) -> tl.PlannedItem:
        timeline = self.session.timeline
        if timeline.current is None:
            raise CommandError("groups open during a discussion item: none is live")
        item = timeline.run(timeline.current).item
        if item.kind != ItemKind.DISCUSSION.value:
            raise CommandError(
                f"groups open during a discussion item, not during {item.kind} {item.id!r}"
            )
        return item

    def _item_end(self, now: datetime) -> datetime | None:
        current = self.session.timeline.current
        for view in tl.agenda_view(self.session.timeline, now):
            if view.id == current:
                return view.expected_end or view.planned_end
        return None

    async def _predefined(self, item: tl.PlannedItem) -> tuple[rc.GroupDef, ...]:
        """The event file's groups of ``item``, their facilitators and members resolved to
        registered people; a reference nobody answers to is a ConfigError naming its line."""
        defn = self.session.defn
        for i, agenda_item in enumerate(defn.agenda):
            if agenda_item.id != item.id:
                continue
            out = []
            for j, g in enumerate(agenda_item.groups):
                path = ("agenda", i, "groups", j)
                facilitator = None
                if g.facilitator is not None:
                    facilitator = await self._resolve(g.facilitator, (*path, "facilitator"))
                members = tuple(
                    [await self._resolve(m, (*path, "members", k)) for k, m in enumerate(g.members)]
                )
                out.append(
                    rc.GroupDef(
                        id=g.id,
                        title=g.title,
                        topic=g.topic,
                        language=g.language,
                        facilitator=facilitator,
                        booth=g.booth,
                        members=members,
                    )
                )
            return tuple(out)
        return ()

    async def _resolve(self, reference: str, path: tuple[str | int, ...]) -> str:
        """The registration id of the approved person an event-file reference names: an
        email address (with an @), else a name that exactly one registrant has."""
        from simultan.store.registrations import Registrations, Status

        repo = Registrations(self.session.engine, self.session.event_id)
        found: list[str] = []
        if "@" in reference:
            try:
                reg = await repo.get_by_email(normalize_email(reference))
            except ValueError:
                reg = None
            if reg is not None and reg.status is Status.APPROVED:
                found.append(reg.id)
        else:
            wanted = reference.strip().casefold()
            found = [
                r.id
                for r in await repo.list()
                if r.status is Status.APPROVED and r.name.casefold() == wanted
            ]
        if len(found) == 1:
            return found[0]
        why = f"{len(found)} registrants answer to" if found else "nobody approved is registered as"
        raise ConfigError(f"{self.session.defn.locate(path)}: {why} {reference!r}")
