"""Will every channel hear an interpretation? A check of the plan, before the day.

Routing (``core/routing.py``) decides live who feeds each channel; this module asks the same
question of the agenda ahead of time: for each planned speaker's language, which channels
would carry that speaker untranslated because nobody can interpret it. The rules follow
routing's:

- the floor channel's own language: every booth interprets from the floor; fine;
- a booth's language L: that booth's channel hears the speaker directly, and the other booths
  take relay from booth L; the floor channel gets an interpretation only when booth L is
  ``retour`` (works into the floor language) and has interpreters, or else the raw original;
- a language with no booth: nobody pivots; the floor channel and every booth channel carry
  the original (the booths must interpret from a language they may not have).

A booth with no interpreters cannot pivot either. The answer is data; ``check-config`` prints
it with the agenda item and the line of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BoothPlan:
    id: str
    language: str
    retour: bool
    interpreters: int


@dataclass(frozen=True, slots=True)
class PlannedSpeaker:
    item_id: str
    name: str
    language: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """``channels`` would carry ``speaker`` in the original, with nobody to interpret it."""

    speaker: PlannedSpeaker
    channels: tuple[str, ...]
    reason: str


def gaps(
    floor_channel: str, booths: Sequence[BoothPlan], speakers: Sequence[PlannedSpeaker]
) -> list[Gap]:
    by_language = {b.language: b for b in booths}
    out: list[Gap] = []
    for speaker in speakers:
        lang = speaker.language
        if lang == floor_channel:
            continue
        booth = by_language.get(lang)
        if booth is None:
            channels = (floor_channel, *(b.language for b in booths))
            reason = f"no booth interprets {lang}"
        elif booth.interpreters == 0:
            channels = (floor_channel, *(b.language for b in booths if b.id != booth.id))
            reason = f"booth {booth.id} has no interpreters to work from {lang}"
        elif not booth.retour:
            channels = (floor_channel,)
            reason = f"booth {booth.id} is not retour: it does not work into {floor_channel}"
        else:
            continue
        out.append(Gap(speaker, channels, reason))
    return out


def describe(gap: Gap) -> str:
    s = gap.speaker
    where = f"line {s.line}: " if s.line else ""
    return (
        f"{where}agenda item {s.item_id!r}: {s.name} speaks {s.language}; channel "
        f"{', '.join(gap.channels)} would carry it untranslated ({gap.reason})"
    )
