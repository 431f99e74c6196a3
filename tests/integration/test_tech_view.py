"""The tech view with real media: levels of live interpreters, and the silent-channel alarm."""

from __future__ import annotations

from pathlib import Path

import pytest

from simultan.core import booths as bc
from simultan.core.capabilities import Role
from simultan.media.synthetic import ToneTrack
from simultan.people import Person
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server

pytestmark = pytest.mark.media


def live_interpreter(session, booth: str, track: ToneTrack) -> str:
    person = Person(f"synth-{booth}", f"Synth {booth}", "", Role.INTERPRETER, booth, booth, "UTC")
    session.stage.seat(person)
    session.stage.media.add_local_source(f"interpreter:{person.id}", track, None)
    for cmd in (bc.Connect(by=person.id), bc.TakeMic(by=person.id)):
        session.stage.apply(booth, cmd, session.now())
    session.stage.apply_routes(session.floor.language)
    return person.id


async def test_silent_live_channel_raises_an_alarm_with_levels(
    tmp_path: Path, clock: FakeClock, seminar
) -> None:
    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=True, alarm_silence_seconds=1.0
    )
    try:
        session = server.app[SESSION]
        session.stage.media.add_local_source("floor", ToneTrack(440), None)
        zh = live_interpreter(session, "zh", ToneTrack(523))
        ja = live_interpreter(session, "ja", ToneTrack(659, amplitude=0.0))  # a dead mic
        _, org = await server.person(Role.ORGANIZER, "Org Anizer")
        organizer = await server.connect(org)
        await organizer.recv_type("welcome")
        for _ in range(10):
            view = (await organizer.recv_type("tech", timeout=3))["view"]
            silent = [a for a in view["alarms"] if a["kind"] == "silent_channel"]
            if silent:
                break
        else:
            raise AssertionError(f"no silent-channel alarm: {view['alarms']}")
        assert [(a["booth"], a["person"], a["severity"]) for a in silent] == [
            ("ja", ja, "critical")
        ]
        booths = {b["id"]: b for b in view["booths"]}
        assert booths["zh"]["levels_dbfs"][zh] > -30  # speaking
        assert booths["ja"]["levels_dbfs"][ja] is None  # nothing above silence
        assert booths["zh"]["quality"][zh]["frames_in"] > 0
        assert view["media"]["routes"]["zh"] == f"interpreter:{zh}"
    finally:
        await runner.cleanup()
