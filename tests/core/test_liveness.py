"""The loss watch's decisions, with explicit times (no event loop)."""

from __future__ import annotations

from datetime import UTC, datetime

from simultan.core import booths as bc
from simultan.core import floor as fl
from simultan.core.liveness import (
    Change,
    WasLive,
    Watch,
    floor_muted,
    floor_shown,
    lost_keys,
    observe,
    restore_command,
)

KEY = "interpreter:a"


def run(samples: list[tuple[float, dict[str, int]]], lost_after: float = 0.8) -> list[Change]:
    watch, out = Watch(), []
    for now, counters in samples:
        watch, changes = observe(watch, counters, now, lost_after=lost_after)
        out.extend(changes)
    return out


def test_a_counter_that_stops_is_lost_within_the_limit_and_back_when_it_moves() -> None:
    samples = [(t / 10, {KEY: 5 * t}) for t in range(10)]  # flowing for 1 s
    samples += [(1.0 + t / 10, {KEY: 45}) for t in range(1, 10)]  # stuck from 0.9 s
    samples += [(2.0, {KEY: 50})]
    changes = run(samples)
    assert changes == [Change(KEY, "new"), Change(KEY, "lost"), Change(KEY, "back")]
    # lost at the first sample at least 0.8 s after the last movement (0.9 s)
    watch, lost_at = Watch(), None
    for now, counters in samples:
        watch, ch = observe(watch, counters, now, lost_after=0.8)
        if Change(KEY, "lost") in ch:
            lost_at = now
            assert lost_keys(watch) == {KEY}
    assert lost_at is not None and 0.8 <= lost_at - 0.9 + 1e-9 < 1.0


def test_our_own_stall_is_not_anyones_loss() -> None:
    # the sampler itself did not run for 2 s: nobody's frames were counted either
    changes = run([(0.0, {KEY: 1}), (0.1, {KEY: 2}), (2.1, {KEY: 2}), (2.2, {KEY: 3})])
    assert changes == [Change(KEY, "new")]


def test_a_gone_source_is_forgotten_and_new_again() -> None:
    changes = run([(0.0, {KEY: 1}), (0.1, {}), (0.2, {KEY: 2})])
    assert changes == [Change(KEY, "new"), Change(KEY, "new")]


def test_only_the_stopped_source_is_lost() -> None:
    other = "interpreter:b"
    samples = [(t / 10, {KEY: 3, other: t}) for t in range(12)]
    assert run(samples) == [Change(KEY, "new"), Change(other, "new"), Change(KEY, "lost")]


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def booth(live: str | None, connected: frozenset[str]) -> bc.Booth:
    return bc.Booth(
        id="zh",
        language="zh",
        members={"A": "a", "B": "b"},
        connected=connected,
        live=live,
        live_since=NOW if live else None,
    )


def test_restore_gives_the_mic_back_only_when_nobody_took_it() -> None:
    was = WasLive(booth="zh", at=10.0)
    back = booth(None, frozenset({"a", "b"}))
    assert restore_command(back, "a", was, 12.0) == bc.TakeMic(by="a")
    assert restore_command(booth("b", frozenset({"a", "b"})), "a", was, 12.0) is None
    assert restore_command(back, "a", None, 12.0) is None  # was not live
    assert restore_command(back, "a", was, 10.0 + 3600) is None  # too long ago
    assert restore_command(booth(None, frozenset({"b"})), "a", was, 12.0) is None


def _panel(*speakers: tuple[str, bool], pinned: str | None = None) -> fl.Floor:
    live = tuple(fl.Speaker(p, "en", NOW, muted=m) for p, m in speakers)
    return fl.Floor(language="en", live=live, active=live[0].person_id, pinned=pinned)


def test_a_lost_speaker_leaves_the_mix_and_the_screen_to_a_live_one() -> None:
    floor = _panel(("a", False), ("b", True), ("c", False))
    assert floor_shown(floor, frozenset()) == "a" and floor_muted(floor, frozenset()) == {"b"}
    # a is lost: out of the mix; the screen goes to the first unmuted live speaker, c
    assert floor_muted(floor, frozenset({"a"})) == {"a", "b"}
    assert floor_shown(floor, frozenset({"a"})) == "c"
    # c lost too: the muted b is still better than a frozen picture
    assert floor_shown(floor, frozenset({"a", "c"})) == "b"
    # everyone lost: the floor's own choice stays (nobody else to show)
    assert floor_shown(floor, frozenset({"a", "b", "c"})) == "a"
    # a lost speaker who is not shown changes nothing on screen; a pinned one is replaced
    assert floor_shown(floor, frozenset({"c"})) == "a"
    assert floor_shown(_panel(("a", False), ("b", False), pinned="b"), frozenset({"b"})) == "a"
    assert floor_shown(fl.Floor(language="en"), frozenset({"a"})) is None


def test_arrival_times_from_a_slow_sampler_still_date_by_the_packet() -> None:
    # Samples 0.3 s apart (a busy loop): the counter moved at 0.6 (last packet 0.32), so the
    # source is lost at 1.2 (0.88 s after its last packet), not at 1.5 (0.8 s after 0.6).
    samples = [(0.0, 1, 0.0), (0.3, 5, 0.29), (0.6, 6, 0.32), (0.9, 6, 0.32), (1.2, 6, 0.32)]
    watch, changes_at = Watch(), []
    for now, frames, arrival in samples:
        watch, changes = observe(watch, {KEY: frames}, now, arrivals={KEY: arrival})
        changes_at += [(now, c.kind) for c in changes]
    assert changes_at == [(0.0, "new"), (1.2, "lost")]


def test_an_arrival_time_from_the_future_is_clamped_to_now() -> None:
    watch, _ = observe(Watch(), {KEY: 1}, 0.0)
    watch, _ = observe(watch, {KEY: 2}, 0.1, arrivals={KEY: 5.0})
    assert watch.sources[KEY].since == 0.1
