"""The B2B notice: what changed, the reader's meetings in their time zone, an updated .ics.

Building a message is pure (no I/O). The calendar holds every meeting the reader is or was in:
UIDs are the meeting ids and SEQUENCE is the schedule's version, so a calendar updates its
entries (a moved meeting moves, a cancelled one is marked cancelled) instead of adding more.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from zoneinfo import ZoneInfo

import icalendar

from simultan.core.b2b import B2BEvent, B2BState, Change, Meeting
from simultan.store.registrations import Registration

PRODID = "-//Simultan//B2B schedule//EN"

_WHAT = {
    Change.REQUESTED: "{other} asks you for a meeting.",
    Change.ACCEPTED: "A meeting was agreed.",
    Change.DECLINED: "A meeting request was declined.",
    Change.PROPOSED: "{other} proposes another time for your meeting.",
    Change.WITHDRAWN: "{other} withdrew a meeting request.",
    Change.EXPIRED: "A meeting request expired without an answer.",
    Change.SCHEDULED: "The organizers scheduled a meeting for you.",
    Change.MOVED: "One of your meetings was moved.",
    Change.CANCELLED: "One of your meetings was cancelled.",
    Change.INTERPRETER: "The interpretation of one of your meetings changed.",
    Change.GRID: "The organizers changed the B2B grid.",
}


def _who(names: Mapping[str, str], ids: tuple[str, ...], reader: str) -> str:
    return ", ".join(names.get(i, "a participant") for i in ids if i != reader)


def _other(state: B2BState, event: B2BEvent, reader: str, names: Mapping[str, str]) -> str:
    r = state.requests.get(event.subject)
    if r is not None:
        return _who(names, r.people, reader)
    m = state.meetings.get(event.subject)
    return _who(names, m.people, reader) if m is not None else "Someone"


def _when(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    return f"{a:%a} {a.day} {a:%b} {a:%H:%M}-{b:%H:%M}"


def schedule_calendar(
    state: B2BState, reader: str, names: Mapping[str, str], *, title: str, link: str,
    now: datetime,
) -> bytes:  # fmt: skip
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"B2B: {title}")
    mine = sorted((m for m in state.meetings.values() if reader in m.people), key=lambda m: m.start)
    for m in mine:
        event = icalendar.Event()
        event.add("uid", f"{m.id}@b2b.simultan")
        event.add("sequence", state.version)
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", m.start.astimezone(UTC))
        event.add("dtend", m.end.astimezone(UTC))
        event.add("summary", f"B2B meeting: {_who(names, m.participants, reader)}")
        event.add("description", f"Table {m.table}. Join from your B2B page: {link}")
        event.add("location", f"Online, table {m.table}")
        event.add("url", link)
        event.add("status", "CANCELLED" if m.cancelled else "CONFIRMED")
        cal.add_component(event)
    return bytes(cal.to_ical())


def _line(m: Meeting, reader: str, names: Mapping[str, str], zone: ZoneInfo) -> str:
    extra = ""
    if m.interpretation is not None:
        a, b = m.interpretation.languages
        extra = f", interpreted {a}-{b}"
    who = _who(names, m.participants, reader)
    return f"  {_when(m.start, m.end, zone)}  table {m.table}: {who}{extra}"


def b2b_notice(
    *,
    state: B2BState,
    event: B2BEvent,
    reader: Registration,
    names: Mapping[str, str],
    title: str,
    link: str,
    sender: str,
    now: datetime,
) -> EmailMessage:
    """The mail that tells ``reader`` about ``event``, with their whole schedule attached."""
    zone = ZoneInfo(reader.timezone)
    what = _WHAT[event.change].format(other=_other(state, event, reader.id, names))
    text = [f"Dear {reader.name},", "", what, ""]
    r = state.requests.get(event.subject)
    if r is not None and event.change in (Change.REQUESTED, Change.PROPOSED):
        slot = state.grid.slot_at(r.start)
        text += [f"Proposed time: {_when(slot.start, slot.end, zone)} ({reader.timezone})"]
        if r.message:
            text += ["Message:", *(f"  {line}" for line in r.message.splitlines())]
        text += ["Answer on your B2B page before the request expires:", ""]
    meetings = [m for m in state.meetings_of(reader.id)]
    if meetings:
        text.append(f"Your B2B meetings, times in {reader.timezone}:")
        text += [_line(m, reader.id, names, zone) for m in meetings]
    else:
        text.append("You have no B2B meetings yet.")
    text += ["", f"Your B2B page: {link}", "", "The attached b2b.ics updates your calendar.", ""]
    text.append(f"-- {title}")

    msg = EmailMessage()
    msg["Subject"] = f"B2B: {what} ({title})"
    msg["From"] = sender
    msg["To"] = Address(display_name=" ".join(reader.name.split()), addr_spec=reader.email)
    msg["Date"] = format_datetime(now.astimezone(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "simultan.invalid"
    msg["Message-ID"] = make_msgid("b2b", domain=domain)
    msg.set_content("\n".join(text) + "\n")
    msg.add_attachment(
        schedule_calendar(state, reader.id, names, title=title, link=link, now=now),
        maintype="text",
        subtype="calendar",
        filename="b2b.ics",
        params={"method": "PUBLISH"},
    )
    return msg
