"""Server settings: loaded once (environment SIMULTAN_*, or a TOML file), validated, passed down."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    secret_key: SecretStr = SecretStr("change-me-this-is-only-for-the-demo")
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

    # Media plane.
    media_enabled: bool = True
    ice_host_addresses: tuple[str, ...] = ("127.0.0.1",)
    max_sdp_bytes: int = Field(default=32 * 1024, ge=1024)
    recordings_dir: Path = Path("var/recordings")
    # Interpreter console: remind the live interpreter to hand over after this long on the
    # mic, and cue the booth this many minutes before the next agenda item starts.
    booth_rotation_minutes: int = Field(default=30, ge=5, le=240)
    booth_cue_minutes: int = Field(default=5, ge=0, le=60)
    # Tech-view alarms: a live channel silent this long, a handover unanswered this long.
    alarm_silence_seconds: float = Field(default=10.0, gt=0)
    alarm_handover_seconds: float = Field(default=30.0, gt=0)
    # Record automatically while an agenda item is live (not during breaks or pauses).
    record_with_agenda: bool = False

    # B2B day: a meeting request expires after this long (or when its slot starts); a
    # participant may send this many requests an hour; a meeting's room stays open this long
    # past its end; a company logo is at most this large.
    b2b_request_ttl_hours: float = Field(default=48.0, gt=0)
    b2b_requests_per_hour: int = Field(default=20, ge=1)
    b2b_grace_seconds: float = Field(default=60.0, ge=0, le=1800)
    b2b_logo_max_bytes: int = Field(default=200 * 1024, ge=1024, le=2 * 1024 * 1024)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def origins(self) -> frozenset[str]:
        return frozenset({self.base_url, *self.allowed_origins})


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional TOML file, then the environment, then explicit overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read settings ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    data.update(overrides)
    try:
        return Settings(**data)
    except PydanticValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path or 'settings'}: invalid settings", problems=problems) from exc
