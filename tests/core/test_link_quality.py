"""Audio before video: when a tab's video pauses and returns, with explicit times."""

from __future__ import annotations

from simultan.core.link_quality import Link, Sample, observe


def run(samples: list[tuple[float, Sample]], **kw: float) -> list[tuple[float, str]]:
    link, out = Link(), []
    for now, sample in samples:
        link, change = observe(link, sample, now, **kw)
        if change:
            out.append((now, change))
    return out


CLEAN = Sample(audio_loss=0.0, video_loss=0.0)
LOSSY = Sample(audio_loss=0.02, video_loss=0.12)
AUDIO_ONLY_CLEAN = Sample(audio_loss=0.0, video_loss=None)


def test_sustained_loss_pauses_video_then_a_clean_link_brings_it_back() -> None:
    samples = [(float(t), CLEAN) for t in range(3)]
    samples += [(3.0, LOSSY), (4.0, LOSSY), (5.0, LOSSY)]
    samples += [(6.0 + t, AUDIO_ONLY_CLEAN) for t in range(12)]
    assert run(samples, resume_after=10.0) == [(4.0, "pause"), (16.0, "resume")]


def test_a_single_lossy_report_is_not_enough() -> None:
    samples = [(0.0, CLEAN), (1.0, LOSSY), (2.0, CLEAN), (3.0, LOSSY), (4.0, CLEAN)]
    assert run(samples) == []


def test_one_report_of_severe_loss_pauses_at_once() -> None:
    # A link far below what it is sent (a 250 kbit/s link for ~700 kbit/s of video and sound)
    # loses most of the video: waiting for a second report costs a second of lost sound.
    severe = Sample(audio_loss=0.03, video_loss=0.2)
    assert run([(0.0, CLEAN), (1.0, severe)]) == [(1.0, "pause")]
    assert run([(0.0, CLEAN), (1.0, Sample(audio_loss=0.03, video_loss=0.19))]) == []


def test_no_reports_keep_things_as_they_are() -> None:
    assert run([(t / 2, Sample(None, None)) for t in range(20)]) == []


def test_audio_loss_alone_pauses_video_and_lossy_audio_keeps_it_paused() -> None:
    bad_audio = Sample(audio_loss=0.06, video_loss=None)
    samples = [(0.0, bad_audio), (1.0, bad_audio), (2.0, bad_audio)]
    samples += [(3.0 + t, Sample(audio_loss=0.03, video_loss=None)) for t in range(30)]
    assert run(samples) == [(1.0, "pause")]


def test_a_link_that_keeps_failing_waits_longer_each_time() -> None:
    link, t, waits, paused_at = Link(), 0.0, [], 0.0
    for _ in range(4):  # lossy until paused, clean until resumed, lossy again at once
        change = None
        while change != "pause":
            link, change = observe(link, LOSSY, t, resume_after=5.0)
            t += 1
        paused_at = t - 1
        while change != "resume":
            link, change = observe(link, AUDIO_ONLY_CLEAN, t, resume_after=5.0)
            t += 1
        waits.append(t - 1 - paused_at)
    assert waits[0] < waits[1] < waits[2] < waits[3], waits


def test_the_first_video_report_after_a_resume_is_not_used() -> None:
    from datetime import UTC, datetime, timedelta

    from simultan.core.link_quality import VideoReports, judge_video_report

    t0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    at = [t0 + timedelta(seconds=s) for s in (-0.5, 0.4, 1.4)]
    # Before any pause every report counts.
    assert judge_video_report(VideoReports(), at[0]) == (VideoReports(), True)
    reports = VideoReports(resumed_at=t0)
    reports, use = judge_video_report(reports, at[0])  # from before the resume
    assert not use
    reports, use = judge_video_report(reports, None)  # none yet
    assert not use
    reports, use = judge_video_report(reports, at[1])  # covers the pause: not used
    assert not use
    reports, use = judge_video_report(reports, at[1])  # the same report, sampled again
    assert not use
    reports, use = judge_video_report(reports, at[2])  # about the resumed video alone
    assert use
    reports, use = judge_video_report(reports, at[2])
    assert use
