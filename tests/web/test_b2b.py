"""The B2B day over HTTP: profiles, directory, requests, mail notices with .ics, the organizer.

Real SQLite, a real SMTP server (aiosmtpd) and the forum's seeded B2B grid.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import aiohttp
import icalendar
import pytest

from simultan.core.b2b import RequestStatus
from simultan.core.capabilities import Role
from simultan.eventdef import load_event
from simultan.web.auth import registrations
from simultan.web.b2b import SCHEDULE
from simultan.web.keys import CLOCK, EVENT, SETTINGS
from tests.conftest import FORUM, FakeClock
from tests.web.conftest import MakeWebApp, WebApp

PROFILE = {
    "organization": "Widzew Energy",
    "sector": "Energy",
    "offers": "Heat pumps",
    "seeks": "Danish partners",
    "languages": ["pl", "en"],
    "country": "Poland",
    "city": "Łódź",
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


class Day:
    """The forum's app, a few seeded people with tokens, and small helpers."""

    def __init__(self, web: WebApp, tokens: dict[str, str], ids: dict[str, str]) -> None:
        self.web, self.tokens, self.ids = web, tokens, ids
        self.slots: list[str] = []

    async def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": self.web.bearer(self.tokens[who])}
        if body is not None:
            kwargs["json"] = body
        async with self.web.client.request(method, path, **kwargs) as resp:
            data = (
                await resp.json() if resp.content_type == "application/json" else await resp.text()
            )
            return resp.status, data


@pytest.fixture
async def day(make_web_app: MakeWebApp, clock: FakeClock) -> Day:
    defn = load_event(FORUM)
    b2b_item = next(i for i in defn.agenda if i.kind == "b2b")
    clock.now = defn.planned_start(b2b_item) - timedelta(days=1)
    web = await make_web_app(defn=defn, b2b_request_ttl_hours=2, b2b_requests_per_hour=3)
    tokens, ids = {}, {}
    for who, role in (("ana", Role.PARTICIPANT), ("bo", Role.PARTICIPANT),
                      ("cy", Role.PARTICIPANT), ("org", Role.ORGANIZER)):  # fmt: skip
        reg, token = await web.seed(role, who.title())
        tokens[who], ids[who] = token, reg.id
    reg, token = await web.seed(Role.INTERPRETER, "Ivy", booth="pl")
    tokens["ivy"], ids["ivy"] = token, reg.id
    d = Day(web, tokens, ids)
    for who, org in (("ana", "Widzew Energy"), ("bo", "Aarhus Water"), ("cy", "Odense Bikes")):
        status, _ = await d.call(who, "PUT", "/api/b2b/profile", {**PROFILE, "organization": org})
        assert status == 200
    _, me = await d.call("ana", "GET", "/api/b2b/me")
    d.slots = [s["start"] for s in me["grid"]["slots"]]
    web.smtp.messages.clear()
    return d


def calendar_of(msg: Any) -> icalendar.Calendar:
    part = next(p for p in msg.iter_attachments() if p.get_filename() == "b2b.ics")
    return icalendar.Calendar.from_ical(part.get_content())


async def test_directory_is_searchable_and_never_shows_email(day: Day) -> None:
    await day.call("bo", "PUT", "/api/b2b/profile", {**PROFILE, "organization": "Aarhus Water",
                                                      "sector": "Water", "country": "Denmark",
                                                      "languages": ["da", "en"]})  # fmt: skip
    status, found = await day.call("ana", "GET", "/api/b2b/profiles")
    assert status == 200
    assert {p["organization"] for p in found["profiles"]} == {"Aarhus Water", "Odense Bikes"}
    assert "@" not in str(found)
    _, found = await day.call("ana", "GET", "/api/b2b/profiles?sector=water&language=da")
    assert [p["name"] for p in found["profiles"]] == ["Bo"]
    _, found = await day.call("ana", "GET", "/api/b2b/profiles?q=bikes")
    assert [p["organization"] for p in found["profiles"]] == ["Odense Bikes"]
    # By country: Bo's company is Danish now, Cy's still Polish (the fixture's profile).
    _, found = await day.call("ana", "GET", "/api/b2b/profiles?country=denmark")
    assert [p["name"] for p in found["profiles"]] == ["Bo"]
    _, found = await day.call("ana", "GET", "/api/b2b/profiles?country=Poland")
    assert [p["organization"] for p in found["profiles"]] == ["Odense Bikes"]
    assert found["countries"] == ["Denmark", "Poland"]
    status, bad = await day.call("ana", "PUT", "/api/b2b/profile", {**PROFILE, "organization": ""})
    assert status == 422 and "organization" in bad["fields"]


async def test_request_accept_mails_both_an_updated_calendar(day: Day) -> None:
    status, made = await day.call("ana", "POST", "/api/b2b/requests",
                                  {"invitee": day.ids["bo"], "start": day.slots[0],
                                   "message": "<script>hi</script> let us talk"})  # fmt: skip
    assert status == 201 and made["request"]["status"] == "pending"
    notice = day.web.mails[-1]
    assert notice["To"].addresses[0].username == "bo"
    assert "<script>hi</script> let us talk" in notice.get_body().get_content()
    rid = made["request"]["id"]
    status, answered = await day.call("bo", "POST", f"/api/b2b/requests/{rid}/accept")
    assert status == 200 and answered["meeting"]["table"] == 1
    mid = answered["meeting"]["id"]
    to = sorted(m["To"].addresses[0].username for m in day.web.mails[-2:])
    assert to == ["ana", "bo"]
    events = [e for e in calendar_of(day.web.mails[-1]).walk("VEVENT")]
    assert [str(e["uid"]) for e in events] == [f"{mid}@b2b.simultan"]
    assert str(events[0]["status"]) == "CONFIRMED"
    assert "?next=b2b" in day.web.mails[-1].get_body().get_content()
    _, me = await day.call("ana", "GET", "/api/b2b/me")
    assert [m["id"] for m in me["meetings"]] == [mid]
    # Cancelled: the calendar entry is marked cancelled (same UID, higher sequence).
    status, _ = await day.call("bo", "POST", f"/api/b2b/meetings/{mid}/cancel")
    assert status == 200
    event = next(iter(calendar_of(day.web.mails[-1]).walk("VEVENT")))
    assert str(event["status"]) == "CANCELLED" and int(event["sequence"]) > int(
        events[0]["sequence"]
    )


async def test_bad_input_is_typed_and_changes_nothing(day: Day) -> None:
    schedule = day.web.app[SCHEDULE]
    _, made = await day.call("ana", "POST", "/api/b2b/requests",
                             {"invitee": day.ids["bo"], "start": day.slots[0]})  # fmt: skip
    await day.call("bo", "POST", f"/api/b2b/requests/{made['request']['id']}/accept")
    _, late = await day.call("cy", "POST", "/api/b2b/requests",
                             {"invitee": day.ids["bo"], "start": day.slots[1]})  # fmt: skip
    version, mails = schedule.state.version, len(day.web.mails)

    async def refused(who: str, path: str, body: Any, status: int, reason: str) -> None:
        got, data = await day.call(who, "POST", path, body)
        assert (got, data.get("reason")) == (status, reason), data
        assert schedule.state.version == version and len(day.web.mails) == mails

    await refused("cy", "/api/b2b/requests", {"invitee": day.ids["ana"], "start": day.slots[0]},
                  422, "slot_taken")  # fmt: skip
    off = day.slots[0].replace(":00:00", ":07:00")
    await refused("cy", "/api/b2b/requests", {"invitee": day.ids["ana"], "start": off},
                  422, "outside_grid")  # fmt: skip
    await refused("cy", "/api/b2b/requests", {"invitee": day.ids["org"], "start": day.slots[2]},
                  404, "no_profile")  # fmt: skip
    await refused("cy", f"/api/b2b/requests/{late['request']['id']}/accept", None,
                  422, "not_your_turn")  # fmt: skip
    await refused("ana", f"/api/b2b/requests/{late['request']['id']}/accept", None,
                  403, "not_yours")  # fmt: skip
    await refused("org", "/api/b2b/admin/meetings",
                  {"participants": [day.ids["ana"], day.ids["cy"]], "start": day.slots[0]},
                  422, "slot_taken")  # fmt: skip
    day.web.clock.advance(hours=2)
    await refused("bo", f"/api/b2b/requests/{late['request']['id']}/accept", None,
                  422, "expired")  # fmt: skip
    got, data = await day.call("cy", "POST", "/api/b2b/requests", {"invitee": 7})
    assert got == 422
    # Capability before lookup: no token, wrong capability.
    async with day.web.client.post("/api/b2b/requests", json={}) as resp:
        assert resp.status == 401
    got, _ = await day.call("ana", "GET", "/api/b2b/admin/report")
    assert got == 403


async def test_requests_are_rate_limited(day: Day) -> None:
    for n, who in enumerate(("bo", "cy")):
        got, _ = await day.call("ana", "POST", "/api/b2b/requests",
                                {"invitee": day.ids[who], "start": day.slots[n]})  # fmt: skip
        assert got == 201
    _, first = await day.call("ana", "GET", "/api/b2b/me")
    await day.call("ana", "POST", f"/api/b2b/requests/{first['requests'][0]['id']}/withdraw")
    got, _ = await day.call("ana", "POST", "/api/b2b/requests",
                            {"invitee": day.ids["bo"], "start": day.slots[3]})  # fmt: skip
    assert got == 201
    got, data = await day.call("ana", "POST", "/api/b2b/requests",
                               {"invitee": day.ids["bo"], "start": day.slots[4]})  # fmt: skip
    assert (got, data["reason"]) == (422, "rate_limited")


async def test_organizer_schedules_books_an_interpreter_exports_and_reports(day: Day) -> None:
    got, made = await day.call("org", "POST", "/api/b2b/admin/meetings",
                               {"participants": [day.ids["ana"], day.ids["cy"]],
                                "start": day.slots[2], "table": 5})  # fmt: skip
    assert got == 201 and made["meeting"]["table"] == 5
    mid = made["meeting"]["id"]
    got, moved = await day.call("org", "POST", f"/api/b2b/admin/meetings/{mid}/move",
                                {"start": day.slots[3]})  # fmt: skip
    assert got == 200 and moved["meeting"]["start"] == day.slots[3]
    got, booked = await day.call("org", "POST", f"/api/b2b/admin/meetings/{mid}/interpreter",
                                 {"interpreter": day.ids["ivy"], "languages": ["pl", "da"]})  # fmt: skip
    assert got == 200 and booked["meeting"]["interpreter"] == day.ids["ivy"]
    assert day.web.mails[-1]["To"].addresses[0].username == "ivy"
    async with day.web.client.get("/api/b2b/admin/export.csv",
                                  headers=day.web.bearer(day.tokens["org"])) as resp:  # fmt: skip
        assert resp.status == 200 and resp.content_type == "text/csv"
        text = await resp.text()
    assert "@" not in text and "pl-da" in text and len(text.splitlines()) == 2
    got, grid = await day.call("org", "PUT", "/api/b2b/admin/grid",
                               {"meeting_minutes": 40, "break_minutes": 5, "tables": 12})  # fmt: skip
    assert (got, grid["reason"]) == (422, "grid_orphans")
    got, report = await day.call("org", "GET", "/api/b2b/admin/report")
    assert got == 200 and report["meetings"] == 1 and report["held"] == 0
    # The organizer's page offers the interpreters and the languages a pair can be booked in.
    got, view = await day.call("org", "GET", "/api/b2b/admin")
    assert got == 200 and view["interpreters"] == [day.ids["ivy"]]
    assert set(PROFILE["languages"]) <= set(view["languages"]) and view["languages"] == sorted(
        view["languages"]
    )


async def test_logo_upload_checks_bytes_and_size(day: Day) -> None:
    headers = {**day.web.bearer(day.tokens["ana"]), "Content-Type": "image/png"}
    async with day.web.client.put("/api/b2b/profile/logo", data=PNG, headers=headers) as resp:
        assert resp.status == 200
    svg = {**headers, "Content-Type": "image/svg+xml"}
    async with day.web.client.put("/api/b2b/profile/logo", data=b"<svg/>", headers=svg) as resp:
        assert resp.status == 422
    big = PNG + b"\x00" * (300 * 1024)
    async with day.web.client.put("/api/b2b/profile/logo", data=big, headers=headers) as resp:
        assert resp.status == 413
    async with day.web.client.get(f"/api/b2b/logos/{day.ids['ana']}",
                                  headers=day.web.bearer(day.tokens["bo"])) as resp:  # fmt: skip
        assert resp.status == 200 and await resp.read() == PNG
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_schedule_survives_a_restart(day: Day, make_web_app: MakeWebApp) -> None:
    _, made = await day.call("ana", "POST", "/api/b2b/requests",
                             {"invitee": day.ids["bo"], "start": day.slots[0]})  # fmt: skip
    await day.call("bo", "POST", f"/api/b2b/requests/{made['request']['id']}/accept")
    url = day.web.app[SETTINGS].database_url
    again = await make_web_app(defn=day.web.app[EVENT], database_url=url)
    d2 = Day(again, day.tokens, day.ids)
    _, me = await d2.call("bo", "GET", "/api/b2b/me")
    assert [m["start"] for m in me["meetings"]] == [day.slots[0]]


REGISTRANT = {
    "name": "Dag Holm",
    "email": "dag@vejle.example",
    "city": "Vejle",
    "country": "Denmark",
    "organization": "Vejle Heat",
    "requested_role": "participant",
    "language": "en",
    "timezone": "Europe/Copenhagen",
}
COMPANY = {
    "b2b": "on",
    "b2b_sector": "Energy",
    "b2b_offers": "District heating",
    "b2b_seeks": "Partners in Łódź",
    "b2b_languages": "da, en",
}


def multipart(fields: dict[str, str], logo: bytes | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    if logo is not None:
        form.add_field("b2b_logo", logo, filename="logo.png", content_type="image/png")
    return form


async def test_the_registration_form_takes_the_company_profile(day: Day) -> None:
    web, html_accept = day.web, {"Accept": "text/html"}
    async with web.client.get("/register", headers=html_accept) as resp:
        page = await resp.text()
    assert 'enctype="multipart/form-data"' in page and 'name="b2b_offers"' in page
    # Ticked but incomplete: every bad field named at once (the registration's and the
    # profile's), nothing stored.
    bad = {**REGISTRANT, "organization": "", **COMPANY, "b2b_sector": "", "b2b_languages": "x"}
    async with web.client.post("/register", data=multipart(bad, b"GIF89a"),
                               headers=html_accept) as resp:  # fmt: skip
        assert resp.status == 422
        page = await resp.text()
    for name in ("organization", "b2b_sector", "b2b_languages", "b2b_logo"):
        assert f'aria-describedby="{name}-error"' in page, name
    assert await registrations(web.app).get_by_email(REGISTRANT["email"]) is None
    # Complete, with a logo: a registration with its profile and logo.
    async with web.client.post("/register", data=multipart({**REGISTRANT, **COMPANY}, PNG),
                               headers=html_accept) as resp:  # fmt: skip
        assert resp.status == 200, await resp.text()
    reg = await registrations(web.app).get_by_email(REGISTRANT["email"])
    assert reg is not None
    _, found = await day.call("ana", "GET", "/api/b2b/profiles?q=heating")
    [dag] = found["profiles"]
    assert dag["person_id"] == reg.id and dag["organization"] == "Vejle Heat"
    assert dag["languages"] == ["da", "en"] and dag["city"] == "Vejle"
    assert dag["logo"] == f"/api/b2b/logos/{reg.id}" and "@" not in str(found)
    # Not ticked: a plain registration, no profile.
    plain = {**REGISTRANT, "email": "eva@vejle.example", **COMPANY, "b2b": ""}
    async with web.client.post("/register", data=plain, headers=html_accept) as resp:
        assert resp.status == 200
    _, found = await day.call("ana", "GET", "/api/b2b/profiles?q=heating")
    assert len(found["profiles"]) == 1


async def test_a_profile_waits_for_the_registration_to_be_approved(
    make_web_app: MakeWebApp, clock: FakeClock
) -> None:
    web = await make_web_app(defn=load_event(FORUM), require_approval=True)
    _, token = await web.seed(Role.PARTICIPANT, "Ana")
    async with web.client.post("/api/registrations", json={**REGISTRANT, **COMPANY}) as resp:
        assert resp.status == 201 and (await resp.json())["status"] == "pending"
    reg = await registrations(web.app).get_by_email(REGISTRANT["email"])
    assert reg is not None

    async def listed() -> list[str]:
        async with web.client.get("/api/b2b/profiles", headers=web.bearer(token)) as resp:
            return [p["person_id"] for p in (await resp.json())["profiles"]]

    assert await listed() == []  # pending: not in the directory
    await registrations(web.app).approve(reg.id, now=clock())
    assert await listed() == [reg.id]


async def test_every_change_mails_the_people_concerned_an_updated_calendar(day: Day) -> None:
    """Request, propose, decline (both sides), withdraw, accept, move, interpreter, cancel: each
    mails each person it concerns (and nobody else) a notice with b2b.ics, SEQUENCE growing."""
    seen: list[int] = []

    def mailed(*who: str) -> None:
        new = day.web.mails[len(day.web.mails) - len(who) :]
        assert sorted(m["To"].addresses[0].username for m in new) == sorted(who)
        sequences = {int(e["sequence"]) for m in new for e in calendar_of(m).walk("VEVENT")}
        if sequences:  # the reader's meetings (none before the first accept)
            seen.append(max(sequences))

    async def step(who: str, method: str, path: str, body: Any, *told: str) -> Any:
        before = len(day.web.mails)
        status, data = await day.call(who, method, path, body)
        assert status in (200, 201), data
        assert len(day.web.mails) - before == len(told), (path, told)
        mailed(*told)
        return data

    async def ask(start: str) -> str:
        data = await step("ana", "POST", "/api/b2b/requests",
                          {"invitee": day.ids["bo"], "start": start}, "bo")  # fmt: skip
        return str(data["request"]["id"])

    first = await ask(day.slots[0])
    await step("bo", "POST", f"/api/b2b/requests/{first}/propose", {"start": day.slots[1]}, "ana")
    await step("ana", "POST", f"/api/b2b/requests/{first}/decline", None, "ana", "bo")
    second = await ask(day.slots[2])
    await step("ana", "POST", f"/api/b2b/requests/{second}/withdraw", None, "bo")
    third = await ask(day.slots[3])
    made = await step("bo", "POST", f"/api/b2b/requests/{third}/accept", None, "ana", "bo")
    mid = made["meeting"]["id"]
    await step("org", "POST", f"/api/b2b/admin/meetings/{mid}/move", {"start": day.slots[4]},
               "ana", "bo")  # fmt: skip
    await step("org", "POST", f"/api/b2b/admin/meetings/{mid}/interpreter",
               {"interpreter": day.ids["ivy"], "languages": ["pl", "da"]}, "ana", "bo", "ivy")  # fmt: skip
    # The organizer schedules by hand: both participants are told, nobody else.
    await step("org", "POST", "/api/b2b/admin/meetings",
               {"participants": [day.ids["ana"], day.ids["cy"]], "start": day.slots[6]},
               "ana", "cy")  # fmt: skip
    scheduled = next(m for m in day.web.mails[-2:] if m["To"].addresses[0].username == "cy")
    assert "scheduled a meeting" in scheduled.get_body().get_content()
    # A grid change that keeps every meeting: everyone with a meeting still to come is told.
    await step("org", "PUT", "/api/b2b/admin/grid",
               {"meeting_minutes": 25, "break_minutes": 5, "tables": 12},
               "ana", "bo", "ivy", "cy")  # fmt: skip
    assert "changed the B2B grid" in day.web.mails[-1].get_body().get_content()
    await step("org", "POST", f"/api/b2b/admin/meetings/{mid}/cancel", None, "ana", "bo", "ivy")
    cancelled = [e for e in calendar_of(day.web.mails[-1]).walk("VEVENT")
                 if str(e["uid"]) == f"{mid}@b2b.simultan"]  # fmt: skip
    assert str(cancelled[0]["status"]) == "CANCELLED"
    # From the accept on, every calendar carries the meeting, its SEQUENCE growing each time.
    assert len(seen) == 6 and seen == sorted(set(seen)), seen


async def test_a_request_expires_on_the_clock_and_its_requester_is_mailed(day: Day) -> None:
    """No command after the request: the sweep alone expires it at its time (the clock the
    tests set) and mails the requester and the invitee the expiry notice."""
    status, made = await day.call("ana", "POST", "/api/b2b/requests",
                                  {"invitee": day.ids["bo"], "start": day.slots[0]})  # fmt: skip
    assert status == 201
    rid = made["request"]["id"]
    expires = made["request"]["expires_at"]
    schedule = day.web.app[SCHEDULE]
    before = len(day.web.mails)
    day.web.clock.now = schedule.state.requests[rid].expires_at - timedelta(seconds=1)
    await asyncio.sleep(2.5)  # two sweeps: not yet due
    assert len(day.web.mails) == before
    assert schedule.state.requests[rid].status is RequestStatus.PENDING
    day.web.clock.now = schedule.state.requests[rid].expires_at
    for _ in range(50):
        if len(day.web.mails) >= before + 2:
            break
        await asyncio.sleep(0.1)
    new = day.web.mails[before:]
    assert sorted(m["To"].addresses[0].username for m in new) == ["ana", "bo"]
    to_ana = next(m for m in new if m["To"].addresses[0].username == "ana")
    assert "A meeting request expired without an answer." in to_ana.get_body().get_content()
    assert schedule.state.requests[rid].status is RequestStatus.EXPIRED
    assert expires == schedule.state.requests[rid].expires_at.isoformat()
    # Logged: a restart replays the expiry, so the notice is not sent again.
    records = await schedule.store.commands()
    assert [d["command"] for d, _ in records] == ["request", "expire"]
    await asyncio.sleep(1.5)
    assert len(day.web.mails) == before + 2


async def test_the_b2b_notice_is_in_the_readers_language(day: Day) -> None:
    """A reader registered in Japanese gets the B2B notice in Japanese (what happened, the
    proposed time with a Japanese day, how to answer); English readers keep English."""
    store = registrations(day.web.app)
    await store._update(day.ids["bo"], day.web.app[CLOCK](), language="ja")
    status, _ = await day.call(
        "ana", "POST", "/api/b2b/requests", {"invitee": day.ids["bo"], "start": day.slots[0]}
    )
    assert status == 201
    notice = day.web.mails[-1]
    text = notice.get_body().get_content()
    assert notice["To"].addresses[0].username == "bo"
    assert "Ana (Widzew Energy) さんからミーティングの依頼が届きました。" in text
    assert "提案された時間：" in text and "B2B ページで返答" in text
    assert re.search(r"\d+月\d+日\([月火水木金土日]\)", text), text
    for english in ["asks you for a meeting", "Proposed time", "Your B2B page", "Dear"]:
        assert english not in text, english
    assert "さんからミーティングの依頼" in notice["Subject"]


@pytest.mark.parametrize(
    ("lang", "summary", "description", "location", "english"),
    [
        ("ja", "B2B ミーティング：", "B2B ページから参加してください：", "オンライン、テーブル 1",
         ["meeting", "Table", "Join", "Online"]),
        ("es", "Reunión B2B: ", "Únase desde su página B2B: ", "En línea, mesa 1",
         ["meeting", "Table", "Join", "Online"]),
    ],
)  # fmt: skip
async def test_the_b2b_calendar_is_in_the_readers_language(
    day: Day, lang: str, summary: str, description: str, location: str, english: list[str]
) -> None:
    """A Japanese (a Spanish) registrant's b2b.ics names the meeting, says how to join and
    where in their language, marked with LANGUAGE; the English reader's stays English."""
    store = registrations(day.web.app)
    await store._update(day.ids["bo"], day.web.app[CLOCK](), language=lang)
    _, made = await day.call(
        "ana", "POST", "/api/b2b/requests", {"invitee": day.ids["bo"], "start": day.slots[0]}
    )
    status, _ = await day.call("bo", "POST", f"/api/b2b/requests/{made['request']['id']}/accept")
    assert status == 200
    mails = {m["To"].addresses[0].username: m for m in day.web.mails[-2:]}
    assert mails["bo"]["Content-Language"] == lang
    [event] = calendar_of(mails["bo"]).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"{summary}Ana (Widzew Energy)", event["SUMMARY"]
    assert description in str(event["DESCRIPTION"]), event["DESCRIPTION"]
    assert str(event["LOCATION"]) == location
    for prop in ("SUMMARY", "DESCRIPTION", "LOCATION"):
        assert event[prop].params["LANGUAGE"] == lang
        for word in english:
            assert word not in str(event[prop]), (prop, word, str(event[prop]))
    [mine] = calendar_of(mails["ana"]).walk("VEVENT")
    assert str(mine["SUMMARY"]) == "B2B meeting: Bo (Aarhus Water)"
    assert (
        str(mine["LOCATION"]) == "Online, table 1" and mine["LOCATION"].params["LANGUAGE"] == "en"
    )
