"""Alarms for the organizers' tech view: pure, from booth states and measured levels.

- ``silent_channel``: a booth's live interpreter has sent nothing above the silence level
  for longer than ``silence_limit`` (their mic is dead or muted: listeners hear nothing).
- ``interpreter_disconnected``: a seated interpreter is not connected.
- ``handover_hanging``: a handover has waited for an answer longer than ``handover_limit``.
- ``booth_unstaffed``: nobody holds the booth's mic (its channel carries the floor).
- ``media_lost``: a seated interpreter's packets stopped without a close (their network
  dropped; they were taken off the mic as on a disconnect, and get it back on return).
- ``speaker_media_lost``: a live floor speaker's packets stopped (``booth`` is ``"floor"``):
  they are out of the mix and the floor video shows another live speaker until they return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from simultan.core.booths import Booth, hanging_handover

AlarmKind = Literal[
    "silent_channel",
    "interpreter_disconnected",
    "handover_hanging",
    "booth_unstaffed",
    "media_lost",
    "speaker_media_lost",
]


@dataclass(frozen=True)
class Alarm:
    kind: AlarmKind
    booth: str
    person: str | None
    message: str
    severity: Literal["warning", "critical"] = "warning"
    seconds: int | None = None  # how long (silence, a hanging handover): pages word it

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "kind": self.kind,
            "booth": self.booth,
            "person": self.person,
            "message": self.message,
            "severity": self.severity,
            "seconds": self.seconds,
        }


def alarms(
    booths: Sequence[Booth],
    silent_seconds: Mapping[str, float],
    now: datetime,
    *,
    silence_limit: timedelta = timedelta(seconds=10),
    handover_limit: timedelta = timedelta(seconds=30),
    lost: frozenset[str] = frozenset(),
    lost_speakers: Mapping[str, str] | None = None,
) -> tuple[Alarm, ...]:
    """Every current alarm. ``silent_seconds`` maps a person id to how long their published
    audio has been silent (absent: not measured, no silence alarm); ``lost_speakers`` maps
    each lost live floor speaker's id to their name."""
    found: list[Alarm] = [
        Alarm(
            "speaker_media_lost",
            "floor",
            person,
            f"{name} (on the floor): no audio packets arrive (their network dropped). "
            "They are out of the mix until their packets return.",
            "critical",
        )
        for person, name in sorted((lost_speakers or {}).items())
    ]
    for booth in booths:
        if booth.live is not None:
            silent = silent_seconds.get(booth.live)
            if silent is not None and silent > silence_limit.total_seconds():
                found.append(
                    Alarm(
                        "silent_channel",
                        booth.id,
                        booth.live,
                        f"The {booth.language} channel has been silent for {int(silent)} s.",
                        "critical",
                        int(silent),
                    )
                )
        elif booth.members:
            found.append(
                Alarm(
                    "booth_unstaffed",
                    booth.id,
                    None,
                    f"Nobody is on the {booth.language} mic: listeners hear the floor.",
                )
            )
        for seat, person in booth.seated():
            if person in lost:
                found.append(
                    Alarm(
                        "media_lost",
                        booth.id,
                        person,
                        f"Interpreter {seat} of the {booth.language} booth: no audio packets "
                        "arrive (their network dropped).",
                        "critical",
                    )
                )
            elif person not in booth.connected:
                found.append(
                    Alarm(
                        "interpreter_disconnected",
                        booth.id,
                        person,
                        f"Interpreter {seat} of the {booth.language} booth is disconnected.",
                    )
                )
        if hanging_handover(booth, now, handover_limit):
            found.append(
                Alarm(
                    "handover_hanging",
                    booth.id,
                    booth.pending.to_person if booth.pending else None,
                    f"A handover in the {booth.language} booth has waited over "
                    f"{int(handover_limit.total_seconds())} s for an answer.",
                    "critical",
                    int(handover_limit.total_seconds()),
                )
            )
    return tuple(found)
