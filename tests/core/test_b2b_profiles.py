"""Company profiles (pure): field rules, directory search, logo checks."""

from __future__ import annotations

import pytest

from simultan.core.b2b_profiles import Profile, check_logo, matches
from simultan.errors import ValidationError

GOOD = {
    "organization": "Widzew Energy",
    "sector": "Energy",
    "offers": "Heat pumps\nDistrict heating audits",
    "seeks": "Danish partners for <b>retrofits</b>",
    "languages": ["pl", "en"],
    "country": "Poland",
    "city": "Łódź",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_good_profile_keeps_lines_and_markup_as_text() -> None:
    p = Profile.validate(GOOD)
    assert p.offers == "Heat pumps\nDistrict heating audits"
    assert p.seeks == "Danish partners for <b>retrofits</b>"
    assert Profile.validate({**GOOD, "languages": "pl, EN da"}).languages == ("pl", "en", "da")


def test_every_bad_field_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        Profile.validate(
            {
                "organization": "",
                "sector": 3,
                "offers": "x" * 2001,
                "languages": ["english"],
                "country": "Poland",
                "city": "Łódź\u202e",
                "email": "a@b.c",
            }
        )
    assert set(exc.value.fields) == {
        "organization", "sector", "offers", "languages", "city", "email",
    }  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        Profile.validate({**GOOD, "languages": []})
    assert "languages" in exc.value.fields


def test_search_by_words_sector_country_language() -> None:
    p = Profile.validate(GOOD)
    assert matches(p)
    assert matches(p, text="heat RETROFITS", sector="energy", country="poland", language="pl")
    assert not matches(p, text="water")
    assert not matches(p, sector="Mobility")
    assert not matches(p, language="da")


def test_logo_is_checked_by_its_bytes_and_size() -> None:
    assert check_logo(PNG, "image/png", 1024) == "image/png"
    assert check_logo(b"\xff\xd8\xff\xe0" + b"\x00" * 10, "", 1024) == "image/jpeg"
    assert check_logo(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", 1024) == "image/webp"
    for body, declared in (
        (b"<svg onload=alert(1)>", "image/svg+xml"),
        (PNG, "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", ""),
        (PNG + b"\x00" * 2000, "image/png"),
    ):
        with pytest.raises(ValidationError):
            check_logo(body, declared, 1024)
