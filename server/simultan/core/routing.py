"""Who feeds each language channel, and what each booth listens to.

``route`` is a pure function of the floor channel, the language being spoken on the floor
and the booths' states. The media plane applies its answer by swapping the source of each
listener's language track (no renegotiation), so routing only names sources; it never
touches media.

Channels are language codes: the floor channel (``"en"``) and one per booth (``"zh"``,
``"ja"``, ``"es"``). The rules, and why:

(a) **The floor speaks the floor channel's language** (the usual case). The floor channel
    carries the floor. Each booth channel carries its booth's live interpreter, or the floor
    when nobody in that booth is live: a listener never gets dead air because a booth is
    empty or between interpreters (original sound beats silence). Every booth hears the
    floor.

(b) **The floor speaks a booth's own language L** (a Spanish-speaking panelist and an
    ``es`` booth). Channel L carries the floor directly: its listeners understand the
    speaker. Booth L becomes the *pivot*: its live interpreter works into the floor-channel
    language. That rendering feeds the floor channel only when booth L is ``retour`` (staffed
    and trusted to interpret into the floor language); otherwise the floor channel carries
    the floor itself. Every other booth hears relay from booth L's live interpreter, or the
    floor when booth L has nobody live. Going live in the pivot booth is therefore the relay
    choice: an interpreter who cannot give relay stays off the mic, and colleagues get the
    floor instead of silence. Each other booth's channel carries its own live interpreter,
    or else the same relay or floor its booth hears; so its listeners get at least the
    pivot's rendering. The pivot booth itself hears the floor: no booth hears itself.

(c) **The floor speaks a language with no booth** (neither the floor channel nor any booth
    language, say a guest speaking Polish at an en/zh/ja/es event). There is nobody to pivot
    through: every booth hears the floor and interprets from it as best it can, every booth
    channel carries its live interpreter or the floor, and the floor channel carries the
    floor.

(d) **An interpreter may choose what the booth hears** (the console's manual override,
    per booth, automatic by default): ``"floor"``, or relay from booth X (X's live
    interpreter; the floor while X has nobody live, never silence). A booth never chooses
    itself. The choice changes only what the booth hears, not what any channel carries.

Coughing does not change routing. A cough is a second or two: switching the channel to the
floor and back would blast a burst of original sound into the listeners' ears. The mic
stays routed and the client (or SFU) sends silence while the cough button is held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from simultan.core.booths import Booth

SourceKind: TypeAlias = Literal["floor", "interpreter"]


@dataclass(frozen=True)
class Source:
    """An audio source: the floor, or one interpreter speaking from one booth."""

    kind: SourceKind
    person: str | None = None
    booth: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "floor" and (self.person is not None or self.booth is not None):
            raise ValueError("the floor source names no person and no booth")
        if self.kind == "interpreter" and (self.person is None or self.booth is None):
            raise ValueError("an interpreter source names a person and their booth")

    @property
    def is_floor(self) -> bool:
        return self.kind == "floor"

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "person": self.person, "booth": self.booth}


FLOOR: Final = Source("floor", None, None)


@dataclass(frozen=True)
class Routing:
    """The whole routing decision.

    ``channels`` maps each channel (language code) to what its listeners hear;
    ``booth_hears`` maps each booth id to what its interpreters hear (the floor, or relay
    from the pivot booth); ``pivot`` is the booth whose language the floor speaks, if any.
    """

    channels: Mapping[str, Source]
    booth_hears: Mapping[str, Source]
    pivot: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", MappingProxyType(dict(self.channels)))
        object.__setattr__(self, "booth_hears", MappingProxyType(dict(self.booth_hears)))

    def to_dict(self) -> dict[str, object]:
        return {
            "channels": {ch: src.to_dict() for ch, src in self.channels.items()},
            "booth_hears": {b: src.to_dict() for b, src in self.booth_hears.items()},
            "pivot": self.pivot,
        }


def live_source(booth: Booth) -> Source | None:
    """The booth's live interpreter as a source, or None when its mic is off.

    ``Booth`` guarantees that a live person is a connected member, so a source built here
    always names someone who is actually there.
    """
    if booth.live is None:
        return None
    return Source("interpreter", booth.live, booth.id)


AUTOMATIC: Final = "auto"
"""A booth's hearing choice when nobody overrode it: the rules above decide."""


def check_choice(booth_id: str, choice: str, booths: Sequence[Booth]) -> str:
    """A booth's manual hearing choice, validated: ``"auto"``, ``"floor"`` or another
    booth's id. ValueError names what is wrong."""
    ids = [b.id for b in booths]
    if booth_id not in ids:
        raise ValueError(f"no booth {booth_id!r}")
    if choice in (AUTOMATIC, "floor"):
        return choice
    if choice == booth_id:
        raise ValueError("a booth cannot hear relay from itself")
    if choice not in ids:
        raise ValueError(
            f"no booth {choice!r} to take relay from; one of auto, floor, {', '.join(ids)}"
        )
    return choice


def route(
    floor_channel: str,
    floor_language: str,
    booths: Sequence[Booth],
    choices: Mapping[str, str] = MappingProxyType({}),
) -> Routing:
    """Decide every channel's source and every booth's input (see the module docstring).

    ``choices``: booths whose interpreters chose what they hear (rule d); absent or
    ``"auto"`` means the automatic choice. Raises ``ValueError`` when two booths share an
    id or a language, or a booth claims the floor channel's language: the event definition
    already forbids both.
    """
    _check_layout(floor_channel, booths)
    pivot = next((b for b in booths if b.language == floor_language), None)
    if floor_language != floor_channel and pivot is not None:
        return _chosen(_via_pivot(floor_channel, pivot, booths), booths, choices)
    # Rules (a) and (c): everybody works from the floor.
    channels: dict[str, Source] = {floor_channel: FLOOR}
    hears: dict[str, Source] = {}
    for booth in booths:
        channels[booth.language] = live_source(booth) or FLOOR
        hears[booth.id] = FLOOR
    return _chosen(Routing(channels=channels, booth_hears=hears, pivot=None), booths, choices)


def _chosen(decision: Routing, booths: Sequence[Booth], choices: Mapping[str, str]) -> Routing:
    """Rule (d): each booth's manual choice replaces what it hears, never with silence."""
    by_id = {b.id: b for b in booths}
    hears = dict(decision.booth_hears)
    for booth_id, choice in choices.items():
        if booth_id not in hears or choice == AUTOMATIC:
            continue
        other = by_id.get(choice)
        relay = live_source(other) if other is not None and choice != booth_id else None
        hears[booth_id] = relay or FLOOR
    if hears == dict(decision.booth_hears):
        return decision
    return Routing(channels=decision.channels, booth_hears=hears, pivot=decision.pivot)


def _via_pivot(floor_channel: str, pivot: Booth, booths: Sequence[Booth]) -> Routing:
    """Rule (b): the floor speaks the pivot booth's language."""
    relay = live_source(pivot)
    channels: dict[str, Source] = {
        floor_channel: relay if relay is not None and pivot.retour else FLOOR,
        pivot.language: FLOOR,
    }
    hears: dict[str, Source] = {pivot.id: FLOOR}
    for booth in booths:
        if booth.id == pivot.id:
            continue
        hears[booth.id] = relay or FLOOR
        channels[booth.language] = live_source(booth) or hears[booth.id]
    return Routing(channels=channels, booth_hears=hears, pivot=pivot.id)


def _check_layout(floor_channel: str, booths: Sequence[Booth]) -> None:
    ids = [b.id for b in booths]
    languages = [b.language for b in booths]
    if len(set(ids)) != len(ids):
        raise ValueError(f"booth ids must be unique: {ids}")
    if len(set(languages)) != len(languages):
        raise ValueError(f"each booth needs its own language: {languages}")
    if floor_channel in languages:
        raise ValueError(f"no booth may interpret into the floor channel {floor_channel!r}")
