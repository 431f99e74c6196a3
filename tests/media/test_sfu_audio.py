from __future__ import annotations

import asyncio

from tests.media.tones import FLOOR_HZ, TONES, Tab, ToneTrack, wait_until

from simultan.media.sfu import EmbeddedSfu


async def test_one_tone_end_to_end(sfu: EmbeddedSfu) -> None:
    sfu.set_routes({"en": "floor", "zh": "interpreter:7"})
    floor = Tab(sfu, "floor-tab", publish="floor", audio=ToneTrack(FLOOR_HZ))
    interp = Tab(sfu, "interp-tab", publish="interpreter:7", audio=ToneTrack(TONES["zh"]))
    listener = Tab(sfu, "listener", channel="zh")
    try:
        await floor.connect()
        await interp.connect()
        await listener.connect()
        await wait_until(lambda: listener.channel_audio.packets > 60, timeout=10)
        await asyncio.sleep(0.3)
        assert abs(listener.channel_audio.frequency() - TONES["zh"]) < 5
        assert abs(listener.program.frequency() - FLOOR_HZ) < 5
    finally:
        for tab in (listener, interp, floor):
            await tab.close()
