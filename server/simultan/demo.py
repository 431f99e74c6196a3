"""The demo: the seeded seminar, moved to start now, with synthetic sources and a link per role.

``simultan demo`` resets its own database under var/demo/, seeds an organizer, a moderator,
a speaker, a participant and the interpreters of every booth, starts the server and prints
the links to open. With the media plane on, a synthetic floor (moving test pattern, spoken
English) and one synthetic interpreter per booth (spoken in its language) make every channel
audible at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition, load_event
from simultan.people import Person
from simultan.resources import event_file
from simultan.secret import demo_secret
from simultan.settings import Settings, load_settings
from simultan.store.registrations import create_or_get_registration
from simultan.web.auth import link_for
from simultan.web.keys import DB

if TYPE_CHECKING:
    from simultan.session.live import LiveSession

DEMO_DIR = Path("var/demo")


@dataclass(frozen=True)
class Seed:
    role: Role
    name: str
    email: str
    city: str
    language: str = "en"
    booth: str | None = None
    # None: the event's own time zone
    timezone: str | None = None


# The words the README uses: a panelist is a "speaker" in everything the demo prints.
LABELS = {Role.PANELIST: "speaker"}


def demo_people(defn: EventDefinition) -> list[Seed]:
    people = [
        Seed(Role.ORGANIZER, "Demo Organizer", "organizer@demo.example", "Brussels"),
        Seed(Role.MODERATOR, "Demo Moderator", "moderator@demo.example", "Brussels"),
        Seed(Role.PANELIST, "Demo Speaker", "speaker@demo.example", "Guadalajara", "es"),
        # a delegate far from the event's zone: the participant page shows both clocks
        Seed(
            Role.PARTICIPANT,
            "Demo City Delegate",
            "delegate@demo.example",
            "Kitakyushu",
            "ja",
            timezone="Asia/Tokyo",
        ),
    ]
    for booth in defn.booths:
        for i, interp in enumerate(booth.interpreters):
            email = interp.email or f"{booth.id}-{i}@interpreters.example"
            people.append(Seed(Role.INTERPRETER, interp.name, email, "", booth.language, booth.id))
    # The facilitators the event file names by email, so that planning their groups finds them.
    for item in defn.agenda:
        for group in item.groups:
            ref = group.facilitator
            if ref is not None and "@" in ref and all(p.email != ref for p in people):
                name = f"{group.title} (facilitator)"[:200]
                people.append(Seed(Role.PARTICIPANT, name, ref, "", defn.event.floor_language))
    return people


async def seed(
    app: web.Application, defn: EventDefinition, now: datetime
) -> list[tuple[Seed, str]]:
    links = []
    for person in demo_people(defn):
        reg = await create_or_get_registration(
            app[DB],
            defn.event.id,
            name=person.name,
            email=person.email,
            role=person.role,
            booth=person.booth,
            language=person.language,
            timezone=person.timezone or defn.event.timezone,
            city=person.city,
            now=now,
        )
        links.append((person, link_for(app, reg)))
    return links


async def issue_link(
    settings: Settings,
    defn: EventDefinition,
    *,
    role: str,
    name: str,
    email: str,
    booth: str | None,
) -> str:
    from simultan.app import create_app
    from simultan.store.database import open_database

    app = create_app(settings, defn)
    app[DB] = await open_database(settings.database_url)
    try:
        reg = await create_or_get_registration(
            app[DB],
            defn.event.id,
            name=name,
            email=email,
            role=Role(role),
            booth=booth,
            language=defn.event.floor_language,
            timezone=defn.event.timezone,
            now=datetime.now(UTC),
        )
        return link_for(app, reg)
    finally:
        await app[DB].dispose()


async def add_demo_sources(app: web.Application) -> None:
    """A synthetic floor (test pattern, spoken English) and a synthetic live interpreter per
    booth (spoken in its language), so every channel is audible at once; a real interpreter
    who joins can ask the synthetic one for the mic and take over."""
    from simultan.media import synthetic
    from simultan.web.session_key import SESSION

    session = app[SESSION]
    media = session.stage.media
    if media is None:
        return
    languages = [b.language for b in session.defn.booths]
    synthetic.add_demo_sources(media, languages, floor=session.defn.event.floor_language)
    seat_synthetic_interpreters(session)


def synthetic_interpreter(session: LiveSession, booth_id: str) -> Person:
    booth = next(b for b in session.defn.booths if b.id == booth_id)
    return Person(
        id=f"demo-{booth.language}",
        name=f"Synthetic {booth.language} interpreter",
        city="",
        role=Role.INTERPRETER,
        booth=booth.id,
        language=booth.language,
        timezone=session.defn.event.timezone,
    )


def seat_synthetic_interpreters(session: LiveSession) -> None:
    """A synthetic interpreter live in every booth, in the backup seat (A and B stay for the
    real interpreters); when a real interpreter of the booth connects, the synthetic one
    gives way: it offers them the mic at once."""
    from simultan.core import booths as bc

    now = session.now()
    for booth in session.defn.booths:
        person = synthetic_interpreter(session, booth.id)
        current = session.stage.booths[booth.id]
        members = {**current.members, "backup": person.id}
        session.stage.booths[booth.id] = dataclasses.replace(current, members=members)
        for cmd in (bc.Connect(by=person.id), bc.TakeMic(by=person.id)):
            session.stage.apply(booth.id, cmd, now)
    session.stage.apply_routes(session.floor.language)
    arrive = session.interpreter_present

    async def present_then_give_way(person: Person, present: bool) -> None:
        await arrive(person, present)
        if present and person.booth is not None and not person.id.startswith("demo-"):
            await give_way(session, person)

    session.interpreter_present = present_then_give_way  # type: ignore[method-assign]


async def give_way(session: LiveSession, real: Person) -> None:
    assert real.booth is not None
    synthetic = synthetic_interpreter(session, real.booth)
    booth = session.stage.booths[real.booth]
    if booth.live == synthetic.id and booth.pending is None and real.id in booth.connected:
        await session.booth_command(synthetic, booth.id, "offer", real.id, None)


def run_demo(args: argparse.Namespace) -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    return asyncio.run(_demo(args))


async def _demo(args: argparse.Namespace) -> int:
    from simultan.app import create_app

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    defn = load_event(event_file(args.event)).shifted_to(now)
    where = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(
        None,
        **where,
        database_url=f"sqlite+aiosqlite:///{DEMO_DIR / 'demo.sqlite3'}",
        outbox_dir=DEMO_DIR / "outbox",
        recordings_dir=DEMO_DIR / "recordings",
        media_enabled=not args.no_media,
        secret_key=demo_secret(),
    )
    app = create_app(settings, defn)
    runner = web.AppRunner(app, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    links = await seed(app, defn, now)
    if settings.media_enabled:
        await add_demo_sources(app)
    print(f"\nSimultan demo: {defn.event.title}")
    print(f"Serving on {settings.base_url}: the agenda starts now; mail goes to {DEMO_DIR}/outbox")
    print(f"Register a new city: {settings.base_url}/register\n")
    for person, link in links:
        role = LABELS.get(person.role, person.role.value)
        label = role + (f" ({person.booth} booth)" if person.booth else "")
        print(f"  {label:<26} {person.name:<22} {link}")
    print(
        "\nOpen the moderator link to drive the timeline, the delegate link to listen.", flush=True
    )
    try:
        if args.seconds is not None:
            await asyncio.sleep(args.seconds)
        else:
            await asyncio.Event().wait()
    except asyncio.CancelledError:
        pass
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
    return 0
