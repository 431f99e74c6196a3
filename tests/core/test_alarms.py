"""Tech-view alarms from booth states and levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simultan.core import booths as bc
from simultan.core.alarms import alarms

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def booth(*commands: bc.BoothCommand) -> bc.Booth:
    b = bc.Booth(id="zh", language="zh", members={"A": "a", "B": "b"})
    for cmd in commands:
        b, _ = bc.apply(b, cmd, T0)
    return b


def kinds(found) -> list[str]:
    return sorted(a.kind for a in found)


def test_quiet_booth_with_everyone_connected_and_live_has_no_alarm() -> None:
    b = booth(bc.Connect("a"), bc.Connect("b"), bc.TakeMic("a"))
    assert alarms([b], {"a": 1.0}, T0) == ()


def test_silent_live_channel_is_critical() -> None:
    b = booth(bc.Connect("a"), bc.Connect("b"), bc.TakeMic("a"))
    (alarm,) = alarms([b], {"a": 12.0}, T0, silence_limit=timedelta(seconds=10))
    assert alarm.kind == "silent_channel" and alarm.severity == "critical"
    assert alarm.person == "a" and "zh channel" in alarm.message
    # silence of the standby partner is normal
    assert alarms([b], {"a": 0.0, "b": 300.0}, T0) == ()


def test_disconnected_interpreter_and_unstaffed_booth() -> None:
    b = booth(bc.Connect("a"))
    assert kinds(alarms([b], {}, T0)) == ["booth_unstaffed", "interpreter_disconnected"]


def test_hanging_handover() -> None:
    b = booth(bc.Connect("a"), bc.Connect("b"), bc.TakeMic("a"), bc.RequestMic("b"))
    assert alarms([b], {}, T0 + timedelta(seconds=5)) == ()
    found = alarms([b], {}, T0 + timedelta(seconds=45), handover_limit=timedelta(seconds=30))
    assert kinds(found) == ["handover_hanging"]
