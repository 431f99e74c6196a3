"""The driver around :mod:`simultan.core.liveness`: samples the media plane's frames-in
counters, and turns a lost or returning interpreter into booth moves.

- lost: the interpreter is disconnected from the booth, exactly as on a clean drop
  (listeners fall back to the floor, the partner is offered the mic);
- back (packets resume, or a new peer connection publishes again): connected again, and
  given the mic back if they held it and nobody took it meanwhile.

A lost live floor speaker stays on the floor (the moderator decides who speaks) but falls
back as their own clean drop would sound: they are taken out of the mix, the floor video
switches to another live speaker, and the moderators get a ``floor_media`` event (the tech
view's alarms say it too); when their packets resume all of it is undone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from simultan.core import booths as bc
from simultan.core import liveness as lv
from simultan.core.capabilities import Capability
from simultan.hub.audience import Audience
from simultan.media.plane import INTERPRETER_PREFIX, SPEAKER_PREFIX
from simultan.session.live import LiveSession

log = logging.getLogger("simultan.liveness")


class LossWatch:
    def __init__(
        self,
        session: LiveSession,
        *,
        lost_after: float = lv.DEFAULT_LOST_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.lost_after = lost_after
        self.clock = clock
        self.watch = lv.Watch()
        self.was_live: dict[str, lv.WasLive] = {}  # person id -> where they were live
        self.lost_since: dict[str, float] = {}

    @property
    def lost(self) -> frozenset[str]:
        return lv.lost_keys(self.watch)

    def forget_gone(self, key: str) -> None:
        """The media plane says ``key``'s publisher closed (call before the booth hears of
        it): remember if they were live, and see the key as new when it publishes again."""
        self._note_live(key)
        sources = {k: v for k, v in self.watch.sources.items() if k != key}
        self.watch = lv.Watch(sources=sources, last_sample=self.watch.last_sample)
        self.lost_since.pop(key, None)
        self._floor_follows()

    def lost_speakers(self) -> frozenset[str]:
        """Person ids of floor speakers whose packets stopped."""
        return frozenset(
            k.removeprefix(SPEAKER_PREFIX) for k in self.lost if k.startswith(SPEAKER_PREFIX)
        )

    def _floor_follows(self) -> None:
        """The floor's mix and video follow the lost speakers (synchronous: no await)."""
        driver = self.session.floor_driver
        lost = self.lost_speakers()
        if driver.lost != lost:
            driver.lost = lost
            driver.apply_media()

    async def _speaker(self, key: str, lost: bool) -> None:
        person = key.removeprefix(SPEAKER_PREFIX)
        self._floor_follows()
        driver = self.session.floor_driver
        if not driver.floor.is_live(person):
            return
        await self.session.publish(
            "floor_media",
            {
                "person": driver.people.get(person, {"id": person}),
                "lost": lost,
                "shown": lv.floor_shown(driver.floor, driver.lost),
            },
            Audience(capability=Capability.GIVE_FLOOR),
        )

    def _note_live(self, key: str) -> None:
        if not key.startswith(INTERPRETER_PREFIX):
            return
        person = key.removeprefix(INTERPRETER_PREFIX)
        for booth in self.session.stage.booths.values():
            if booth.live == person:
                self.was_live[person] = lv.WasLive(booth=booth.id, at=self.clock())

    async def sample(self) -> None:
        media = self.session.stage.media
        if media is None:
            return
        counters = media.frames_in()
        arrivals = media.last_packets()
        now = self.clock()
        self.watch, changes = lv.observe(
            self.watch, counters, now, lost_after=self.lost_after, arrivals=arrivals
        )
        self._floor_follows()  # also when a lost speaker's source went without a change
        for change in changes:
            if change.kind == "lost":
                log.warning("! source %s: no packets for %.1f s", change.key, self.lost_after)
                self.lost_since[change.key] = now
                self._note_live(change.key)
                await self._lost(change.key)
            elif change.kind == "back":
                log.info("= source %s: packets again", change.key)
                self.lost_since.pop(change.key, None)
                await self._back(change.key)
            else:
                await self._back(change.key, new=True)

    async def _lost(self, key: str) -> None:
        if key.startswith(SPEAKER_PREFIX):
            await self._speaker(key, lost=True)
        if not key.startswith(INTERPRETER_PREFIX):
            return
        person = key.removeprefix(INTERPRETER_PREFIX)

        def decide(booths: dict[str, bc.Booth]) -> list[tuple[str, bc.BoothCommand]]:
            return [
                (b.id, bc.Disconnect(by=person)) for b in booths.values() if person in b.connected
            ]

        await self.session.media_moves(decide)

    async def _back(self, key: str, *, new: bool = False) -> None:
        if key.startswith(SPEAKER_PREFIX) and not new:
            await self._speaker(key, lost=False)
        if not key.startswith(INTERPRETER_PREFIX):
            return
        person = key.removeprefix(INTERPRETER_PREFIX)
        was = self.was_live.get(person)
        now = self.clock()

        def decide(booths: dict[str, bc.Booth]) -> list[tuple[str, bc.BoothCommand]]:
            moves: list[tuple[str, bc.BoothCommand]] = []
            for booth in booths.values():
                if not booth.is_member(person):
                    continue
                if person not in booth.connected:
                    moves.append((booth.id, bc.Connect(by=person)))
                    booth = bc.apply(booth, bc.Connect(by=person), self.session.now())[0]
                restore = lv.restore_command(booth, person, was, now)
                if restore is not None:
                    moves.append((booth.id, restore))
            return moves

        await self.session.media_moves(decide)
        if was is not None:
            self.was_live.pop(person, None)

    async def run(self, interval: float = lv.SAMPLE_PERIOD) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sample()
            except Exception:
                log.exception("! loss watch failed")
