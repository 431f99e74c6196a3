"""No default secret: serve refuses without a real one; the demo makes one and keeps it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from simultan.errors import ConfigError
from simultan.secret import PUBLISHED, demo_secret, require_secret
from simultan.settings import load_settings
from tests.conftest import REPO, SEMINAR, TEST_SECRET

GOOD = "x7Qe-9mWk2ZpL0vR4tYb8NcHs6DfJ1aU3gKo5iEw"


def test_the_example_settings_value_is_refused() -> None:
    example = tomllib.loads((REPO / "config" / "settings.example.toml").read_text())
    assert example["secret_key"] in PUBLISHED
    with pytest.raises(ConfigError, match="published"):
        require_secret(load_settings(REPO / "config" / "settings.example.toml"))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "not set"),
        ("short-but-random-Zk3", "shorter than 32 bytes"),
        ("change-me-this-is-only-for-the-demo", "published"),
    ],
)
def test_a_missing_short_or_published_secret_is_refused(value: str | None, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as err:
        require_secret(load_settings(None, secret_key=value))
    assert "secrets.token_urlsafe" in str(err.value)


def test_a_long_random_secret_is_accepted() -> None:
    assert require_secret(load_settings(None, secret_key=GOOD)) == GOOD
    assert require_secret(load_settings(None, secret_key=TEST_SECRET)) == TEST_SECRET


def test_serve_without_a_secret_refuses_to_start_and_says_how(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMULTAN_")}
    env["SIMULTAN_EVENT_FILE"] = str(SEMINAR)
    env["SIMULTAN_PORT"] = "1"  # never bound: it must fail before listening
    out = subprocess.run(
        [sys.executable, "-m", "simultan", "serve"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "secret_key is not set" in out.stderr
    assert "secrets.token_urlsafe(48)" in out.stderr


def test_the_demo_secret_is_random_kept_and_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "demo-secret"
    first = demo_secret(path)
    assert len(first) >= 32 and first not in PUBLISHED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_secret(path) == first
    other = demo_secret(tmp_path / "elsewhere" / "demo-secret")
    assert other != first
    require_secret(load_settings(None, secret_key=first))
