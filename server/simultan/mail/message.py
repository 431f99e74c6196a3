"""The join mail: a personal link, the agenda in two time zones, and an ``invite.ics``.

Building a message is pure (no I/O); ``simultan.mail.mailer`` sends it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from zoneinfo import ZoneInfo

import icalendar

from simultan.core.capabilities import Role
from simultan.eventdef import AgendaItemDef, EventDefinition, item_duration
from simultan.i18n import date_time, long_date, pick, short_day, translate
from simultan.store.registrations import Registration

PRODID = "-//Simultan//Join link//EN"


@dataclass(frozen=True)
class AgendaLine:
    """One agenda item as shown in a mail: in the event's zone and in the reader's."""

    day: date  # the event-local day
    event_times: str  # "09:00-09:30"
    local_times: str  # "16:00-16:30" or "01:00-01:30 (Fri 4 Dec)"
    title: str


def event_days(defn: EventDefinition) -> list[tuple[date, datetime, datetime]]:
    """Each event day that has agenda items: (day, first start, last end), in UTC."""
    spans: dict[date, tuple[datetime, datetime]] = {}
    for item in defn.agenda:
        start = defn.planned_start(item)
        end = start + item_duration(item)
        first, last = spans.get(item.day, (start, end))
        spans[item.day] = (min(first, start), max(last, end))
    return [(day, *spans[day]) for day in sorted(spans)]


def agenda_lines(defn: EventDefinition, zone: ZoneInfo, lang: str = "en") -> list[AgendaLine]:
    items = sorted(defn.agenda, key=defn.planned_start)
    return [_line(defn, item, zone, lang) for item in items]


def _line(defn: EventDefinition, item: AgendaItemDef, zone: ZoneInfo, lang: str) -> AgendaLine:
    start = defn.planned_start(item)
    end = start + item_duration(item)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    local = f"{local_start:%H:%M}-{local_end:%H:%M}"
    if local_start.date() != item.day:
        local += f" ({short_day(lang, local_start.date())})"
    event_end = end.astimezone(defn.zone)
    return AgendaLine(
        day=item.day,
        event_times=f"{item.start:%H:%M}-{event_end:%H:%M}",
        local_times=local,
        title=item.title,
    )


def _role_text(registration: Registration, lang: str) -> str:
    if registration.role is Role.INTERPRETER and registration.booth:
        return translate(lang, "role.interpreter_booth", booth=registration.booth)
    return translate(lang, f"role.{registration.role.value}")


def mail_language(registration: Registration) -> str:
    """The language a registrant is written to in: their registration's, when we have it."""
    return pick([registration.language])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def invite_calendar(
    defn: EventDefinition, *, uid_base: str, link: str, now: datetime, lang: str = "en"
) -> bytes:
    """An iCalendar file with one VEVENT per event day, times in UTC, its texts in ``lang``.

    UIDs derive from ``uid_base`` (the registration id) and the day, so a resent invite
    updates the reader's calendar entry instead of adding a second one.
    """
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _one_line(defn.event.title))
    cal.add("x-wr-timezone", defn.event.timezone)
    days = event_days(defn)
    cal.add_component(
        icalendar.Timezone.from_tzid(
            defn.event.timezone,
            first_date=days[0][0] - timedelta(days=1),
            last_date=days[-1][0] + timedelta(days=1),
        )
    )
    in_lang = {"language": lang}
    for number, (day, start, end) in enumerate(days, 1):
        summary = _one_line(defn.event.title)
        if len(days) > 1:
            summary = translate(lang, "ics.day", title=summary, number=number)
        lines = [
            f"{a.event_times} {a.title}"
            for a in agenda_lines(defn, defn.zone, lang)
            if a.day == day
        ]
        description = "\n".join([
            translate(lang, "ics.join", link=link),
            "",
            translate(lang, "ics.agenda", zone=defn.event.timezone),
            *lines,
        ])  # fmt: skip
        event = icalendar.Event()
        event.add("uid", f"{uid_base}.{day.isoformat()}@simultan")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", start.astimezone(UTC))
        event.add("dtend", end.astimezone(UTC))
        event.add("summary", summary, parameters=in_lang)
        event.add("description", description, parameters=in_lang)
        event.add("location", translate(lang, "ics.online"), parameters=in_lang)
        event.add("url", link)
        cal.add_component(event)
    return bytes(cal.to_ical())


def join_message(
    *,
    defn: EventDefinition,
    registration: Registration,
    link: str,
    expires_at: datetime,
    sender: str,
    now: datetime,
) -> EmailMessage:
    """The mail that brings ``registration`` its personal join link, in their language."""
    lang = mail_language(registration)

    def tr(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    title = _one_line(defn.event.title)
    role = _role_text(registration, lang)
    reader_zone = ZoneInfo(registration.timezone)
    same_zone = registration.timezone == defn.event.timezone
    lines = agenda_lines(defn, reader_zone, lang)
    expiry = expires_at.astimezone(reader_zone)
    expiry_text = f"{date_time(lang, expiry)} ({registration.timezone})"
    event_zone = defn.event.timezone

    text = [
        tr("mail.dear", name=registration.name),
        "",
        tr("mail.registered", title=title, role=role),
        "",
        tr("mail.link_intro"),
        link,
        "",
        tr("mail.expires", expiry=expiry_text),
        "",
    ]
    if same_zone:
        text.append(tr("mail.agenda_one_zone", zone=event_zone))
    else:
        text.append(tr("mail.agenda_two_zones", zone=event_zone, own=registration.timezone))
    current: date | None = None
    for line in lines:
        if line.day != current:
            current = line.day
            text += ["", long_date(lang, line.day)]
        times = line.event_times if same_zone else f"{line.event_times} | {line.local_times}"
        text.append(f"  {times}  {line.title}")
    text += ["", tr("mail.ics"), "", f"-- {defn.event.organizer or title}"]

    esc = html.escape
    rows: list[str] = []
    current = None
    for line in lines:
        if line.day != current:
            current = line.day
            rows.append(f'<tr><th colspan="3">{esc(long_date(lang, line.day))}</th></tr>')
        local_cell = "" if same_zone else f"<td>{esc(line.local_times)}</td>"
        rows.append(
            f"<tr><td>{esc(line.event_times)}</td>{local_cell}<td>{esc(line.title)}</td></tr>"
        )
    zone_head = f"<th>{esc(event_zone)}</th>"
    if not same_zone:
        zone_head += f"<th>{esc(tr('mail.your_time', zone=registration.timezone))}</th>"
    registered = esc(tr("mail.registered", title="\0", role=role)).replace(
        "\0", f"<strong>{esc(title)}</strong>"
    )
    body = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{esc(title)}</title></head>
<body style="font-family: sans-serif">
<p>{esc(tr("mail.dear", name=registration.name))}</p>
<p>{registered}</p>
<p><a href="{esc(link)}">{esc(tr("mail.join"))}</a>: {esc(tr("mail.join_html"))}<br>{esc(link)}</p>
<p>{esc(tr("mail.expires", expiry=expiry_text))}</p>
<table cellpadding="4"><thead><tr>{zone_head}<th>{esc(tr("mail.agenda"))}</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<p>{esc(tr("mail.ics"))}</p>
<p>&mdash; {esc(defn.event.organizer or title)}</p>
</body></html>
"""

    msg = EmailMessage()
    msg["Subject"] = tr("mail.subject", title=title)
    msg["From"] = sender
    msg["To"] = Address(display_name=_one_line(registration.name), addr_spec=registration.email)
    msg["Date"] = format_datetime(now.astimezone(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "simultan.invalid"
    msg["Message-ID"] = make_msgid("join", domain=domain)
    msg.set_content("\n".join(text) + "\n")
    msg.add_alternative(body, subtype="html")
    msg.add_attachment(
        invite_calendar(defn, uid_base=registration.id, link=link, now=now, lang=lang),
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
        params={"method": "PUBLISH", "charset": "utf-8"},  # names are not ASCII
    )
    msg["Content-Language"] = lang  # after the parts: multipart moves Content-* headers down
    return msg
