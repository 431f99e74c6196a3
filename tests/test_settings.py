"""Settings precedence (command line > SIMULTAN_* environment > TOML file > defaults) and
paths in a settings file taken relative to that file."""

from __future__ import annotations

from pathlib import Path

import pytest

from simultan.errors import ConfigError
from simultan.settings import load_settings


@pytest.fixture
def toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIMULTAN_PORT", "SIMULTAN_HOST", "SIMULTAN_EVENT_FILE", "SIMULTAN_OUTBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "etc" / "simultan"
    folder.mkdir(parents=True)
    path = folder / "settings.toml"
    path.write_text(
        'port = 1111\nhost = "127.0.0.2"\nevent_file = "events/seminar.yaml"\n'
        'database_url = "sqlite+aiosqlite:///data/simultan.sqlite3"\n'
        'outbox_dir = "outbox"\nrecordings_dir = "/srv/recordings"\n'
    )
    return path


def test_the_environment_beats_the_file(toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMULTAN_PORT", "2222")
    s = load_settings(toml)
    assert s.port == 2222
    assert s.host == "127.0.0.2"  # not in the environment: the file's value stays


def test_the_command_line_beats_the_environment(
    toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMULTAN_PORT", "2222")
    assert load_settings(toml, port=3333).port == 3333


def test_the_file_beats_the_defaults_and_defaults_fill_the_rest(toml: Path) -> None:
    s = load_settings(toml)
    assert s.port == 1111
    assert s.token_ttl_hours == 72.0
    assert load_settings(None).port == 8080


def test_paths_in_the_file_are_relative_to_the_file(
    toml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    s = load_settings(toml)
    here = toml.parent.resolve()
    assert s.event_file == here / "events" / "seminar.yaml"
    assert s.outbox_dir == here / "outbox"
    assert s.recordings_dir == Path("/srv/recordings")  # absolute stays
    assert s.database_url == f"sqlite+aiosqlite:///{here / 'data' / 'simultan.sqlite3'}"


def test_paths_from_the_environment_stay_as_given(
    toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMULTAN_OUTBOX_DIR", "var/mail")
    assert load_settings(toml).outbox_dir == Path("var/mail")


def test_a_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="invalid settings") as err:
        load_settings(unknown)
    assert any("prot" in p for p in err.value.problems)
