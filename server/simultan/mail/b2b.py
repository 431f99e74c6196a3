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
from simultan.i18n import pick, short_day, translate
from simultan.store.registrations import Registration

PRODID = "-//Simultan//B2B schedule//EN"

# What happened, as the mail's first line: catalog key mail.b2b_<change> (in the reader's
# language, from client/i18n like every other mail).


def _who(names: Mapping[str, str], ids: tuple[str, ...], reader: str, lang: str = "en") -> str:
    anyone = translate(lang, "b2b.a_participant")
    return ", ".join(names.get(i, anyone) for i in ids if i != reader)


def _other(
    state: B2BState, event: B2BEvent, reader: str, names: Mapping[str, str], lang: str
) -> str:
    r = state.requests.get(event.subject)
    if r is not None:
        return _who(names, r.people, reader, lang)
    m = state.meetings.get(event.subject)
    if m is not None:
        return _who(names, m.people, reader, lang)
    return translate(lang, "mail.b2b_someone")


def _when(start: datetime, end: datetime, zone: ZoneInfo, lang: str = "en") -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    return f"{short_day(lang, a.date())} {a:%H:%M}-{b:%H:%M}"


def schedule_calendar(
    state: B2BState, reader: str, names: Mapping[str, str], *, title: str, link: str,
    now: datetime, lang: str = "en",
) -> bytes:  # fmt: skip
    """The reader's meetings as iCalendar, its texts in ``lang`` (catalog keys ``ics.b2b_*``;
    SUMMARY, DESCRIPTION and LOCATION carry a LANGUAGE parameter)."""
    in_lang = {"language": lang}
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", translate(lang, "ics.b2b_calendar", title=title))
    mine = sorted((m for m in state.meetings.values() if reader in m.people), key=lambda m: m.start)
    for m in mine:
        event = icalendar.Event()
        event.add("uid", f"{m.id}@b2b.simultan")
        event.add("sequence", state.version)
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", m.start.astimezone(UTC))
        event.add("dtend", m.end.astimezone(UTC))
        who = _who(names, m.participants, reader, lang)
        description = translate(lang, "ics.b2b_description", table=m.table, link=link)
        if m.interpretation is not None:  # as the mail's schedule line says it
            a, b = m.interpretation.languages
            table = translate(lang, "mail.b2b_table", table=m.table, who=who)
            interpreted = translate(lang, "mail.b2b_interpreted", languages=f"{a}-{b}")
            description = f"{table}{interpreted}\n{description}"
        event.add("summary", translate(lang, "ics.b2b_summary", who=who), parameters=in_lang)
        event.add("description", description, parameters=in_lang)
        event.add(
            "location", translate(lang, "ics.b2b_location", table=m.table), parameters=in_lang
        )
        event.add("url", link)
        event.add("status", "CANCELLED" if m.cancelled else "CONFIRMED")
        cal.add_component(event)
    return bytes(cal.to_ical())


def _line(m: Meeting, reader: str, names: Mapping[str, str], zone: ZoneInfo, lang: str) -> str:
    extra = ""
    if m.interpretation is not None:
        a, b = m.interpretation.languages
        extra = translate(lang, "mail.b2b_interpreted", languages=f"{a}-{b}")
    who = _who(names, m.participants, reader, lang)
    table = translate(lang, "mail.b2b_table", table=m.table, who=who)
    return f"  {_when(m.start, m.end, zone, lang)}  {table}{extra}"


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
    lang = pick([reader.language])
    other = _other(state, event, reader.id, names, lang)
    what = translate(lang, f"mail.b2b_{event.change.value}", other=other)
    text = [translate(lang, "mail.dear", name=reader.name), "", what, ""]
    r = state.requests.get(event.subject)
    if r is not None and event.change in (Change.REQUESTED, Change.PROPOSED):
        slot = state.grid.slot_at(r.start)
        when = _when(slot.start, slot.end, zone, lang)
        text += [translate(lang, "mail.b2b_proposed_time", when=when, zone=reader.timezone)]
        if r.message:
            text += [translate(lang, "mail.b2b_message")]
            text += [f"  {line}" for line in r.message.splitlines()]
        text += [translate(lang, "mail.b2b_answer"), ""]
    meetings = [m for m in state.meetings_of(reader.id)]
    if meetings:
        text.append(translate(lang, "mail.b2b_meetings", zone=reader.timezone))
        text += [_line(m, reader.id, names, zone, lang) for m in meetings]
    else:
        text.append(translate(lang, "mail.b2b_none"))
    text += ["", translate(lang, "mail.b2b_page", link=link), ""]
    text += [translate(lang, "mail.b2b_ics"), "", f"-- {title}"]

    msg = EmailMessage()
    msg["Subject"] = f"B2B: {what} ({title})"
    msg["From"] = sender
    msg["To"] = Address(display_name=" ".join(reader.name.split()), addr_spec=reader.email)
    msg["Date"] = format_datetime(now.astimezone(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "simultan.invalid"
    msg["Message-ID"] = make_msgid("b2b", domain=domain)
    msg.set_content("\n".join(text) + "\n")
    msg.add_attachment(
        schedule_calendar(state, reader.id, names, title=title, link=link, now=now, lang=lang),
        maintype="text",
        subtype="calendar",
        filename="b2b.ics",
        params={"method": "PUBLISH", "charset": "utf-8"},  # names are not ASCII
    )
    msg["Content-Language"] = lang  # after the parts: multipart moves Content-* headers down
    return msg
