"""Audio before video: when a listener's link cannot carry everything, stop their video first.

Input, about once a second per tab: the loss its receiver reports (RTCP receiver reports'
fraction lost) on the audio it gets and on the video it gets. Video is most of the bytes, so
when the link is lossy the server pauses that tab's video (only that tab's) before the
sound suffers, and tells the page: after two lossy reports a second apart, or at once on one
report that lost a fifth or more (a link far below what it is sent: every second of waiting
is a second of lost sound). Video comes back after the link has stayed clean for a
while; each pause that follows soon after a resume doubles that wait (no flapping between
"video" and "no video" on a link that only carries sound). Pure: samples and times in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

PAUSE_LOSS = 0.04  # video (or audio) loss at or above this is a link in trouble
PAUSE_AFTER = 1.0  # seconds of trouble before video pauses (two receiver reports)
SEVERE_LOSS = 0.2  # ... or at once, on one report losing this much
RESUME_LOSS = 0.01  # audio loss at or below this is a clean link
RESUME_AFTER = 10.0  # seconds of clean link before video returns (doubles per re-pause)
MAX_RESUME_AFTER = 120.0


@dataclass(frozen=True)
class Sample:
    """Fractions lost (0..1) the receiver reported since its previous report; None: no
    report (nothing sent on that kind, or none arrived yet)."""

    audio_loss: float | None
    video_loss: float | None


@dataclass(frozen=True)
class Link:
    paused: bool = False
    trouble_since: float | None = None
    clean_since: float | None = None
    resume_after: float = RESUME_AFTER
    resumed_at: float | None = None


Change = Literal["pause", "resume"]


def observe(
    link: Link,
    sample: Sample,
    now: float,
    *,
    pause_loss: float = PAUSE_LOSS,
    pause_after: float = PAUSE_AFTER,
    severe_loss: float = SEVERE_LOSS,
    resume_after: float = RESUME_AFTER,
) -> tuple[Link, Change | None]:
    """One sample at ``now`` (seconds): the new state and whether video pauses or resumes."""
    losses = [x for x in (sample.audio_loss, sample.video_loss) if x is not None]
    worst = max(losses) if losses else None
    if not link.paused:
        if worst is None or worst < pause_loss:
            return replace(link, trouble_since=None), None
        since = link.trouble_since if link.trouble_since is not None else now
        if now - since < pause_after and worst < severe_loss:
            return replace(link, trouble_since=since), None
        # A pause soon after a resume: the link cannot carry video; wait longer next time.
        wait = link.resume_after
        if link.resumed_at is not None and now - link.resumed_at < 3 * wait:
            wait = min(wait * 2, MAX_RESUME_AFTER)
        else:
            wait = resume_after
        return Link(paused=True, resume_after=wait, resumed_at=link.resumed_at), "pause"
    audio = sample.audio_loss
    if audio is None or audio > RESUME_LOSS:
        return replace(link, clean_since=None), None
    since = link.clean_since if link.clean_since is not None else now
    if now - since < link.resume_after:
        return replace(link, clean_since=since), None
    return Link(paused=False, resume_after=link.resume_after, resumed_at=now), "resume"


@dataclass(frozen=True)
class VideoReports:
    """Which receiver reports on a tab's video describe its link since its video resumed.

    A receiver report counts as lost every sequence number it has not seen since its last
    report. The first one after a resume counts the packets the weak link dropped just
    before the pause too (the receiver learns of them from the first packet after the
    resume): 16-25 % on a link that is clean again (measured), which would pause the video
    at once. So from a resume on, a report from before it and the first one after it are
    not used; the next one covers the resumed video alone."""

    resumed_at: datetime | None = None  # None: no resume yet, every report is current
    straddling: datetime | None = None  # the first report after the resume, once seen


def judge_video_report(reports: VideoReports, at: datetime | None) -> tuple[VideoReports, bool]:
    """Whether a video report received at ``at`` can be used, and the state after it."""
    if reports.resumed_at is None:
        return reports, True
    if at is None or at < reports.resumed_at:
        return reports, False
    if reports.straddling is None:
        return replace(reports, straddling=at), False
    return reports, at != reports.straddling
