"""Partner by seat and the base-version check, with explicit booths."""

from __future__ import annotations

import pytest

from simultan.core.booth_console import check_base_version, partner_by_seat
from simultan.core.booths import Booth
from simultan.errors import CommandError, ConflictError

BOOTH = Booth(id="zh", language="zh", members={"A": "a", "B": "b", "backup": "0-first"})


def test_a_and_b_are_partners_and_the_backup_is_never_picked() -> None:
    assert partner_by_seat(BOOTH, "a") == "b"
    assert partner_by_seat(BOOTH, "b") == "a"
    assert partner_by_seat(BOOTH, "0-first") == "a"
    alone = Booth(id="zh", language="zh", members={"A": "a", "backup": "c"})
    with pytest.raises(CommandError, match="partner"):
        partner_by_seat(alone, "a")
    with pytest.raises(CommandError, match="no seat"):
        partner_by_seat(BOOTH, "stranger")


def test_a_stale_base_version_is_a_conflict_except_for_cough() -> None:
    check_base_version(BOOTH, "accept", None)
    check_base_version(BOOTH, "accept", BOOTH.version)
    check_base_version(BOOTH, "cough", BOOTH.version + 3)
    with pytest.raises(ConflictError):
        check_base_version(BOOTH, "accept", BOOTH.version + 1)
