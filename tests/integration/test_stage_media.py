"""The stage end to end: real /ws signaling, real aiortc peers, real routing, tones by FFT.

Every participant, panelist and interpreter here is a websocket client of a real server
(``start_server(..., media_enabled=True)``) plus one aiortc peer connection whose offer goes
through ``rtc_offer`` on /ws, exactly as a browser tab does. Interpreters publish a sine tone
each; what every listener hears is checked on the decoded audio.

Tones: floor 440 Hz, zh interpreters A 523 / B 587, ja 659, es 784.

Run inside a loopback-only namespace (see /work/shared/TESTING.md)::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/integration -q'

Measured figures are printed as ``MEASURED ...`` lines (visible with ``-s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition
from simultan.media.sfu import EmbeddedSfu
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, LiveServer, start_server
from tests.media.tones import RATE, Heard, Tab, ToneTrack, closest_tone, dominant_frequency

pytestmark = pytest.mark.media

FLOOR_HZ = 440.0
ZH_A_HZ = 523.0
ZH_B_HZ = 587.0
JA_HZ = 659.0
ES_HZ = 784.0
ALL_TONES = (FLOOR_HZ, ZH_A_HZ, ZH_B_HZ, JA_HZ, ES_HZ)

# Interpreter names from config/iuc-city-to-city.yaml: the stage seats them by name (es
# spelled in ASCII: the test helper derives an e-mail address from the name).
NAMES = {
    ("zh", "A"): "Li Wei",
    ("zh", "B"): "Zhang Min",
    ("ja", "A"): "Sato Yuki",
    ("ja", "B"): "Tanaka Ken",
    ("es", "A"): "Lucia Garcia",
    ("es", "B"): "Mateo Lopez",
}

TOLERANCE_HZ = 5.0
WARM_UP = 10.0  # seconds allowed for ICE + DTLS + first packets (normally well under 2 s)


def log_measure(what: str, **figures: float) -> None:
    text = " ".join(f"{k}={v:.1f}" for k, v in figures.items())
    print(f"MEASURED {what}: {text}")


# --- a tab: one /ws client plus one aiortc peer connection ---------------------------------


class OfferRefused(Exception):
    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(f"{reply.get('code')}: {reply.get('message')}")
        self.reply = reply


class Peer:
    """One browser tab: a /ws client whose every message is kept (with arrival time), and
    at most one aiortc peer connection negotiated through ``rtc_offer``."""

    def __init__(self, server: LiveServer, name: str, person_id: str, client: Any) -> None:
        self.server = server
        self.name = name
        self.id = person_id
        self.client = client
        self.inbox: list[tuple[float, dict[str, Any]]] = []
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._n = 0
        self.tab: WsTab | None = None
        self.session_id: str | None = None  # the server's media session (its connection id)
        self.token = ""
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.client.ws:
                msg = json.loads(raw)
                self.inbox.append((time.monotonic(), msg))
                rid = msg.get("request_id")
                if msg["type"] != "event" and rid in self._waiting:
                    future = self._waiting.pop(rid)
                    if not future.done():
                        future.set_result(msg)

    @property
    def open(self) -> bool:
        return not self.reader.done()

    async def request(self, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        self._n += 1
        rid = f"{self.name}-{self._n}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        await self.client.send({**message, "request_id": rid})
        return await asyncio.wait_for(future, timeout)

    async def ok(self, message: dict[str, Any]) -> dict[str, Any]:
        reply = await self.request(message)
        assert reply["type"] == "reply", reply
        return reply

    async def wait_message(
        self, predicate: Callable[[dict[str, Any]], bool], *, since: int = 0, timeout: float = 5.0
    ) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            for at, msg in self.inbox[since:]:
                if predicate(msg):
                    return at, msg
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no matching message within {timeout} s")
            await asyncio.sleep(0.02)

    async def offer(
        self,
        *,
        publish: str | None = None,
        channel: str | None = None,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        decode_video: bool = False,
        member_slots: int = 0,
    ) -> WsTab:
        """Create this tab's peer connection and negotiate it over /ws (``member_slots``
        receive-only member audio m-lines after the plenary ones, for groups)."""
        tab = WsTab(
            self,
            publish=publish,
            channel=channel,
            audio=audio,
            video=video,
            decode_video=decode_video,
            member_slots=member_slots,
        )
        self.tab = tab
        media = self.server.app[SESSION].stage.media
        before = set(media.session_ids()) if isinstance(media, EmbeddedSfu) else set()
        await tab.connect()
        if isinstance(media, EmbeddedSfu):
            new = set(media.session_ids()) - before  # empty for a re-offer on the same socket
            self.session_id = new.pop() if new else self.session_id
        return tab

    async def close(self) -> None:
        if self.tab is not None:
            await self.tab.close()
        await self.client.close()
        await asyncio.gather(self.reader, return_exceptions=True)


class WsTab(Tab):
    """The media side of a :class:`Peer`: ``tests.media.tones.Tab`` (video, program, channel
    m-lines, decoding what it receives) signaled through /ws instead of the SFU's API."""

    def __init__(
        self,
        peer: Peer,
        *,
        publish: str | None,
        channel: str | None,
        audio: MediaStreamTrack | None,
        video: MediaStreamTrack | None = None,
        decode_video: bool = False,
        member_slots: int = 0,
    ) -> None:
        super().__init__(
            None,  # type: ignore[arg-type]
            peer.name,
            publish=publish,
            channel=channel,
            audio=audio,
            video=video,
            decode_video=decode_video,
            member_slots=member_slots,
        )
        self.peer = peer
        self.answer: str | None = None

    def offer_message(self, sdp: str) -> dict[str, Any]:
        return {"type": "rtc_offer", "sdp": sdp, "publish": self.publish, "channel": self.channel}

    async def connect(self, *, listen_to_floor_video: bool = True) -> str:
        if self.pc.localDescription is None or self.pc.signalingState == "stable":
            await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.peer.request(self.offer_message(self.pc.localDescription.sdp))
        if reply["type"] != "rtc_answer":
            raise OfferRefused(reply)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        self.answer = reply["sdp"]
        self._start_readers()
        return reply["sdp"]


# --- the stage: a real server with media, and people joining it ----------------------------


class Stage:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.peers: list[Peer] = []

    @property
    def sfu(self) -> EmbeddedSfu:
        media = self.server.app[SESSION].stage.media
        assert isinstance(media, EmbeddedSfu)
        return media

    async def join(
        self, role: Role | str, name: str, *, booth: str | None = None, language: str = "en"
    ) -> Peer:
        person_id, token = await self.server.person(role, name, booth=booth, language=language)
        client = await self.server.connect(token)
        peer = Peer(self.server, name.split()[0].lower(), person_id, client)
        peer.token = token
        self.peers.append(peer)
        _, welcome = await peer.wait_message(lambda m: m["type"] in ("welcome", "error"))
        assert welcome["type"] == "welcome", welcome
        return peer

    async def listener(self, channel: str, name: str | None = None) -> Peer:
        peer = await self.join(Role.PARTICIPANT, name or f"Listener {channel}", language=channel)
        await peer.offer(channel=channel)
        return peer

    async def interpreter(self, booth: str, seat: str, tone: float, *, take: bool = False) -> Peer:
        peer = await self.join(Role.INTERPRETER, NAMES[(booth, seat)], booth=booth, language=booth)
        await peer.offer(publish="booth", audio=ToneTrack(tone))
        if take:
            await peer.ok({"type": "booth", "booth": booth, "action": "take"})
        return peer

    def local_floor(self) -> None:
        """A server-side floor source (no panelist): a 440 Hz tone."""
        self.sfu.add_local_source("floor", ToneTrack(FLOOR_HZ), None)

    async def panelist_floor(self, moderator: Peer) -> Peer:
        """A panelist is given the floor by the moderator, then publishes 440 Hz to it."""
        panelist = await self.join(Role.PANELIST, "Pat Panelist")
        await moderator.ok({"type": "floor", "person_id": panelist.id})
        await panelist.offer(publish="floor", channel="en", audio=ToneTrack(FLOOR_HZ))
        return panelist

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.peers), return_exceptions=True)


@pytest.fixture
async def stage(tmp_path: Path, clock: FakeClock, seminar: EventDefinition) -> AsyncIterator[Stage]:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True)
    assert server.settings.ice_host_addresses == ("127.0.0.1",)
    st = Stage(server)
    try:
        yield st
    finally:
        await st.close()
        await runner.cleanup()


# --- what a track carries -----------------------------------------------------------------


async def until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
    return time.monotonic() - start


def tone_of(heard: Heard, seconds: float = 0.5) -> float:
    """The dominant frequency of the last ``seconds`` of a track (0 when nothing came)."""
    return dominant_frequency(heard.recent(seconds))


async def settled(heard: Heard, tone: float, timeout: float = 3.0) -> None:
    """Wait until the last half second of ``heard`` is ``tone``."""
    try:
        await until(lambda: abs(tone_of(heard) - tone) < TOLERANCE_HZ, timeout, 0.05)
    except AssertionError:
        raise AssertionError(
            f"expected {tone} Hz, heard {tone_of(heard):.1f} Hz ({heard.packets} packets)"
        ) from None


async def zh_pair_with_listener(stage: Stage) -> tuple[Peer, Peer, Peer, Heard]:
    """The floor, zh interpreters A (live) and B, and one zh listener already hearing A."""
    stage.local_floor()
    a = await stage.interpreter("zh", "A", ZH_A_HZ, take=True)
    b = await stage.interpreter("zh", "B", ZH_B_HZ)
    listener = await stage.listener("zh")
    heard = listener.tab.channel_audio  # type: ignore[union-attr]
    await until(lambda: heard.packets > 30, WARM_UP)
    await settled(heard, ZH_A_HZ)
    return a, b, listener, heard


def first_run(heard: Heard, tone: float, *, after: float, run: int = 5) -> float | None:
    """Arrival time of the first of ``run`` consecutive frames whose closest tone (among
    every tone in the test) is ``tone``."""
    return heard.first_heard(tone, after=after, run=run, among=ALL_TONES)


def tone_levels(samples: np.ndarray, freqs: tuple[float, ...]) -> np.ndarray:
    """Amplitude of each of ``freqs`` in ``samples``, by a joint least-squares sine fit.

    Unlike FFT bins (50 Hz apart for 20 ms), the joint fit separates 523 from 587 Hz in a
    single 20 ms window: a window carrying both shows two non-zero amplitudes.

    The fit's matrix depends only on the window's length and the frequencies, so its
    pseudo-inverse is computed once: a fit is then one matrix-vector product (~50 us for
    0.4 s), where ``np.linalg.lstsq`` took ~70 ms of CPU. Tests poll this every 20 ms on
    the event loop their in-process peers run on: at 70 ms a poll, the analysis itself
    starved the peers it was judging."""
    coef = _fit_matrix(samples.size, tuple(freqs)) @ samples.astype(np.float64)
    return np.hypot(coef[1::2], coef[2::2])


@functools.lru_cache(maxsize=64)
def _fit_matrix(size: int, freqs: tuple[float, ...]) -> np.ndarray:
    """The pseudo-inverse of [1, sin, cos per frequency] over ``size`` samples."""
    t = np.arange(size) / RATE
    columns = [np.ones_like(t)]
    for f in freqs:
        columns += [np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)]
    fit = np.linalg.pinv(np.stack(columns, axis=1))
    fit.setflags(write=False)
    return fit


@dataclass
class Transition:
    switch_ms: float  # from the command to the first frame of the new tone (wall clock)
    gap_ms: float  # media time between the last old-tone frame and the first new-tone frame
    overlap_ms: float  # total length of frames in which both tones are heard
    longest_silence_ms: float  # longest silent (or missing) stretch around the switch
    worst_mix: float  # largest min(old, new) level in one frame, relative to the old level
    flips: int  # changes between old-only and new-only frames (1: one clean switch)


def transition(
    heard: Heard,
    old: float,
    new: float,
    t0: float,
    *,
    since: float | None = None,
    span: float = 1.0,
) -> Transition:
    """Analyse a switch from ``old`` to ``new`` at wall-clock ``t0``, frame by 20 ms frame,
    from ``since`` (default: ``span`` seconds before ``t0``).

    Windows are the decoded frames themselves: each forwarded packet comes from one source,
    so a frame carrying both tones is real mixing, while a window straddling two frames
    would show both tones even for a perfect cut. Within a 20 ms window an FFT's bins are
    50 Hz apart (with a Hann window its peaks are 200 Hz wide), too coarse to tell 523 from
    587 Hz; the joint sine fit of :func:`tone_levels` separates them."""
    rows = [
        (arrival, pts, samples)
        for (arrival, pts), (_, samples) in zip(
            list(heard.timestamps), list(heard.frames), strict=True
        )
        if (t0 - span if since is None else since) <= arrival <= t0 + span + 1.0 and samples.size
    ]
    assert rows, "no frames around the switch"
    freqs = (old, new, *(f for f in ALL_TONES if f not in (old, new)))
    levels = [tone_levels(s, freqs) for _, _, s in rows]
    nominal = float(
        np.median([lv[0] for (a, _, _), lv in zip(rows, levels, strict=True) if a < t0])
    )
    assert nominal > 0.05, f"the old tone was not playing before the switch ({nominal:.3f})"
    threshold = 0.3 * nominal
    old_on = [lv[0] > threshold for lv in levels]
    new_on = [lv[1] > threshold for lv in levels]
    silent = [float(np.sqrt(np.mean(np.square(s)))) < 0.05 * nominal for _, _, s in rows]
    first_new = next(
        (i for i, (row, on) in enumerate(zip(rows, new_on, strict=True)) if on and row[0] >= t0),
        None,
    )
    assert first_new is not None, "the new tone never came"
    last_old = max((i for i in range(first_new) if old_on[i]), default=None)
    assert last_old is not None, "no old-tone frame before the new tone"
    frame = rows[0][2].size
    gap = (rows[first_new][1] - rows[last_old][1] - frame) / RATE * 1000
    overlap = sum(1 for o, n in zip(old_on, new_on, strict=True) if o and n) * frame / RATE * 1000
    worst = max(min(lv[0], lv[1]) for lv in levels) / nominal
    # Silence: silent frames plus media time that never arrived (a jump in pts).
    longest = run = 0.0
    for i, (_, pts, s) in enumerate(rows):
        missing = 0.0 if i == 0 else (pts - rows[i - 1][1] - frame) / RATE * 1000
        if missing > 0:
            run += missing
        if silent[i]:
            run += s.size / RATE * 1000
        else:
            longest, run = max(longest, run), 0.0
    longest = max(longest, run)
    return Transition(
        switch_ms=(rows[first_new][0] - t0) * 1000,
        gap_ms=gap,
        overlap_ms=overlap,
        longest_silence_ms=longest,
        worst_mix=worst,
        flips=_flips(old_on, new_on),
    )


def _flips(old_on: list[bool], new_on: list[bool]) -> int:
    sides = [o for o, n in zip(old_on, new_on, strict=True) if o != n]
    return sum(1 for x, y in itertools.pairwise(sides) if x != y)


def booth_state(event: dict[str, Any]) -> dict[str, Any]:
    return event["booth"]


def change_kinds(event: dict[str, Any]) -> list[str]:
    return [c["kind"] for c in event["changes"]]


# --- 1. every channel carries its booth, or the floor -------------------------------------


async def test_listeners_hear_their_channel_and_empty_booths_carry_the_floor(stage: Stage) -> None:
    moderator = await stage.join(Role.MODERATOR, "Mo Derator")
    await stage.panelist_floor(moderator)
    interpreters = {
        "zh": await stage.interpreter("zh", "A", ZH_A_HZ),
        "ja": await stage.interpreter("ja", "A", JA_HZ),
        "es": await stage.interpreter("es", "A", ES_HZ),
    }
    listeners = {lang: await stage.listener(lang) for lang in ("en", "zh", "ja", "es")}
    for peer in [*listeners.values(), *interpreters.values()]:
        assert peer.tab is not None and peer.tab.answer is not None
        hosts = {
            c.ip for m in SessionDescription.parse(peer.tab.answer).media for c in m.ice_candidates
        }
        assert hosts == {"127.0.0.1"}  # media stays on loopback

    # Connected but nobody took the mic: every channel carries the floor.
    await until(
        lambda: all(p.tab.channel_audio.packets > 30 for p in listeners.values()),  # type: ignore[union-attr]
        WARM_UP,
    )
    for peer in listeners.values():
        assert peer.tab is not None
        await settled(peer.tab.channel_audio, FLOOR_HZ)
        await settled(peer.tab.program, FLOOR_HZ)

    # Each interpreter takes the mic: each channel carries its booth.
    for lang, peer in interpreters.items():
        await peer.ok({"type": "booth", "booth": lang, "action": "take"})
    expected = {"en": FLOOR_HZ, "zh": ZH_A_HZ, "ja": JA_HZ, "es": ES_HZ}
    for lang, peer in listeners.items():
        assert peer.tab is not None
        await settled(peer.tab.channel_audio, expected[lang])
        assert abs(tone_of(peer.tab.program) - FLOOR_HZ) < TOLERANCE_HZ, lang
    for peer in interpreters.values():  # every booth works from the floor
        assert peer.tab is not None
        await settled(peer.tab.program, FLOOR_HZ)
    routes = stage.sfu.routes
    assert routes["zh"] == f"interpreter:{interpreters['zh'].id}"

    # The es interpreter releases the mic: nobody is live in es, its channel gets the floor.
    released = time.monotonic()
    await interpreters["es"].ok({"type": "booth", "booth": "es", "action": "release"})
    es = listeners["es"].tab
    assert es is not None
    await until(lambda: first_run(es.channel_audio, FLOOR_HZ, after=released) is not None, 3)
    await settled(es.channel_audio, FLOOR_HZ)
    for lang in ("en", "zh", "ja"):
        assert abs(tone_of(listeners[lang].tab.channel_audio) - expected[lang]) < TOLERANCE_HZ  # type: ignore[union-attr]


# --- 2. handover inside the zh booth ---------------------------------------------------


async def test_handover_in_booth_has_no_overlap_and_no_gap(stage: Stage) -> None:
    a, b, listener, heard = await zh_pair_with_listener(stage)
    # Each interpreter hears the floor on the program track and the partner on the second.
    assert a.tab is not None and b.tab is not None
    await settled(a.tab.program, FLOOR_HZ)
    await settled(a.tab.channel_audio, ZH_B_HZ)
    await settled(b.tab.channel_audio, ZH_A_HZ)

    # B requests the mic; both see the pending request.
    mark_a, mark_b = len(a.inbox), len(b.inbox)
    await b.ok({"type": "booth", "booth": "zh", "action": "request"})
    for peer, mark in ((a, mark_a), (b, mark_b)):
        _, msg = await peer.wait_message(
            lambda m: m["type"] == "event" and m["name"] == "booth", since=mark
        )
        state = booth_state(msg["data"])
        assert change_kinds(msg["data"]) == ["handover_requested"]
        assert state["pending"]["kind"] == "request"
        assert state["pending"]["from_person"] == a.id and state["pending"]["to_person"] == b.id
        assert state["live"] == a.id
    await asyncio.sleep(0.3)
    assert abs(tone_of(heard, 0.3) - ZH_A_HZ) < TOLERANCE_HZ  # a request moves nothing

    # A accepts: the mic moves to B in one step.
    mark_a, mark_b = len(a.inbox), len(b.inbox)
    t0 = time.monotonic()
    await a.ok({"type": "booth", "booth": "zh", "action": "accept"})
    for peer, mark in ((a, mark_a), (b, mark_b)):
        _, msg = await peer.wait_message(
            lambda m: m["type"] == "event" and m["name"] == "booth", since=mark
        )
        # The documented order (core/booths.py): the outgoing goes off, then the incoming
        # goes live, at the same instant.
        assert change_kinds(msg["data"]) == ["handover_accepted", "mic_off", "mic_live"], (
            peer.name,
            msg["data"]["changes"],
        )
        state = booth_state(msg["data"])
        assert state["live"] == b.id and state["pending"] is None
    await until(lambda: first_run(heard, ZH_B_HZ, after=t0) is not None, 3)
    await asyncio.sleep(0.6)
    first = transition(heard, ZH_A_HZ, ZH_B_HZ, t0)
    log_measure("handover A->B (request/accept)", **vars(first))
    await settled(heard, ZH_B_HZ)
    # B only from here (the last 15 of the frames just heard as B, by their arrival, not
    # the clock: a stalled loop delivers none meanwhile): the first switch is kept out of
    # the second, and its window still starts with B.
    calm = heard.timestamps[-15][0]

    # And back: B offers the mic to A, A accepts.
    mark_a = len(a.inbox)
    await b.ok({"type": "booth", "booth": "zh", "action": "offer", "to": a.id})
    _, msg = await a.wait_message(
        lambda m: m["type"] == "event" and m["name"] == "booth", since=mark_a
    )
    assert change_kinds(msg["data"]) == ["handover_offered"]
    assert booth_state(msg["data"])["pending"]["kind"] == "offer"
    t1 = time.monotonic()
    await a.ok({"type": "booth", "booth": "zh", "action": "accept"})
    await until(lambda: first_run(heard, ZH_A_HZ, after=t1) is not None, 3)
    await asyncio.sleep(0.6)
    back = transition(heard, ZH_B_HZ, ZH_A_HZ, t1, since=calm)
    log_measure("handover B->A (offer/accept)", **vars(back))

    # What the listener never got (sequence gaps) and what the feeds' lag gate dropped on
    # purpose: a silence in the window with no gap at the switch is one of these.
    late = {k: v.late_drops for k, v in stage.sfu.stats().sources.items() if v.late_drops}
    for t in (first, back):
        assert t.overlap_ms == 0, t
        assert t.flips == 1, t
        assert t.gap_ms < 200, t
        assert t.longest_silence_ms < 200, (t, f"lost {heard.lost}", f"late drops {late}")
        assert t.switch_ms < 1000, t


# --- 3. relay through the ja booth ---------------------------------------------------------


async def test_relay_when_the_floor_speaks_japanese(stage: Stage) -> None:
    moderator = await stage.join(Role.MODERATOR, "Mo Derator")
    stage.local_floor()
    zh = await stage.interpreter("zh", "A", ZH_A_HZ, take=True)
    ja = await stage.interpreter("ja", "A", JA_HZ, take=True)
    es = await stage.interpreter("es", "A", ES_HZ, take=True)
    ja_listener = await stage.listener("ja")
    en_listener = await stage.listener("en")
    zh_listener = await stage.listener("zh")
    heard_zh = zh_listener.tab.channel_audio  # type: ignore[union-attr]
    heard_ja = ja_listener.tab.channel_audio  # type: ignore[union-attr]
    heard_en = en_listener.tab.channel_audio  # type: ignore[union-attr]
    program = {p: p.tab.program for p in (zh, ja, es)}  # type: ignore[union-attr]
    await until(
        lambda: heard_ja.packets > 30 and all(h.packets > 30 for h in program.values()), WARM_UP
    )
    await settled(heard_ja, JA_HZ)
    for heard in program.values():
        await settled(heard, FLOOR_HZ)

    mark = len(zh.inbox)
    t0 = time.monotonic()
    await moderator.ok({"type": "floor_language", "language": "ja"})
    _, msg = await zh.wait_message(
        lambda m: m["type"] == "event" and m["name"] == "floor", since=mark
    )
    assert msg["data"]["floor"]["language"] == "ja"
    assert msg["data"]["routing"]["pivot"] == "ja"
    await settled(heard_ja, FLOOR_HZ)  # the ja channel carries the floor itself
    await settled(program[zh], JA_HZ)  # zh and es interpret from the ja booth's relay
    await settled(program[es], JA_HZ)
    await settled(program[ja], FLOOR_HZ)  # the pivot booth hears the floor
    relay_at = first_run(program[zh], JA_HZ, after=t0)
    assert relay_at is not None
    log_measure("relay on", zh_program_switch_ms=(relay_at - t0) * 1000)

    await settled(heard_en, JA_HZ)  # ja works into English (retour): en hears its rendering
    assert abs(tone_of(heard_zh) - ZH_A_HZ) < TOLERANCE_HZ  # zh still carries its interpreter
    # Nobody live in zh during relay: zh listeners get the relay (ja), not the Japanese floor.
    await zh.ok({"type": "booth", "booth": "zh", "action": "release"})
    await settled(heard_zh, JA_HZ)
    await zh.ok({"type": "booth", "booth": "zh", "action": "take"})
    await settled(heard_zh, ZH_A_HZ)

    await moderator.ok({"type": "floor_language", "language": "en"})
    await settled(heard_ja, JA_HZ)
    await settled(program[zh], FLOOR_HZ)
    await settled(program[es], FLOOR_HZ)

    # es is a retour booth: with the floor speaking Spanish, its rendering feeds the en
    # channel and every other booth; the es channel carries the floor itself.
    await moderator.ok({"type": "floor_language", "language": "es"})
    await settled(heard_en, ES_HZ)
    await settled(program[zh], ES_HZ)
    await settled(program[ja], ES_HZ)
    await settled(program[es], FLOOR_HZ)
    await moderator.ok({"type": "floor_language", "language": "en"})
    await settled(heard_en, FLOOR_HZ)
    await settled(program[ja], FLOOR_HZ)


async def test_an_interpreter_chooses_relay_or_the_floor_by_hand(stage: Stage) -> None:
    """The console's manual override (booth_source): the zh booth takes relay from the ja
    booth while the floor speaks English, back to the floor, then automatic again; bad
    choices get typed errors and change nothing; listeners' channels never move."""
    stage.local_floor()
    zh = await stage.interpreter("zh", "A", ZH_A_HZ, take=True)
    ja = await stage.interpreter("ja", "A", JA_HZ, take=True)
    participant = await stage.join(Role.PARTICIPANT, "Pat Listener", language="zh")
    zh_listener = await stage.listener("zh")
    heard = zh_listener.tab.channel_audio  # type: ignore[union-attr]
    program = zh.tab.program  # type: ignore[union-attr]
    try:
        await until(lambda: program.packets > 30 and heard.packets > 30, WARM_UP)
    except AssertionError:
        raise AssertionError(f"program {program.packets}, channel {heard.packets}") from None
    await settled(program, FLOOR_HZ)  # automatic: the floor speaks English

    mark = len(zh.inbox)
    reply = await zh.ok({"type": "booth_source", "booth": "zh", "source": "ja"})
    assert reply["data"]["hear_choice"] == "ja"
    _, event = await zh.wait_message(
        lambda m: m["type"] == "event" and m["name"] == "booth", since=mark
    )
    assert event["data"]["booth"]["hear_choice"] == "ja"
    assert event["data"]["routing"]["booth_hears"]["zh"]["booth"] == "ja"
    await settled(program, JA_HZ)  # relay from the ja booth, by hand
    assert abs(tone_of(heard) - ZH_A_HZ) < TOLERANCE_HZ  # zh listeners still hear zh
    # the ja interpreter leaves the mic: relay from an empty booth is the floor, not silence
    await ja.ok({"type": "booth", "booth": "ja", "action": "release"})
    await settled(program, FLOOR_HZ)
    await ja.ok({"type": "booth", "booth": "ja", "action": "take"})
    await settled(program, JA_HZ)

    # typed errors, nothing changes
    for message, code in [
        ({"type": "booth_source", "booth": "zh", "source": "zh"}, "invalid_command"),
        ({"type": "booth_source", "booth": "zh", "source": "fr"}, "invalid_command"),
        ({"type": "booth_source", "booth": "ja", "source": "floor"}, "forbidden"),
        ({"type": "booth_source", "booth": "zh", "source": ""}, "bad_message"),
    ]:
        error = await zh.request(message)
        assert error["type"] == "error" and error["code"] == code, (message, error)
    error = await participant.request({"type": "booth_source", "booth": "zh", "source": "floor"})
    assert error["type"] == "error" and error["code"] == "forbidden"
    assert stage.server.app[SESSION].stage.choices == {"zh": "ja"}
    # the same choice again: a reply, no event
    seq = stage.server.app[SESSION].hub.seq
    await zh.ok({"type": "booth_source", "booth": "zh", "source": "ja"})
    assert stage.server.app[SESSION].hub.seq == seq

    await zh.ok({"type": "booth_source", "booth": "zh", "source": "floor"})
    await settled(program, FLOOR_HZ)
    await zh.ok({"type": "booth_source", "booth": "zh", "source": "auto"})
    assert stage.server.app[SESSION].stage.choices == {}
    await settled(program, FLOOR_HZ)


# --- 4. an interpreter's media dies -----------------------------------------------------------


@pytest.mark.parametrize("how", ["peer_connection", "tab_closed"])
async def test_live_interpreter_lost_then_floor_and_partner_offered(stage: Stage, how: str) -> None:
    a, b, listener, heard = await zh_pair_with_listener(stage)

    mark = len(b.inbox)
    t0 = time.monotonic()
    assert a.tab is not None
    await a.tab.close()
    if how == "tab_closed":  # both go (a websocket alone closing keeps the media: grace)
        await a.client.close()
    await until(lambda: first_run(heard, FLOOR_HZ, after=t0) is not None, 4)
    fallback = first_run(heard, FLOOR_HZ, after=t0)
    assert fallback is not None
    log_measure(f"fallback to floor ({how})", fallback_ms=(fallback - t0) * 1000)
    assert fallback - t0 < 2.0

    _, msg = await b.wait_message(
        lambda m: (
            m["type"] == "event"
            and m["name"] == "booth"
            and "handover_offered" in change_kinds(m["data"])
        ),
        since=mark,
    )
    assert change_kinds(msg["data"]) == ["mic_off", "member_disconnected", "handover_offered"]
    state = booth_state(msg["data"])
    assert state["live"] is None
    assert state["pending"] == {
        "from_person": None,
        "to_person": b.id,
        "kind": "offer",
        "since": state["pending"]["since"],
    }
    assert [m["connected"] for m in state["members"] if m["person"] == a.id] == [False]
    if how == "peer_connection":  # losing media does not drop the control connection
        assert a.open and (await a.request({"type": "ping"}))["type"] == "pong"

    # B accepts the booth's offer: zh listeners hear B.
    await b.ok({"type": "booth", "booth": "zh", "action": "accept"})
    await settled(heard, ZH_B_HZ)

    if how == "peer_connection":
        # A's tab makes a new peer connection on the same socket: A is back in the booth
        # (B hears A as partner again) and can be handed the mic.
        mark = len(b.inbox)
        await a.offer(publish="booth", audio=ToneTrack(ZH_A_HZ))
        _, msg = await b.wait_message(
            lambda m: m["type"] == "event" and m["name"] == "booth", since=mark
        )
        assert change_kinds(msg["data"]) == ["member_connected"]
        assert b.tab is not None
        await settled(b.tab.channel_audio, ZH_A_HZ)
        await b.ok({"type": "booth", "booth": "zh", "action": "offer", "to": a.id})
        await a.ok({"type": "booth", "booth": "zh", "action": "accept"})
        await settled(heard, ZH_A_HZ)


# --- 5. who may publish, and bad offers ---------------------------------------------------


async def _raw_offer(peer: Peer, **fields: Any) -> dict[str, Any]:
    tab = WsTab(peer, publish=None, channel=None, audio=ToneTrack(1000.0))
    try:
        await tab.pc.setLocalDescription(await tab.pc.createOffer())
        return await peer.request(
            {"type": "rtc_offer", "sdp": tab.pc.localDescription.sdp, **fields}
        )
    finally:
        await tab.close()


async def test_publishing_needs_a_seat_or_the_floor_and_bad_offers_are_refused(
    stage: Stage,
) -> None:
    moderator = await stage.join(Role.MODERATOR, "Mo Derator")
    participant = await stage.join(Role.PARTICIPANT, "Paula Participant")
    panelist = await stage.join(Role.PANELIST, "Pat Panelist")
    sessions = len(stage.sfu.session_ids())

    reply = await _raw_offer(participant, publish="booth", channel="zh")
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    reply = await _raw_offer(panelist, publish="floor", channel="en")
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    assert "floor" in reply["message"]
    # Holding no floor, a moderator may not publish to it either; an interpreter never may.
    reply = await _raw_offer(moderator, publish="floor", channel="en")
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    interpreter = await stage.join(Role.INTERPRETER, "Li Wei", booth="zh", language="zh")
    reply = await _raw_offer(interpreter, publish="floor", channel="zh")
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    assert len(stage.sfu.session_ids()) == sessions  # no peer connection was made for them

    # An SDP over max_sdp_bytes (but a frame under max_message_bytes), then a frame over it.
    tab = WsTab(participant, publish=None, channel="zh", audio=None)
    participant.tab = tab
    await tab.pc.setLocalDescription(await tab.pc.createOffer())
    sdp = tab.pc.localDescription.sdp
    limit = stage.server.settings.max_sdp_bytes
    padding = "".join(f"a=x-padding:{'x' * 60}\r\n" for _ in range(limit // 60 + 1))
    reply = await participant.request({"type": "rtc_offer", "sdp": sdp + padding})
    assert reply["type"] == "error" and reply["code"] == "bad_message", reply
    too_big = "a=x-padding:" + "y" * stage.server.settings.max_message_bytes + "\r\n"
    reply = await participant.request({"type": "rtc_offer", "sdp": sdp + too_big})
    assert reply["type"] == "error" and reply["code"] == "bad_message", reply
    # The socket stays open and usable: a ping, then the same offer at a sane size works.
    assert (await participant.request({"type": "ping"}))["type"] == "pong"
    assert participant.open
    reply = await participant.request(tab.offer_message(sdp))
    assert reply["type"] == "rtc_answer", reply

    # Once given the floor, the panelist may publish.
    await moderator.ok({"type": "floor", "person_id": panelist.id})
    await panelist.offer(publish="floor", channel="en", audio=ToneTrack(FLOOR_HZ))
    speaker = f"speaker:{panelist.id}"
    await until(lambda: speaker in stage.sfu.stats().sources, WARM_UP)
    assert "floor" in stage.sfu.stats().sources  # the mix of the live speakers

    # A listener whose offer sends audio anyway (publish null) is refused that m-line:
    # nobody can hear it, and the listener still hears the floor.
    rogue = await stage.join(Role.PARTICIPANT, "Rob Rogue")
    rogue_tab = await rogue.offer(channel="en", audio=ToneTrack(1000.0))
    audio = [m for m in SessionDescription.parse(rogue_tab.answer or "").media if m.kind == "audio"]
    assert audio[0].direction == "sendonly"
    await until(lambda: rogue_tab.channel_audio.packets > 30, WARM_UP)
    await settled(rogue_tab.channel_audio, FLOOR_HZ)
    assert set(stage.sfu.stats().sources) == {"floor", speaker, f"floor-minus:{speaker}"}


# --- 6. a listener switches channel ------------------------------------------------------------


async def test_select_channel_switches_without_renegotiation(stage: Stage) -> None:
    stage.local_floor()
    await stage.interpreter("zh", "A", ZH_A_HZ, take=True)
    await stage.interpreter("es", "A", ES_HZ, take=True)
    listener = await stage.listener("zh")
    tab = listener.tab
    assert tab is not None
    heard = tab.channel_audio
    await until(lambda: heard.packets > 30, WARM_UP)
    await settled(heard, ZH_A_HZ)
    assert listener.session_id is not None
    server_pc = stage.sfu._sessions[listener.session_id].pc
    server_sdp = server_pc.localDescription.sdp
    remote_before = tab.pc.remoteDescription.sdp
    answers_before = sum(1 for _, m in listener.inbox if m["type"] == "rtc_answer")

    t0 = time.monotonic()
    reply = await listener.ok({"type": "select_channel", "channel": "es"})
    assert reply["data"] == {"channel": "es"}
    await until(lambda: first_run(heard, ES_HZ, after=t0) is not None, 3)
    switched = first_run(heard, ES_HZ, after=t0)
    assert switched is not None
    log_measure("select_channel zh->es", switch_ms=(switched - t0) * 1000)
    assert switched - t0 < 0.5
    await asyncio.sleep(0.4)
    t = transition(heard, ZH_A_HZ, ES_HZ, t0)
    log_measure("select_channel zh->es detail", **vars(t))
    assert t.longest_silence_ms < 200
    # No renegotiation: no new answer, same descriptions on both sides.
    assert sum(1 for _, m in listener.inbox if m["type"] == "rtc_answer") == answers_before
    assert tab.pc.remoteDescription.sdp == remote_before
    assert tab.pc.signalingState == "stable"
    assert stage.sfu._sessions[listener.session_id].pc is server_pc
    assert server_pc.localDescription.sdp == server_sdp
    assert abs(tone_of(tab.program) - FLOOR_HZ) < TOLERANCE_HZ  # the floor track is untouched


# --- 7. the floor taken back ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["taken_back", "given_to_another"])
async def test_floor_taken_away_stops_the_former_holders_media(stage: Stage, how: str) -> None:
    moderator = await stage.join(Role.MODERATOR, "Mo Derator")
    panelist = await stage.panelist_floor(moderator)
    other = await stage.join(Role.PANELIST, "Olga Other")
    listener = await stage.listener("en")
    heard = listener.tab.program  # type: ignore[union-attr]
    await until(lambda: heard.packets > 30, WARM_UP)
    await settled(heard, FLOOR_HZ)

    t0 = time.monotonic()
    await moderator.ok({"type": "floor", "person_id": None if how == "taken_back" else other.id})
    await asyncio.sleep(1.5)
    # Whatever was in flight is gone after 0.8 s (the floor mix adds its decode jitter buffer
    # and one encode to the forwarding path; 3 frames were seen just past 0.5 s); from then on
    # nothing of the former holder may reach anyone (their tab may well go on sending).
    late = [s for at, s in list(heard.frames) if at > t0 + 0.8]
    still = [s for s in late if closest_tone(s, ALL_TONES) == FLOOR_HZ]
    log_measure(f"floor {how}", frames_still_heard=len(still))
    assert still == [], f"{len(still)} frames of the former floor holder after 0.8 s"

    # Given the floor again, the same tab renegotiates and is heard again.
    await moderator.ok({"type": "floor", "person_id": panelist.id})
    assert panelist.tab is not None
    await panelist.tab.connect()
    await settled(heard, FLOOR_HZ)


# --- 8. no dead air when the mic goes to someone without media ----------------------------


async def test_mic_never_goes_to_an_interpreter_without_media(stage: Stage) -> None:
    stage.local_floor()
    a = await stage.interpreter("zh", "A", ZH_A_HZ, take=True)
    # B's booth console is open, but B's microphone never got published (permission
    # refused, or the peer connection is still coming up).
    b = await stage.join(Role.INTERPRETER, NAMES[("zh", "B")], booth="zh", language="zh")
    listener = await stage.listener("zh")
    heard = listener.tab.channel_audio  # type: ignore[union-attr]
    await until(lambda: heard.packets > 30, WARM_UP)
    await settled(heard, ZH_A_HZ)

    await b.request({"type": "booth", "booth": "zh", "action": "request"})
    t0 = time.monotonic()
    await a.request({"type": "booth", "booth": "zh", "action": "accept"})  # may be refused
    await asyncio.sleep(1.5)
    # Listeners keep hearing somebody: A, or the floor while nobody with media is live.
    late = [(at, s) for at, s in list(heard.frames) if at > t0 + 0.3]
    arrivals = [t0 + 0.3] + [at for at, _ in late]
    longest_gap = max(b_ - a_ for a_, b_ in itertools.pairwise([*arrivals, time.monotonic()]))
    log_measure("mic to interpreter without media", longest_gap_ms=longest_gap * 1000)
    # wall-clock arrival gaps: a loaded 2-core machine stalls the loop for a few hundred ms at
    # times; the bug this guards against silenced the channel for the whole window (1.2 s)
    assert longest_gap < 0.6, f"{longest_gap * 1000:.0f} ms without audio on the zh channel"
    assert late and all(closest_tone(s, ALL_TONES) in (ZH_A_HZ, FLOOR_HZ) for _, s in late[-10:])


# --- the instrument itself ------------------------------------------------------------------


def _synthetic(segments: list[tuple[float | tuple[float, float] | None, int]]) -> Heard:
    """A Heard track made of (tone or (tone, tone) or None for silence, frames) segments,
    one 20 ms frame per 20 ms of arrival time from t=100 s."""
    heard = Heard()
    n = 0
    for tone, frames in segments:
        for _ in range(frames):
            t = (np.arange(960) + n * 960) / RATE
            if tone is None:
                samples = np.zeros(960)
            elif isinstance(tone, tuple):
                samples = sum(0.3 * np.sin(2 * np.pi * f * t + 1.0) for f in tone)
            else:
                samples = 0.3 * np.sin(2 * np.pi * tone * t)
            heard.timestamps.append((100 + n * 0.02, n * 960))
            heard.frames.append((100 + n * 0.02, np.asarray(samples, dtype=np.float32)))
            n += 1
    return heard


def test_transition_analysis_sees_overlap_gaps_and_flapping() -> None:
    t0 = 100 + 30 * 0.02
    clean = transition(_synthetic([(ZH_A_HZ, 30), (ZH_B_HZ, 40)]), ZH_A_HZ, ZH_B_HZ, t0)
    assert (clean.overlap_ms, clean.gap_ms, clean.longest_silence_ms, clean.flips) == (0, 0, 0, 1)
    assert clean.switch_ms == pytest.approx(0, abs=1)

    mixed = _synthetic([(ZH_A_HZ, 30), ((ZH_A_HZ, ZH_B_HZ), 1), (ZH_B_HZ, 40)])
    assert transition(mixed, ZH_A_HZ, ZH_B_HZ, t0).overlap_ms == 20

    gap = transition(_synthetic([(ZH_A_HZ, 30), (None, 12), (ZH_B_HZ, 40)]), ZH_A_HZ, ZH_B_HZ, t0)
    assert gap.gap_ms == pytest.approx(240) and gap.longest_silence_ms == pytest.approx(240)

    lost = _synthetic([(ZH_A_HZ, 30), (ZH_B_HZ, 40)])  # 300 ms of packets never arrived
    lost.timestamps = type(lost.timestamps)(
        ((at, pts + (15 * 960 if pts >= 30 * 960 else 0)) for at, pts in lost.timestamps),
        maxlen=lost.timestamps.maxlen,
    )
    assert transition(lost, ZH_A_HZ, ZH_B_HZ, t0).longest_silence_ms == pytest.approx(300)

    flapping = _synthetic([(ZH_A_HZ, 30), (ZH_B_HZ, 3), (ZH_A_HZ, 3), (ZH_B_HZ, 40)])
    assert transition(flapping, ZH_A_HZ, ZH_B_HZ, t0).flips == 3
