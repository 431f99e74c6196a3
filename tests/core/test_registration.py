"""Registration rules: pure, no event loop."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simultan.core.capabilities import Role
from simultan.core.registration import (
    MAX_LENGTH,
    RegistrationForm,
    check_role_assignment,
    is_time_zone,
    normalize_email,
)
from simultan.errors import ValidationError

LANGUAGES = ("en", "zh", "ja", "es")


def good(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Ana Souza",
        "email": "ana.souza@curitiba.example",
        "city": "Curitiba",
        "country": "Brazil",
        "organization": "Prefeitura de Curitiba",
        "requested_role": "participant",
        "language": "es",
        "timezone": "America/Sao_Paulo",
    }
    data.update(changes)
    return data


def errors_of(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        RegistrationForm.validate(data, languages=LANGUAGES)
    assert caught.value.code == "invalid_input"
    return caught.value.fields


def test_valid_form_is_trimmed_and_normalized() -> None:
    form = RegistrationForm.validate(
        good(name="  Ana Souza ", email=" Ana.Souza@Curitiba.EXAMPLE ", city="Curitiba\t"),
        languages=LANGUAGES,
    )
    assert form.name == "Ana Souza"
    assert form.email == "ana.souza@curitiba.example"
    assert form.city == "Curitiba"
    assert form.requested_role is Role.PARTICIPANT
    assert form.language == "es"
    assert form.timezone == "America/Sao_Paulo"


def test_organization_optional_and_role_defaults_to_participant() -> None:
    data = good()
    del data["organization"], data["requested_role"]
    form = RegistrationForm.validate(data, languages=LANGUAGES)
    assert form.organization == ""
    assert form.requested_role is Role.PARTICIPANT


def test_every_bad_field_is_reported_at_once() -> None:
    fields = errors_of(
        {
            "name": " ",
            "email": "not-an-address",
            "city": "",
            "requested_role": "moderator",
            "language": "fr",
            "timezone": "Mars/Olympus_Mons",
        }
    )
    assert fields == {
        "name": "is required",
        "email": "is not an email address (name@example.org)",
        "city": "is required",
        "country": "is required",
        "requested_role": "must be one of participant, panelist, interpreter",
        "language": "must be one of the event's languages: en, zh, ja, es",
        "timezone": "is not a known time zone (for example Europe/Brussels)",
    }


@pytest.mark.parametrize("field", ["name", "city", "country", "organization"])
def test_length_limits(field: str) -> None:
    limit = MAX_LENGTH[field]
    form = RegistrationForm.validate(good(**{field: "x" * limit}), languages=LANGUAGES)
    assert getattr(form, field) == "x" * limit
    assert errors_of(good(**{field: "x" * (limit + 1)})) == {
        field: f"must be at most {limit} characters"
    }


def test_email_length_limit() -> None:
    local = "a" * 64
    domain = ".".join(["b" * 60] * 3) + ".example"  # 64 + 1 + 191 = 256
    assert "email" in errors_of(good(email=f"{local}@{domain}"))
    fine = f"{local}@{'.'.join(['b' * 60] * 3)}.ex"  # 64 + 1 + 186 = 251
    assert RegistrationForm.validate(good(email=fine), languages=LANGUAGES).email == fine


@pytest.mark.parametrize(
    "value", ["Ana\x00", "Ana\nSouza", "Ana\u2028Souza", "\u202eanaS", "A\x1b[31m", "Ana\x7f"]
)
def test_control_characters_are_refused(value: str) -> None:
    assert errors_of(good(name=value)) == {"name": "must not contain control characters"}


def test_markup_is_data() -> None:
    name = "<script>alert('x')</script> & <b>"
    form = RegistrationForm.validate(good(name=name), languages=LANGUAGES)
    assert form.name == name


def test_names_in_any_script_are_normalized_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Łódź Górski 北京 المدينة")
    form = RegistrationForm.validate(good(name=decomposed), languages=LANGUAGES)
    assert form.name == unicodedata.normalize("NFC", decomposed)


@pytest.mark.parametrize(
    "value",
    [
        "plain@example.org",
        "first.last+seminar@city.gov.example",
        "o'neil@example.co.uk",
        "x@sub-domain.example",
    ],
)
def test_plausible_emails(value: str) -> None:
    assert normalize_email(value) == value.lower()


@pytest.mark.parametrize(
    "value",
    [
        "no-at-sign",
        "@example.org",
        "name@",
        "name@localhost",
        "two@@example.org",
        "a b@example.org",
        "a@b@example.org",
        ".dot@example.org",
        "dot..dot@example.org",
        "name@-bad-.example",
        "name@example..org",
        "name@1.2.3.4",
        "<script>@example.org",
        "náme@example.org",
        'name"@example.org',
    ],
)
def test_implausible_emails(value: str) -> None:
    with pytest.raises(ValueError):
        normalize_email(value)


def test_international_domain_becomes_punycode() -> None:
    assert normalize_email("Info@Łódź.example") == "info@xn--d-uga0v4h.example"


def test_values_must_be_text() -> None:
    fields = errors_of(good(name=["a", "b"], city=12, language=None))
    assert fields == {"name": "must be text", "city": "must be text", "language": "must be text"}


def test_unknown_fields_are_refused() -> None:
    assert errors_of(good(role="organizer")) == {"role": "is not a registration field"}


@pytest.mark.parametrize("role", ["participant", "panelist", "interpreter"])
def test_requestable_roles(role: str) -> None:
    form = RegistrationForm.validate(good(requested_role=role), languages=LANGUAGES)
    assert form.requested_role == Role(role)


@pytest.mark.parametrize("role", ["moderator", "organizer", "Participant", "admin"])
def test_roles_that_cannot_be_requested(role: str) -> None:
    assert "requested_role" in errors_of(good(requested_role=role))


@pytest.mark.parametrize(
    "zone", ["Europe/Brussels", "Asia/Tokyo", "America/Argentina/Cordoba", "UTC"]
)
def test_known_time_zones(zone: str) -> None:
    assert is_time_zone(zone)


@pytest.mark.parametrize(
    "zone",
    ["", "Mars/Base", "localtime", "Factory", "../../etc/passwd", "/etc/localtime", "x" * 80],
)
def test_unknown_time_zones(zone: str) -> None:
    assert not is_time_zone(zone)


def test_role_assignment_rules() -> None:
    booths = ("zh", "ja", "es")
    assert check_role_assignment("interpreter", "zh", booths=booths) == (Role.INTERPRETER, "zh")
    assert check_role_assignment("moderator", None, booths=booths) == (Role.MODERATOR, None)
    assert check_role_assignment("panelist", "", booths=booths) == (Role.PANELIST, None)
    cases: list[tuple[object, object, dict[str, str]]] = [
        ("interpreter", None, {"booth": "is required for an interpreter"}),
        ("interpreter", "fr", {"booth": "must be one of the event's booths: zh, ja, es"}),
        ("participant", "zh", {"booth": "only interpreters have a booth"}),
        ("king", None, {"role": "must be one of " + ", ".join(Role)}),
        (None, 5, {"role": "must be one of " + ", ".join(Role), "booth": "must be text"}),
    ]
    for role, booth, expected in cases:
        with pytest.raises(ValidationError) as caught:
            check_role_assignment(role, booth, booths=booths)
        assert caught.value.fields == expected


@given(st.text(max_size=300))
def test_any_name_is_accepted_clean_or_refused_with_a_reason(name: str) -> None:
    try:
        form = RegistrationForm.validate(good(name=name), languages=LANGUAGES)
    except ValidationError as exc:
        assert set(exc.fields) == {"name"}
        return
    assert 0 < len(form.name) <= MAX_LENGTH["name"]
    assert form.name == form.name.strip()
    assert not any(unicodedata.category(ch) == "Cc" for ch in form.name)


@given(st.dictionaries(st.text(max_size=20), st.one_of(st.text(), st.integers(), st.none())))
def test_arbitrary_input_never_raises_anything_else(data: dict[str, object]) -> None:
    try:
        RegistrationForm.validate(data, languages=LANGUAGES)
    except ValidationError as exc:
        assert exc.fields


def test_the_topic_is_optional_and_one_of_the_events() -> None:
    topics = ("covid-recovery", "green-deal")

    def form(**changes: object) -> RegistrationForm:
        return RegistrationForm.validate(good(**changes), languages=LANGUAGES, topics=topics)

    assert form(topic=" green-deal ").topic == "green-deal"
    assert form().topic is None and form(topic="").topic is None
    with pytest.raises(ValidationError) as caught:
        form(topic="astrology")
    assert caught.value.fields == {
        "topic": "must be one of the event's topics: covid-recovery, green-deal"
    }
    assert errors_of(good(topic="green-deal")) == {
        "topic": "this event has no discussion topics to choose"
    }
