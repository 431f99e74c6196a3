"""A Simultan server with the product's default ICE settings (host candidates on every
address of the machine but loopback; no loopback-only restriction), a 440 Hz floor and one
participant; run by test_ordinary_browser.py inside a network namespace the test made (its
only non-loopback address is 10.x, on a veth pair inside it), never on a real network.

Usage: ordinary_server.py FOLDER. Prints one JSON line {"link": the participant's join link,
"ice_host_addresses": the setting}; serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

from simultan.core.capabilities import Role
from simultan.eventdef import load_event
from simultan.media.synthetic import TestPatternTrack, ToneTrack
from simultan.store.registrations import Registrations
from simultan.web.auth import link_for
from simultan.web.keys import DB
from simultan.web.session_key import SESSION
from tests.conftest import SEMINAR, FakeClock, LiveServer, start_server

FLOOR_HZ = 440.0


async def main(folder: Path) -> None:
    seminar = load_event(SEMINAR)
    clock = FakeClock(seminar.planned_start(seminar.agenda[0]) - timedelta(minutes=10))
    # The product's defaults for ICE: the tests' loopback-only restriction is left out.
    runner, server = await start_server(
        folder, clock, seminar, media_enabled=True, ice_host_addresses=()
    )
    live: LiveServer = server
    media = live.app[SESSION].stage.media
    assert media is not None
    media.add_local_source("floor", ToneTrack(FLOOR_HZ), TestPatternTrack("FLOOR"))
    reg_id, _ = await live.person(Role.PARTICIPANT, "Ordinary Browser", language="en")
    reg = await Registrations(live.app[DB], live.app[SESSION].event_id).get(reg_id)
    line = {
        "link": link_for(live.app, reg),
        "ice_host_addresses": list(live.settings.ice_host_addresses),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
