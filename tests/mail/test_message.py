"""The join mail: link, agenda in two zones, escaped HTML, and an invite.ics that parses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage

import icalendar
import pytest

from simultan.core.capabilities import Role
from simultan.eventdef import EventDefinition, load_event
from simultan.mail.message import event_days, invite_calendar, join_message
from simultan.store.registrations import Registration, Status
from tests.conftest import FORUM

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
LINK = "https://seminar.example/join/abc.def"


def registration(**changes: object) -> Registration:
    reg = Registration(
        id="7d0c3a34-5b8e-4a55-9d42-3f1f0e2a9b10",
        event_id="iuc-city-to-city",
        name="Kenji Mori",
        email="kenji.mori@kitakyushu.example",
        city="Kitakyushu",
        country="Japan",
        organization="",
        requested_role=Role.PARTICIPANT,
        role=Role.PARTICIPANT,
        booth=None,
        language="en",
        timezone="Asia/Tokyo",
        status=Status.APPROVED,
        token_generation=0,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(reg, **changes)  # type: ignore[arg-type]


def build(defn: EventDefinition, reg: Registration | None = None, **kw: object) -> EmailMessage:
    return join_message(
        defn=defn,
        registration=reg or registration(),
        link=LINK,
        expires_at=EXPIRES,
        sender="Seminar <no-reply@seminar.example>",
        now=kw.get("now", NOW),  # type: ignore[arg-type]
    )


def part(msg: EmailMessage, subtype: str) -> str:
    body = msg.get_body(preferencelist=(subtype,))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def ics_of(msg: EmailMessage) -> icalendar.Calendar:
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["invite.ics"]
    assert attachments[0].get_content_type() == "text/calendar"
    raw = attachments[0].get_payload(decode=True)
    assert isinstance(raw, bytes)
    return icalendar.Calendar.from_ical(raw)


def test_headers(seminar: EventDefinition) -> None:
    msg = build(seminar)
    assert msg["To"] == "Kenji Mori <kenji.mori@kitakyushu.example>"
    assert msg["From"] == "Seminar <no-reply@seminar.example>"
    assert msg["Subject"] == f"Your join link: {seminar.event.title}"
    assert msg["Message-ID"].endswith("@seminar.example>")


def test_text_part_has_link_and_agenda_in_both_zones(seminar: EventDefinition) -> None:
    text = part(build(seminar), "plain")
    assert LINK in text
    assert "Europe/Brussels (event time) | Asia/Tokyo (your time)" in text
    # 09:00 in Brussels on 3 December (UTC+1) is 17:00 in Tokyo (UTC+9).
    assert "09:00-09:30 | 17:00-17:30  Welcome: what IUC city pairs achieved" in text
    # The closing ends at 17:30 in Brussels: 01:30 the next day in Tokyo.
    assert "17:00-17:30 | 01:00-01:30 (Fri, Dec 4)  Closing: what comes after IUC" in text
    assert "Thursday, December 3, 2026" in text
    assert "Sat, Dec 5, 2026 01:30 (Asia/Tokyo)" in text  # the expiry, in the reader's zone


def test_same_zone_shows_one_column(seminar: EventDefinition) -> None:
    text = part(build(seminar, registration(timezone="Europe/Brussels")), "plain")
    assert "Agenda, times in Europe/Brussels:" in text
    assert "  09:00-09:30  Welcome" in text
    assert "|" not in text


def test_role_is_named(seminar: EventDefinition) -> None:
    reg = registration(role=Role.INTERPRETER, booth="ja")
    assert "as interpreter (booth ja)" in part(build(seminar, reg), "plain")


def test_html_part_escapes_user_text(seminar: EventDefinition) -> None:
    reg = registration(name='<script>alert("x")</script> & Co')
    html = part(build(seminar, reg), "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert f'<a href="{LINK}">' in html
    text = part(build(seminar, reg), "plain")
    assert '<script>alert("x")</script> & Co' in text  # plain text is not HTML


def test_invite_has_one_event_per_day_in_utc(seminar: EventDefinition) -> None:
    cal = ics_of(build(seminar))
    assert cal["X-WR-TIMEZONE"] == "Europe/Brussels"
    assert cal["METHOD"] == "PUBLISH"
    zones = [tz["TZID"] for tz in cal.walk("VTIMEZONE")]
    assert zones == ["Europe/Brussels"]
    events = cal.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # 09:00 Brussels
    assert end == datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # 17:30 Brussels
    assert start.utcoffset().total_seconds() == 0
    assert str(event["URL"]) == LINK
    assert LINK in str(event["DESCRIPTION"])
    assert event["UID"] == "7d0c3a34-5b8e-4a55-9d42-3f1f0e2a9b10.2026-12-03@simultan"
    raw = cal.to_ical().decode()
    assert "DTSTART:20261203T080000Z" in raw
    assert "DTEND:20261203T163000Z" in raw


def test_uid_is_stable_per_registration(seminar: EventDefinition) -> None:
    first = ics_of(build(seminar)).walk("VEVENT")[0]["UID"]
    later = ics_of(build(seminar, now=datetime(2026, 11, 30, tzinfo=UTC))).walk("VEVENT")[0]
    other = ics_of(build(seminar, registration(id="other"))).walk("VEVENT")[0]
    assert later["UID"] == first
    assert other["UID"] != first


def test_multi_day_event() -> None:
    forum = load_event(FORUM)
    days = event_days(forum)
    assert len(days) == 2
    raw = invite_calendar(forum, uid_base="r1", link=LINK, now=NOW)
    cal = icalendar.Calendar.from_ical(raw)
    assert cal["X-WR-TIMEZONE"] == "Europe/Warsaw"
    events = cal.walk("VEVENT")
    assert [e["UID"] for e in events] == [f"r1.{d.isoformat()}@simultan" for d, _, _ in days]
    for event, (_day, start, end) in zip(events, days, strict=True):
        assert event.decoded("DTSTART") == start
        assert event.decoded("DTEND") == end
        assert str(event["SUMMARY"]).endswith(")")  # "(day 1)", "(day 2)"


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Adak", "Asia/Kathmandu"])
def test_far_zones_render(seminar: EventDefinition, zone: str) -> None:
    text = part(build(seminar, registration(timezone=zone)), "plain")
    assert f"{zone} (your time)" in text


@pytest.mark.parametrize(
    ("language", "subject", "day"),
    [
        ("ja", "参加リンクのご案内：", "2026年12月3日木曜日"),
        ("zh", "您的参会链接：", "2026年12月3日星期四"),
        ("es", "Su enlace de acceso: ", "jueves, 3 de diciembre de 2026"),
        ("pl", "Twój link dostępu: ", "czwartek, 3 grudnia 2026"),
        ("cs", "Váš odkaz pro připojení: ", "čtvrtek 3. prosince 2026"),
    ],
)
def test_mail_is_in_the_registrants_language(
    seminar: EventDefinition, language: str, subject: str, day: str
) -> None:
    msg = build(seminar, registration(language=language))
    assert msg["Subject"] == subject + seminar.event.title
    assert msg["Content-Language"] == language
    text, html = part(msg, "plain"), part(msg, "html")
    assert day in text and day in html
    assert LINK in text and f'<a href="{LINK}">' in html
    assert "Dear" not in text and "Agenda" not in text  # nothing left in English
    assert f'<html lang="{language}">' in html


def test_japanese_mail_names_the_role_and_the_late_local_day(seminar: EventDefinition) -> None:
    reg = registration(language="ja", role=Role.INTERPRETER, booth="ja")
    text = part(build(seminar, reg), "plain")
    assert "「" + seminar.event.title + "」に通訳者（jaブース）として登録されました。" in text
    # The closing ends at 01:30 the next day in Tokyo: the day is named the Japanese way.
    assert "01:00-01:30 (12月4日(金))" in text


def test_a_language_without_catalog_is_written_to_in_english(seminar: EventDefinition) -> None:
    msg = build(seminar, registration(language="de"))
    assert msg["Subject"] == f"Your join link: {seminar.event.title}"
    assert msg["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("language", "day_two", "join", "agenda", "online"),
    [
        ("ja", "（2 日目）", "参加：", "プログラム（Europe/Warsaw）：", "オンライン"),
        ("es", " (día 2)", "Unirse: ", "Programa (Europe/Warsaw):", "En línea"),
    ],
)
def test_invite_calendar_is_in_the_registrants_language(
    language: str, day_two: str, join: str, agenda: str, online: str
) -> None:
    forum = load_event(FORUM)
    msg = join_message(
        defn=forum, registration=registration(language=language), link=LINK,
        expires_at=EXPIRES, sender="Forum <forum@example.org>", now=NOW,
    )  # fmt: skip
    [ics] = [a for a in msg.iter_attachments() if a.get_filename() == "invite.ics"]
    events = icalendar.Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert str(events[1]["SUMMARY"]) == forum.event.title + day_two
    for event in events:
        text = str(event["DESCRIPTION"])
        assert text.startswith(join + LINK) and agenda in text, text
        assert str(event["LOCATION"]) == online
        assert "(day" not in str(event["SUMMARY"]) and "Join" not in text and "Agenda" not in text
        for prop in ("SUMMARY", "DESCRIPTION", "LOCATION"):
            assert event[prop].params["LANGUAGE"] == language
