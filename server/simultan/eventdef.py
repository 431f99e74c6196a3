"""The event definition: a validated YAML file under config/.

Loaded once at start; a bad file raises ConfigError naming each bad field and its line.
The models are frozen and carry no I/O; the core builds its state from them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from simultan.core.timeline import PlannedItem, SpeakerRef
from simultan.errors import ConfigError

LANGUAGE_RE = r"^[a-z]{2,3}$"
ID_RE = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemKind(StrEnum):
    KEYNOTE = "keynote"
    PANEL = "panel"
    DISCUSSION = "discussion"
    BREAK = "break"
    B2B = "b2b"


class Speaker(_Model):
    name: str = Field(min_length=1, max_length=200)
    city: str | None = Field(default=None, max_length=200)
    language: str = Field(default="en", pattern=LANGUAGE_RE)
    remote: bool = False
    # The registrant this speaker is (invited when the item comes up); without it, a
    # registered panelist of the speaker's city (or name).
    email: str | None = Field(default=None, max_length=254)


class GroupDef(_Model):
    """A group of a discussion item given in advance (the moderator may still change it)."""

    id: str = Field(pattern=ID_RE)
    title: str = Field(min_length=1, max_length=300)
    topic: str | None = Field(default=None, pattern=ID_RE)  # one of the event's topics
    language: str | None = Field(default=None, pattern=LANGUAGE_RE)  # the group's language
    # Registrants named by email (anything with an @) or by name; resolved to registered
    # people when the moderator plans the groups (an unknown one: ConfigError with its line).
    facilitator: str | None = Field(default=None, min_length=1, max_length=254)
    members: tuple[Annotated[str, Field(min_length=1, max_length=254)], ...] = Field(
        default=(), max_length=12
    )
    booth: str | None = Field(default=None, pattern=ID_RE)  # the booth serving the group


class TopicDef(_Model):
    """A discussion topic a city may choose at registration."""

    id: str = Field(pattern=ID_RE)
    title: str = Field(min_length=1, max_length=300)


class AgendaItemDef(_Model):
    id: str = Field(pattern=ID_RE)
    day: date
    start: time
    duration_minutes: int = Field(gt=0, le=24 * 60)
    kind: ItemKind
    title: str = Field(min_length=1, max_length=300)
    speakers: tuple[Speaker, ...] = ()
    description: str | None = Field(default=None, max_length=4000)
    groups: tuple[GroupDef, ...] = ()  # discussion items only
    # The run-of-show's warning and danger thresholds for this item (minutes left); the
    # settings' defaults otherwise.
    warning_minutes: int | None = Field(default=None, ge=0, le=600)
    danger_minutes: int | None = Field(default=None, ge=0, le=600)


class InterpreterDef(_Model):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    seat: str = Field(default="A", pattern=r"^(A|B|backup)$")


class BoothDef(_Model):
    id: str = Field(pattern=ID_RE)
    language: str = Field(pattern=LANGUAGE_RE)
    # A bidirectional booth (es<->en) feeds the floor-language channel while the floor
    # speaks this booth's language.
    retour: bool = False
    interpreters: tuple[InterpreterDef, ...] = ()


class EventInfo(_Model):
    id: str = Field(pattern=ID_RE)
    title: str = Field(min_length=1, max_length=300)
    organizer: str | None = Field(default=None, max_length=300)
    timezone: str
    days: tuple[date, ...] = Field(min_length=1)
    floor_language: str = Field(default="en", pattern=LANGUAGE_RE)
    description: str | None = Field(default=None, max_length=4000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class B2BDef(_Model):
    """The B2B day's slot grid, laid out inside the agenda items of kind ``b2b``."""

    meeting_minutes: int = Field(default=20, ge=5, le=240)
    break_minutes: int = Field(default=5, ge=0, le=120)
    tables: int = Field(default=10, ge=1, le=500)


class EventDefinition(_Model):
    event: EventInfo
    booths: tuple[BoothDef, ...] = ()
    topics: tuple[TopicDef, ...] = ()
    agenda: tuple[AgendaItemDef, ...] = Field(min_length=1)
    b2b: B2BDef | None = None
    # Where the file came from and the line of each field, for errors found later on.
    _source: str = PrivateAttr(default="<event>")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    def locate(self, path: tuple[Any, ...]) -> str:
        """``file:line N: dotted.field`` for a field of the file (as ConfigError names them)."""
        line = _nearest_line(self._lines, path)
        where = f"line {line}" if line else "?"
        return f"{self._source}:{where}: {'.'.join(str(p) for p in path)}"

    @model_validator(mode="after")
    def _consistent(self) -> EventDefinition:
        ids = [item.id for item in self.agenda]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"agenda item ids must be unique, repeated: {', '.join(dupes)}")
        langs = [b.language for b in self.booths]
        if len(set(langs)) != len(langs):
            raise ValueError("each booth must have its own language")
        if self.event.floor_language in langs:
            raise ValueError("a booth cannot interpret into the floor language")
        for item in self.agenda:
            if item.day not in self.event.days:
                raise ValueError(f"agenda item {item.id!r} is on {item.day}, not an event day")
            self._check_groups(item)
        if self.b2b is not None and not any(i.kind is ItemKind.B2B for i in self.agenda):
            raise ValueError("a b2b grid needs agenda items of kind b2b to lay its slots in")
        return self

    def _check_groups(self, item: AgendaItemDef) -> None:
        if not item.groups:
            return
        if item.kind is not ItemKind.DISCUSSION:
            raise ValueError(f"agenda item {item.id!r} has groups but is not a discussion")
        ids = [g.id for g in item.groups]
        if len(set(ids)) != len(ids) or "plenary" in ids:
            raise ValueError(f"groups of {item.id!r} need distinct ids other than 'plenary'")
        topics = {t.id for t in self.topics}
        booths = {b.id for b in self.booths}
        for g in item.groups:
            if g.topic is not None and g.topic not in topics:
                raise ValueError(f"group {g.id!r}: unknown topic {g.topic!r}")
            if g.booth is not None and g.booth not in booths:
                raise ValueError(f"group {g.id!r}: unknown booth {g.booth!r}")
        named = [m for g in item.groups for m in g.members]
        twice = sorted({m for m in named if named.count(m) > 1})
        if twice:
            raise ValueError(f"groups of {item.id!r} name {', '.join(twice)} more than once")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.event.timezone)

    @property
    def languages(self) -> tuple[str, ...]:
        """The floor language first, then every interpretation channel."""
        return (self.event.floor_language, *(b.language for b in self.booths))

    def planned_start(self, item: AgendaItemDef) -> datetime:
        """Planned start as an aware UTC datetime."""
        local = datetime.combine(item.day, item.start, tzinfo=self.zone)
        return local.astimezone(ZoneInfo("UTC"))

    def shifted_to(self, first_start: datetime) -> EventDefinition:
        """The same event moved so that its first item starts at ``first_start`` (demo mode)."""
        first = min(self.agenda, key=self.planned_start)
        delta = first_start - self.planned_start(first)
        items = []
        days = set()
        for item in self.agenda:
            local = (self.planned_start(item) + delta).astimezone(self.zone)
            days.add(local.date())
            items.append(item.model_copy(update={"day": local.date(), "start": local.time()}))
        info = self.event.model_copy(update={"days": tuple(sorted(days))})
        return self.model_copy(update={"event": info, "agenda": tuple(items)})


def item_duration(item: AgendaItemDef) -> timedelta:
    return timedelta(minutes=item.duration_minutes)


def plan_from_definition(defn: EventDefinition) -> tuple[PlannedItem, ...]:
    """The agenda as the core's planned items (UTC), sorted by planned start (ties keep file
    order). It lives here, not in core/, so the core never imports pydantic or yaml."""
    items = [
        PlannedItem(
            id=a.id,
            title=a.title,
            kind=a.kind.value,
            planned_start=defn.planned_start(a),
            duration=item_duration(a),
            speakers=tuple(SpeakerRef(s.name, s.language, s.city) for s in a.speakers),
        )
        for a in defn.agenda
    ]
    return tuple(sorted(items, key=lambda p: p.planned_start))


# --- loading with line numbers -------------------------------------------------------------


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each path (keys and list indexes) in a composed YAML tree to its 1-based line."""
    lines: dict[tuple[Any, ...], int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            for sub, line in _line_index(value_node, (*path, key)).items():
                lines.setdefault(sub, line)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            lines.update(_line_index(child, (*path, index)))
    return lines


def _nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    loc = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def parse_event(text: str, source: str = "<event>") -> EventDefinition:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid YAML", problems=[str(exc)]) from exc
    if node is None or not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with event, booths and agenda")
    lines = _line_index(node)
    try:
        defn = EventDefinition.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _nearest_line(lines, loc)
            where = f"line {line}" if line else "?"
            message = re.sub(r"^Value error, ", "", err["msg"])
            problems.append(f"{source}:{where}: {field}: {message}")
        raise ConfigError(f"{source}: invalid event definition", problems=problems) from exc
    defn._source, defn._lines = source, lines
    return defn


def load_event(path: str | Path) -> EventDefinition:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the event definition ({exc.strerror})") from exc
    return parse_event(text, str(p))


def interpretation_gaps(path: str | Path) -> list[str]:
    """Warnings for planned speakers whose language some channel would carry untranslated
    (see core/coverage.py), each naming the agenda item and the speaker's line."""
    from simultan.core import coverage

    p = Path(path)
    defn = load_event(p)
    node = yaml.compose(p.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    lines = _line_index(node) if node is not None else {}
    booths = [
        coverage.BoothPlan(b.id, b.language, b.retour, len(b.interpreters)) for b in defn.booths
    ]
    speakers = [
        coverage.PlannedSpeaker(
            item.id, s.name, s.language, _nearest_line(lines, ("agenda", i, "speakers", j))
        )
        for i, item in enumerate(defn.agenda)
        for j, s in enumerate(item.speakers)
    ]
    gaps = coverage.gaps(defn.event.floor_language, booths, speakers)
    return [f"{p}:{coverage.describe(g)}" for g in gaps]
