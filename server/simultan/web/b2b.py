"""The B2B day over HTTP: company profiles, the directory, requests, meetings; the organizer's grid.

GET  /b2b                                   the page (client/b2b.html)
GET  /api/b2b/me                            my profile, meetings, requests, the grid
PUT  /api/b2b/profile                       my company profile (JSON)
PUT  /api/b2b/profile/logo                  my logo (a PNG, JPEG or WebP body); DELETE removes it
GET  /api/b2b/logos/{person_id}             a logo (to B2B registrants)
GET  /api/b2b/profiles?q=&sector=&country=&language=   the directory (never an email)
POST /api/b2b/requests                      {invitee, start, message}
POST /api/b2b/requests/{id}/{accept|decline|withdraw}
POST /api/b2b/requests/{id}/propose         {start, message}
POST /api/b2b/meetings/{id}/cancel
GET  /api/b2b/admin                         organizer: grid, every meeting and request, the
                                            interpreters and the languages one can be booked for
PUT  /api/b2b/admin/grid                    {meeting_minutes, break_minutes, tables}
POST /api/b2b/admin/meetings                {participants, start, table?}
POST /api/b2b/admin/meetings/{id}/move      {start, table?}
POST /api/b2b/admin/meetings/{id}/cancel
POST /api/b2b/admin/meetings/{id}/interpreter  {interpreter, languages} (interpreter null: none)
GET  /api/b2b/admin/export.csv              the schedule as CSV
GET  /api/b2b/admin/report                  requested, accepted, declined, held, durations

Every call checks the capability (B2B or MANAGE_B2B) before it looks anything up. Refusals
are typed (``reason``) and change nothing; rate limits come from the pure core's rules.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from simultan.core import b2b
from simultan.core.b2b import B2BEvent, B2BState, Meeting, MeetingRequest, Rules
from simultan.core.b2b_profiles import Profile, check_logo, matches
from simultan.core.capabilities import Capability, Role
from simultan.errors import CommandError, MailError, NotFoundError, ValidationError
from simultan.mail.b2b import b2b_notice
from simultan.mail.mailer import MAILER
from simultan.people import Person
from simultan.session.b2b import B2BSchedule, grid_of
from simultan.session.ticker import every
from simultan.store.b2b import B2BStore
from simultan.store.registrations import Status
from simultan.web.auth import bearer_person, join_link, registrations
from simultan.web.keys import CLOCK, DB, EVENT, SETTINGS
from simultan.web.registration import html_response, read_body, read_json, render_page

log = logging.getLogger("simultan.web.b2b")

SCHEDULE = web.AppKey("b2b_schedule", B2BSchedule)
SWEEP_SECONDS = 1.0  # how often pending requests are checked for expiry
_NO_STORE = {"Cache-Control": "no-store"}


def _store(app: web.Application) -> B2BStore:
    return B2BStore(app[DB], app[EVENT].event.id)


def _schedule(app: web.Application) -> B2BSchedule:
    schedule = app.get(SCHEDULE)
    if schedule is None:
        raise NotFoundError("This event has no B2B day.", details={"reason": "no_b2b"})
    return schedule


def _time(data: dict[str, object], key: str = "start") -> datetime:
    raw = data.get(key)
    try:
        if not isinstance(raw, str):
            raise ValueError
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError
    except ValueError:
        raise ValidationError(
            f"{key} must be a time with its offset (ISO 8601)", fields={key: "is not a time"}
        ) from None
    return value


def _text(data: dict[str, object], key: str) -> str:
    raw = data.get(key, "")
    if not isinstance(raw, str):
        raise ValidationError(f"{key} must be text", fields={key: "must be text"})
    return raw


def _table(data: dict[str, object]) -> int | None:
    raw = data.get("table")
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise ValidationError("table must be a number", fields={"table": "must be a number"})
    return raw


# --- views -------------------------------------------------------------------------------------


def request_json(r: MeetingRequest, now: datetime) -> dict[str, object]:
    status = r.status.value
    if r.status is b2b.RequestStatus.PENDING and r.expires_at <= now:
        status = b2b.RequestStatus.EXPIRED.value
    return {
        "id": r.id,
        "requester": r.requester,
        "invitee": r.invitee,
        "start": r.start.isoformat(),
        "message": r.message,
        "status": status,
        "awaiting": r.awaiting,
        "expires_at": r.expires_at.isoformat(),
        "meeting_id": r.meeting_id,
    }


def meeting_json(m: Meeting, now: datetime, grace: timedelta) -> dict[str, object]:
    return {
        "id": m.id,
        "start": m.start.isoformat(),
        "end": m.end.isoformat(),
        "closes": (m.end + grace).isoformat(),
        "table": m.table,
        "participants": list(m.participants),
        "interpreter": m.interpretation.interpreter if m.interpretation else None,
        "languages": list(m.interpretation.languages) if m.interpretation else [],
        "cancelled": m.cancelled,
        "phase": b2b.phase(m, now, grace).value,
    }


def grid_json(state: B2BState, now: datetime) -> dict[str, object]:
    grid = state.grid
    return {
        "meeting_minutes": grid.meeting_minutes,
        "break_minutes": grid.break_minutes,
        "tables": grid.tables,
        "slots": [
            {"start": s.start.isoformat(), "end": s.end.isoformat(), "past": s.start <= now}
            for s in grid.slots()
        ],
    }


async def _names(app: web.Application) -> dict[str, str]:
    """Person id -> "Name (Organization)" for every approved registration (no email)."""
    profiles = {p.person_id: p.profile.organization for p in await _store(app).all_profiles()}
    out: dict[str, str] = {}
    for r in await registrations(app).list():
        if r.status is Status.APPROVED:
            org = profiles.get(r.id) or r.organization
            out[r.id] = f"{r.name} ({org})" if org else r.name
    return out


# --- notices -----------------------------------------------------------------------------------


def _notify(app: web.Application) -> Any:
    async def hook(state: B2BState, event: B2BEvent) -> None:
        if not event.notify:
            return
        names = await _names(app)
        repo = registrations(app)
        now = app[CLOCK]()
        for person_id in event.notify:
            try:
                reader = await repo.get(person_id)
            except NotFoundError:
                continue
            if reader.status is not Status.APPROVED:
                continue
            link = join_link(app, reader).url + "?next=b2b"
            msg = b2b_notice(
                state=state,
                event=event,
                reader=reader,
                names=names,
                title=app[EVENT].event.title,
                link=link,
                sender=app[SETTINGS].mail_from,
                now=now,
            )
            try:
                await app[MAILER].send(msg)
            except MailError as exc:
                log.warning("! b2b notice to %s not sent: %s", person_id, exc)

    return hook


# --- participant handlers ----------------------------------------------------------------------


async def _caller(request: web.Request) -> tuple[Person, B2BSchedule]:
    person = await bearer_person(request, Capability.B2B)
    return person, _schedule(request.app)


async def page(request: web.Request) -> web.Response:
    defn = request.app[EVENT]
    return html_response(await render_page("b2b.html", {"title": html.escape(defn.event.title)}))


async def me(request: web.Request) -> web.Response:
    person, schedule = await _caller(request)
    state, now = schedule.state, request.app[CLOCK]()
    stored = await _store(request.app).profile(person.id)
    return web.json_response(
        {
            "person": {"id": person.id, "name": person.name, "timezone": person.timezone},
            "event_timezone": request.app[EVENT].event.timezone,
            "organizer": person.can(Capability.MANAGE_B2B),
            "profile": stored.public() if stored else None,
            "grid": grid_json(state, now),
            "meetings": [
                meeting_json(m, now, schedule.grace) for m in state.meetings_of(person.id)
            ],
            "requests": [request_json(r, now) for r in state.requests_of(person.id)],
            "names": await _names(request.app),
            "now": now.isoformat(),
            "expiry_hours": state.rules.request_ttl.total_seconds() / 3600,
        },
        headers=_NO_STORE,
    )


async def put_profile(request: web.Request) -> web.Response:
    person = await bearer_person(request, Capability.B2B)
    profile = Profile.validate(await read_json(request))
    await _store(request.app).save_profile(person.id, profile, request.app[CLOCK]())
    stored = await _store(request.app).profile(person.id)
    return web.json_response({"profile": stored.public() if stored else None})


async def put_logo(request: web.Request) -> web.Response:
    person = await bearer_person(request, Capability.B2B)
    limit = request.app[SETTINGS].b2b_logo_max_bytes
    body = await read_body(request, limit)
    kind = check_logo(body, request.content_type, limit)
    if not await _store(request.app).set_logo(person.id, body, kind):
        raise CommandError("Save your company profile first.", details={"reason": "no_profile"})
    return web.json_response({"logo": f"/api/b2b/logos/{person.id}", "type": kind})


async def delete_logo(request: web.Request) -> web.Response:
    person = await bearer_person(request, Capability.B2B)
    await _store(request.app).set_logo(person.id, None, None)
    return web.json_response({"logo": None})


async def get_logo(request: web.Request) -> web.Response:
    await bearer_person(request, Capability.B2B)
    found = await _store(request.app).logo(request.match_info["person_id"])
    if found is None:
        raise NotFoundError("No logo.", details={"reason": "no_logo"})
    body, kind = found
    return web.Response(
        body=body,
        content_type=kind,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"},
    )


async def directory(request: web.Request) -> web.Response:
    person = await bearer_person(request, Capability.B2B)
    q = request.query
    # Only approved registrants' companies (a profile given at registration waits for it).
    approved = await _names(request.app)
    everyone = [p for p in await _store(request.app).all_profiles() if p.person_id in approved]
    found = [
        p.public()
        for p in everyone
        if p.person_id != person.id
        and matches(
            p.profile,
            text=q.get("q", "")[:200],
            sector=q.get("sector", "")[:120],
            country=q.get("country", "")[:120],
            language=q.get("language", "")[:3],
        )
    ]
    return web.json_response(
        {
            "profiles": found,
            "sectors": sorted({p.profile.sector for p in everyone}),
            "countries": sorted({p.profile.country for p in everyone}),
        },
        headers=_NO_STORE,
    )


async def new_request(request: web.Request) -> web.Response:
    person, schedule = await _caller(request)
    data = await read_json(request)
    invitee = _text(data, "invitee")
    known = invitee in await _names(request.app)
    if not known or await _store(request.app).profile(invitee) is None:
        raise NotFoundError(
            "This company is not in the B2B directory.", details={"reason": "no_profile"}
        )
    if await _store(request.app).profile(person.id) is None:
        raise CommandError(
            "Fill in your company profile before you ask for meetings.",
            details={"reason": "no_profile"},
        )
    rid = str(uuid.uuid4())
    command = b2b.RequestMeeting(rid, person.id, invitee, _time(data), _text(data, "message"))
    await schedule.run(command, person.id)
    now = request.app[CLOCK]()
    return web.json_response(
        {"request": request_json(schedule.state.requests[rid], now)}, status=201
    )


async def answer(request: web.Request) -> web.Response:
    person, schedule = await _caller(request)
    rid, action = request.match_info["id"], request.match_info["action"]
    command: b2b.Command
    if action == "accept":
        command = b2b.Accept(rid, person.id, str(uuid.uuid4()))
    elif action == "decline":
        command = b2b.Decline(rid, person.id)
    elif action == "withdraw":
        command = b2b.Withdraw(rid, person.id)
    elif action == "propose":
        data = await read_json(request)
        command = b2b.Propose(rid, person.id, _time(data), _text(data, "message"))
    else:
        raise NotFoundError("No such action.", details={"reason": "no_action"})
    await schedule.run(command, person.id)
    now = request.app[CLOCK]()
    r = schedule.state.requests[rid]
    meeting = schedule.state.meetings.get(r.meeting_id or "")
    return web.json_response(
        {
            "request": request_json(r, now),
            "meeting": meeting_json(meeting, now, schedule.grace) if meeting else None,
        }
    )


async def cancel_mine(request: web.Request) -> web.Response:
    person, schedule = await _caller(request)
    mid = request.match_info["id"]
    await schedule.run(b2b.Cancel(mid, person.id), person.id)
    m = schedule.state.meetings[mid]
    return web.json_response({"meeting": meeting_json(m, request.app[CLOCK](), schedule.grace)})


# --- organizer handlers ------------------------------------------------------------------------


async def _organizer(request: web.Request) -> tuple[Person, B2BSchedule]:
    person = await bearer_person(request, Capability.MANAGE_B2B)
    return person, _schedule(request.app)


async def admin_view(request: web.Request) -> web.Response:
    _, schedule = await _organizer(request)
    state, now = schedule.state, request.app[CLOCK]()
    profiles = await _store(request.app).all_profiles()
    interpreters = [
        r.id
        for r in await registrations(request.app).list()
        if r.status is Status.APPROVED and r.role is Role.INTERPRETER
    ]
    # The language pairs an interpreter can be booked for: the event's and the companies'.
    languages = set(request.app[EVENT].languages)
    for p in profiles:
        languages.update(p.profile.languages)
    return web.json_response(
        {
            "grid": grid_json(state, now),
            "meetings": [meeting_json(m, now, schedule.grace) for m in state.live_meetings()],
            "requests": [request_json(r, now) for r in state.requests.values()],
            "names": await _names(request.app),
            "profiles": [p.person_id for p in profiles],
            "interpreters": interpreters,
            "languages": sorted(languages),
        },
        headers=_NO_STORE,
    )


def _int(data: dict[str, object], key: str) -> int:
    raw = data.get(key)
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise ValidationError(f"{key} must be a number", fields={key: "must be a number"})
    return raw


async def set_grid(request: web.Request) -> web.Response:
    person, schedule = await _organizer(request)
    data = await read_json(request)
    command = b2b.SetGrid(
        _int(data, "meeting_minutes"), _int(data, "break_minutes"), _int(data, "tables")
    )
    await schedule.run(command, person.id)
    return web.json_response({"grid": grid_json(schedule.state, request.app[CLOCK]())})


async def admin_schedule(request: web.Request) -> web.Response:
    person, schedule = await _organizer(request)
    data = await read_json(request)
    raw = data.get("participants")
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ValidationError(
            "participants must be a list of person ids", fields={"participants": "bad list"}
        )
    known = await _names(request.app)
    unknown = [p for p in raw if p not in known]
    if unknown:
        raise NotFoundError("Unknown participants.", details={"reason": "no_person"})
    mid = str(uuid.uuid4())
    command = b2b.Schedule(mid, tuple(raw), _time(data), _table(data))
    await schedule.run(command, person.id)
    m = schedule.state.meetings[mid]
    return web.json_response(
        {"meeting": meeting_json(m, request.app[CLOCK](), schedule.grace)}, status=201
    )


async def admin_meeting(request: web.Request) -> web.Response:
    person, schedule = await _organizer(request)
    mid, action = request.match_info["id"], request.match_info["action"]
    command: b2b.Command
    if action == "cancel":
        command = b2b.Cancel(mid, person.id, as_organizer=True)
    elif action == "move":
        data = await read_json(request)
        command = b2b.Move(mid, _time(data), _table(data))
    elif action == "interpreter":
        data = await read_json(request)
        interpreter = data.get("interpreter")
        languages = data.get("languages", [])
        if interpreter is not None and not isinstance(interpreter, str):
            raise ValidationError("interpreter must be a person id", fields={"interpreter": "bad"})
        if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
            raise ValidationError("languages must be two codes", fields={"languages": "bad"})
        if interpreter is not None and interpreter not in await _names(request.app):
            raise NotFoundError("Unknown interpreter.", details={"reason": "no_person"})
        command = b2b.BookInterpreter(mid, interpreter, tuple(languages))
    else:
        raise NotFoundError("No such action.", details={"reason": "no_action"})
    await schedule.run(command, person.id)
    m = schedule.state.meetings[mid]
    return web.json_response({"meeting": meeting_json(m, request.app[CLOCK](), schedule.grace)})


def _csv_cell(value: str) -> str:
    # A leading =, +, - or @ makes a spreadsheet run the cell as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def export_csv(request: web.Request) -> web.Response:
    _, schedule = await _organizer(request)
    names = await _names(request.app)
    zone = request.app[EVENT].zone
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["meeting", "start (UTC)", f"start ({zone.key})", "end (UTC)", "table",
         "participants", "interpreter", "languages"]
    )  # fmt: skip
    for m in schedule.state.live_meetings():
        writer.writerow(
            [
                m.id,
                m.start.isoformat(),
                m.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                m.end.isoformat(),
                m.table,
                _csv_cell("; ".join(names.get(p, p) for p in m.participants)),
                _csv_cell(names.get(m.interpretation.interpreter, "") if m.interpretation else ""),
                "-".join(m.interpretation.languages) if m.interpretation else "",
            ]
        )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="b2b-schedule.csv"', **_NO_STORE},
    )


async def get_report(request: web.Request) -> web.Response:
    _, schedule = await _organizer(request)
    body = b2b.report(schedule.state, request.app[CLOCK](), schedule.grace)
    return web.json_response(body, headers=_NO_STORE)


# --- wiring ------------------------------------------------------------------------------------


async def _open_schedule(app: web.Application) -> Any:
    grid = grid_of(app[EVENT])
    if grid is not None:
        settings = app[SETTINGS]
        rules = Rules(
            request_ttl=timedelta(hours=settings.b2b_request_ttl_hours),
            requests_per_hour=settings.b2b_requests_per_hour,
        )
        schedule = B2BSchedule(
            grid,
            rules,
            _store(app),
            clock=app[CLOCK],
            grace=timedelta(seconds=settings.b2b_grace_seconds),
        )
        await schedule.open()
        schedule.on_change.append(_notify(app))
        app[SCHEDULE] = schedule
        # The expiry sweep: a request expires (and its people are mailed) at its time.
        sweep = asyncio.create_task(every(SWEEP_SECONDS, schedule.sweep, log), name="b2b-sweep")
        yield
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)
        return
    yield


def setup(app: web.Application) -> None:
    """Routes and the schedule (opened once the database is: add after the database ctx)."""
    app.cleanup_ctx.append(_open_schedule)
    app.router.add_get("/b2b", page)
    app.router.add_get("/api/b2b/me", me)
    app.router.add_put("/api/b2b/profile", put_profile)
    app.router.add_put("/api/b2b/profile/logo", put_logo)
    app.router.add_delete("/api/b2b/profile/logo", delete_logo)
    app.router.add_get("/api/b2b/logos/{person_id}", get_logo)
    app.router.add_get("/api/b2b/profiles", directory)
    app.router.add_post("/api/b2b/requests", new_request)
    app.router.add_post("/api/b2b/requests/{id}/{action}", answer)
    app.router.add_post("/api/b2b/meetings/{id}/cancel", cancel_mine)
    app.router.add_get("/api/b2b/admin", admin_view)
    app.router.add_put("/api/b2b/admin/grid", set_grid)
    app.router.add_post("/api/b2b/admin/meetings", admin_schedule)
    app.router.add_post("/api/b2b/admin/meetings/{id}/{action}", admin_meeting)
    app.router.add_get("/api/b2b/admin/export.csv", export_csv)
    app.router.add_get("/api/b2b/admin/report", get_report)
