"""Recording through the control plane: the moderator records every channel, each to its own
file; with record_with_agenda the recording follows the live agenda item."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from simultan.core import booths as bc
from simultan.core.capabilities import Role
from simultan.media.synthetic import TestPatternTrack, ToneTrack
from simultan.people import Person
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.media.tones import dominant_frequency

pytestmark = pytest.mark.media


def synthetic_interpreter(session, booth: str, hz: float) -> None:
    person = Person(f"synth-{booth}", f"Synth {booth}", "", Role.INTERPRETER, booth, booth, "UTC")
    session.stage.seat(person)
    for cmd in (bc.Connect(by=person.id), bc.TakeMic(by=person.id)):
        session.stage.apply(booth, cmd, session.now())
    session.stage.media.add_local_source(f"interpreter:{person.id}", ToneTrack(hz), None)
    session.stage.apply_routes(session.floor.language)


def decode_ogg(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray().astype(np.float32).mean(axis=0) for f in container.decode(audio=0)]
    return np.concatenate(chunks)


async def test_moderator_records_each_channel_to_its_own_file(
    tmp_path: Path, clock: FakeClock, seminar
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=True)
    try:
        session = server.app[SESSION]
        session.stage.media.add_local_source("floor", ToneTrack(440), TestPatternTrack("FLOOR"))
        synthetic_interpreter(session, "zh", 523.0)
        _, mod = await server.person(Role.MODERATOR, "Mo Derator")
        _, part = await server.person(Role.PARTICIPANT, "Pat One")
        moderator = await server.connect(mod)
        participant = await server.connect(part)
        await moderator.recv_type("welcome")
        await participant.recv_type("welcome")
        assert (await participant.request({"type": "record", "on": True}))["code"] == "forbidden"
        reply = await moderator.request({"type": "record", "on": True})
        assert reply["data"]["recording"] is True
        await asyncio.sleep(2.5)
        reply = await moderator.request({"type": "record", "on": False})
        files = {Path(f).name: Path(f) for f in reply["data"]["files"]}
        assert {"en.ogg", "zh.ogg", "ja.ogg", "es.ogg", "floor.webm"} <= set(files)
        assert all(p.stat().st_size > 0 for p in files.values())
        assert all(str(p).startswith(str(tmp_path / "recordings")) for p in files.values())
        # each file carries its own channel: zh the interpreter, en (and unstaffed ja) the floor
        for name, hz in (("zh.ogg", 523.0), ("en.ogg", 440.0), ("ja.ogg", 440.0)):
            samples = decode_ogg(files[name])
            assert len(samples) > 48000, name
            assert abs(dominant_frequency(samples[24000:]) - hz) < 8, name
    finally:
        await runner.cleanup()


async def test_recording_follows_the_agenda_when_configured(
    tmp_path: Path, clock: FakeClock, seminar
) -> None:
    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=True, record_with_agenda=True
    )
    try:
        session = server.app[SESSION]
        session.stage.media.add_local_source("floor", ToneTrack(440), None)
        _, mod = await server.person(Role.MODERATOR, "Mo Derator")
        moderator = await server.connect(mod)
        await moderator.recv_type("welcome")
        await moderator.request({"type": "timeline", "action": "start", "base_version": 0})
        assert session.recording is True
        await moderator.request({"type": "timeline", "action": "pause", "base_version": 1})
        assert session.recording is False
        await moderator.request({"type": "timeline", "action": "resume", "base_version": 2})
        assert session.recording is True
        await moderator.request({"type": "timeline", "action": "finish", "base_version": 3})
        assert session.recording is False
    finally:
        await runner.cleanup()
