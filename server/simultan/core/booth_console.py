"""Booth console decisions: who "my partner" is, and whether a command is still current.

- The partner is found by seat: A and B are partners; the backup is offered the mic only
  when chosen by name. A backup's own partner is A (or B when A is empty). Never "whoever
  sorts first".
- A booth command may carry the booth version it was based on (``base_version``); when the
  booth has moved on since (a request was cancelled, someone else took the mic), an accept
  or an offer based on the old state is a conflict, not a surprise. Cough is exempt: it
  acts on the live mic only and must never wait for a round trip.
"""

from __future__ import annotations

from simultan.core.booths import Booth
from simultan.errors import CommandError, ConflictError

_PARTNER_SEAT = {"A": ("B",), "B": ("A",), "backup": ("A", "B")}


def partner_by_seat(booth: Booth, person: str) -> str:
    """The booth partner of ``person`` by seat; CommandError when there is none."""
    seat = next((s for s, p in booth.members.items() if p == person), None)
    if seat is None:
        raise CommandError(f"you have no seat in booth {booth.id}")
    for other in _PARTNER_SEAT[seat]:
        partner = dict(booth.members).get(other)  # type: ignore[call-overload]
        if partner is not None:
            return str(partner)
    raise CommandError(f"nobody sits in your partner's seat in booth {booth.id}")


def check_base_version(booth: Booth, action: str, base_version: int | None) -> None:
    if base_version is None or action == "cough" or base_version == booth.version:
        return
    raise ConflictError(
        f"booth {booth.id} changed (version {booth.version}, you saw {base_version}): "
        "look again before you act"
    )
