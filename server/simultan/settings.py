"""Server settings: loaded once, validated, passed down.

Precedence is the usual one: values given on the command line (``load_settings`` keyword
arguments) over ``SIMULTAN_*`` environment variables over the TOML settings file over the
defaults. The file is read by pydantic-settings' own TOML source; relative paths in it (the
event file, folders, a SQLite database) are relative to the file, not to the working
directory, so ``simultan serve --config /etc/simultan/settings.toml`` works from anywhere.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from simultan.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMULTAN_", extra="forbid", frozen=True)

    event_file: Path = Path("config/iuc-city-to-city.yaml")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Base URL put into join links; defaults to http://host:port.
    public_url: str | None = None
    # Extra origins allowed on the websocket upgrade besides public_url's.
    allowed_origins: tuple[str, ...] = ()
    database_url: str = "sqlite+aiosqlite:///var/simultan.sqlite3"
    # Signs join tokens; required by serve (see simultan/secret.py and docs/operations.md).
    secret_key: SecretStr | None = None
    token_ttl_hours: float = Field(default=72.0, gt=0)

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "Simultan <no-reply@simultan.invalid>"
    outbox_dir: Path = Path("var/outbox")

    # Registration: new registrants are approved (and mailed their link) at once unless set.
    require_approval: bool = False

    # Websocket hub limits.
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    client_queue_size: int = Field(default=256, ge=4)
    replay_buffer_size: int = Field(default=2048, ge=16)
    # Abuse limits (docs/protocol.md, "Limits"): messages per connection (a token bucket),
    # open sockets per join token, WebRTC offers per token, registrations per client address
    # and per mailbox.
    ws_commands_per_second: float = Field(default=10.0, gt=0)
    ws_command_burst: int = Field(default=40, ge=1)
    max_sockets_per_token: int = Field(default=3, ge=1)
    offers_per_minute: float = Field(default=12.0, gt=0)
    offer_burst: int = Field(default=6, ge=1)
    registrations_per_address_per_hour: float = Field(default=20.0, gt=0)
    registrations_per_mailbox_per_hour: float = Field(default=3.0, gt=0)
    # /metrics: with a token, only "Authorization: Bearer <token>"; without, loopback only.
    metrics_token: SecretStr | None = None

    # Media plane.
    media_enabled: bool = True
    # ICE host candidates: empty = every address of this machine (what a real server and
    # the demo on a laptop need); tests and benchmarks set ["127.0.0.1"] (loopback only).
    ice_host_addresses: tuple[str, ...] = ()
    # A server behind a firewall or NAT (docs/operations.md): the UDP ports its ICE host
    # candidates bind to (inclusive, e.g. [40000, 40999]; none: any port), and the public
    # address a 1:1 NAT maps to this machine (offered as a server-reflexive candidate).
    ice_port_range: tuple[int, int] | None = None
    ice_public_address: str | None = None
    max_sdp_bytes: int = Field(default=32 * 1024, ge=1024)
    # A tab's peer connection outlives its websocket this long (the tab reconnects and
    # resumes it); a source whose packets stop this long is lost (its booth falls back).
    media_grace_seconds: float = Field(default=30.0, ge=0)
    media_loss_seconds: float = Field(default=0.8, gt=0.05, le=10)
    # STUN/TURN for pages behind firewalls (docs/operations.md): URLs given to every tab's
    # RTCPeerConnection; TURN with ephemeral credentials (HMAC of an expiring user name with
    # turn_secret, coturn's static-auth-secret), valid turn_ttl_hours but never past the
    # event's end + 1 h. ice_transport_policy "relay" forces every page through TURN.
    # Audio before video: a tab whose link loses packets stops getting video; it comes back
    # after the link stayed clean this long (doubling when it keeps failing).
    video_resume_seconds: float = Field(default=10.0, gt=0, le=600)
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: SecretStr | None = None
    turn_ttl_hours: float = Field(default=12.0, gt=0, le=240)
    ice_transport_policy: Literal["all", "relay"] = "all"
    recordings_dir: Path = Path("var/recordings")
    # Interpreter console: remind the live interpreter to hand over after this long on the
    # mic, and cue the booth this many minutes before the next agenda item starts.
    booth_rotation_minutes: int = Field(default=30, ge=5, le=240)
    booth_cue_minutes: int = Field(default=5, ge=0, le=60)
    # The run-of-show: the current item's countdown turns to warning, then danger, with
    # this many minutes left (per item in the event file); the next item's speakers and
    # the booths are cued booth_cue_minutes ahead.
    run_warning_minutes: int = Field(default=5, ge=0, le=120)
    run_danger_minutes: int = Field(default=1, ge=0, le=120)
    # Tech-view alarms: a live channel silent this long, a handover unanswered this long.
    alarm_silence_seconds: float = Field(default=10.0, gt=0)
    alarm_handover_seconds: float = Field(default=30.0, gt=0)
    # The floor: at most this many live speakers at once (a panel).
    floor_limit: int = Field(default=6, ge=1, le=50)
    # Record automatically while an agenda item is live (not during breaks or pauses).
    record_with_agenda: bool = False

    # B2B day: a meeting request expires after this long (or when its slot starts); a
    # participant may send this many requests an hour; a meeting's room stays open this long
    # past its end; a company logo is at most this large.
    b2b_request_ttl_hours: float = Field(default=48.0, gt=0)
    b2b_requests_per_hour: int = Field(default=20, ge=1)
    b2b_grace_seconds: float = Field(default=60.0, ge=0, le=1800)
    b2b_logo_max_bytes: int = Field(default=200 * 1024, ge=1024, le=2 * 1024 * 1024)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _TOML_FILE.get()
        if toml_file is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, _RelativeTomlSource(settings_cls, toml_file))

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def origins(self) -> frozenset[str]:
        return frozenset({self.base_url, *self.allowed_origins})


# The settings file of the load under way (a context variable, so loads never share state).
_TOML_FILE: ContextVar[Path | None] = ContextVar("simultan_settings_file", default=None)
_PATH_FIELDS = frozenset(
    name for name, field in Settings.model_fields.items() if field.annotation in (Path, "Path")
)
_SQLITE_PREFIXES = ("sqlite+aiosqlite:///", "sqlite:///")


def _relative_to(base: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The file's relative paths made relative to the file's own folder."""
    out = dict(data)
    for name in _PATH_FIELDS & out.keys():
        if isinstance(out[name], str) and not Path(out[name]).is_absolute():
            out[name] = str(base / out[name])
    url = out.get("database_url")
    if isinstance(url, str):
        for prefix in _SQLITE_PREFIXES:
            rest = url[len(prefix) :]
            if url.startswith(prefix) and rest and not rest.startswith((":memory:", "/")):
                out["database_url"] = prefix + str(base / rest)
    return out


class _RelativeTomlSource(TomlConfigSettingsSource):
    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = super()._read_file(file_path)
        return _relative_to(Path(file_path).resolve().parent, data)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from the defaults, an optional TOML file, the environment and ``overrides``
    (the command line), each later one winning."""
    p = Path(path) if path is not None else None
    if p is not None and not p.is_file():
        raise ConfigError(f"{p}: cannot read settings (no such file)")
    token = _TOML_FILE.set(p)
    try:
        return Settings(**overrides)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read settings ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    except PydanticValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path or 'settings'}: invalid settings", problems=problems) from exc
    finally:
        _TOML_FILE.reset(token)
