"""Join tokens: signed claims, expiry against an injected clock, clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from simultan.core.capabilities import Role
from simultan.errors import AuthError
from simultan.tokens import SALT, Claims, JoinTokens

SECRET = "s3cret-for-tests"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)


def claims(**changes: object) -> Claims:
    values: dict[str, object] = {
        "event_id": "iuc-city-to-city",
        "person_id": "2f1c7a9e-0000-4000-8000-000000000001",
        "role": Role.INTERPRETER,
        "booth": "zh",
        "generation": 3,
        "expires_at": EXPIRES,
    }
    values.update(changes)
    return Claims(**values)  # type: ignore[arg-type]


@pytest.fixture
def tokens() -> JoinTokens:
    return JoinTokens(SECRET, "iuc-city-to-city")


def refusal(tokens: JoinTokens, token: str, now: datetime = NOW) -> AuthError:
    with pytest.raises(AuthError) as caught:
        tokens.decode(token, now)
    assert caught.value.http_status == 401
    return caught.value


def test_round_trip(tokens: JoinTokens) -> None:
    token = tokens.issue(claims())
    assert tokens.decode(token, NOW) == claims()
    assert all(c.isalnum() or c in "-_." for c in token)  # safe in a path and a fragment


def test_round_trip_without_booth(tokens: JoinTokens) -> None:
    original = claims(role=Role.PARTICIPANT, booth=None, generation=0)
    assert tokens.decode(tokens.issue(original), NOW) == original


def test_expiry_is_checked_against_the_given_now(tokens: JoinTokens) -> None:
    token = tokens.issue(claims())
    assert tokens.decode(token, EXPIRES - timedelta(seconds=1)).person_id
    for when in (EXPIRES, EXPIRES + timedelta(days=30)):
        error = refusal(tokens, token, when)
        assert error.message == "This join link has expired. Ask the organizers for a new one."
        assert error.details == {"reason": "expired"}


def test_tampered_signature(tokens: JoinTokens) -> None:
    token = tokens.issue(claims())
    last = "A" if token[-1] != "A" else "B"
    error = refusal(tokens, token[:-1] + last)
    assert error.details == {"reason": "tampered"}
    assert "changed or cut short" in error.message


def test_tampered_payload_cannot_promote_a_role(tokens: JoinTokens) -> None:
    mine = tokens.issue(claims(role=Role.PARTICIPANT, booth=None))
    forged_payload = URLSafeSerializer("guessed", salt=SALT).dumps(
        {"e": "iuc-city-to-city", "p": "x", "r": "organizer", "b": None, "g": 0, "x": 2**31}
    )
    forged = forged_payload.rsplit(".", 1)[0] + "." + mine.rsplit(".", 1)[1]
    assert refusal(tokens, forged).details == {"reason": "tampered"}


def test_truncated_link_is_tampered(tokens: JoinTokens) -> None:
    token = tokens.issue(claims())
    assert refusal(tokens, token[:-5]).details == {"reason": "tampered"}


def test_other_secret_or_other_purpose_is_refused(tokens: JoinTokens) -> None:
    token = JoinTokens("another secret", "iuc-city-to-city").issue(claims())
    assert refusal(tokens, token).details == {"reason": "tampered"}
    same_secret_other_salt = URLSafeSerializer(SECRET, salt="password-reset").dumps({"p": "x"})
    assert refusal(tokens, same_secret_other_salt).details == {"reason": "tampered"}


def test_foreign_event(tokens: JoinTokens) -> None:
    other = JoinTokens(SECRET, "lodz-partner-cities-forum")
    token = other.issue(claims(event_id="lodz-partner-cities-forum"))
    error = refusal(tokens, token)
    assert error.message == "This join link is for another event."
    assert error.details == {"reason": "foreign_event"}
    assert other.decode(token, NOW).event_id == "lodz-partner-cities-forum"


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "not a token", "x" * 5000, "abc.def\n", "%2e%2e.x"]
)
def test_malformed(tokens: JoinTokens, token: str) -> None:
    error = refusal(tokens, token)
    assert error.message == "This join link is malformed."
    assert error.details == {"reason": "malformed"}


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],
        {"e": "iuc-city-to-city"},
        {"e": "iuc-city-to-city", "p": "x", "r": "king", "b": None, "g": 0, "x": 2**31},
        {"e": "iuc-city-to-city", "p": "x", "r": "participant", "b": 7, "g": 0, "x": 2**31},
        {"e": "iuc-city-to-city", "p": "x", "r": "participant", "b": None, "g": "0", "x": 1},
        {"e": "iuc-city-to-city", "p": "x", "r": "participant", "b": None, "g": 0, "x": 10**20},
    ],
)
def test_signed_but_malformed_payload(tokens: JoinTokens, payload: object) -> None:
    token = URLSafeSerializer(SECRET, salt=SALT).dumps(payload)
    assert refusal(tokens, token).details == {"reason": "malformed"}


def test_reasons_have_distinct_messages(tokens: JoinTokens) -> None:
    token = tokens.issue(claims())
    foreign = JoinTokens(SECRET, "other").issue(claims(event_id="other"))
    messages = {
        refusal(tokens, token, EXPIRES).message,
        refusal(tokens, token[:-2]).message,
        refusal(tokens, foreign).message,
        refusal(tokens, "garbage").message,
    }
    assert len(messages) == 4


def test_issue_needs_an_aware_expiry(tokens: JoinTokens) -> None:
    with pytest.raises(ValueError):
        tokens.issue(claims(expires_at=datetime(2026, 12, 4)))


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError):
        JoinTokens("", "iuc-city-to-city")
