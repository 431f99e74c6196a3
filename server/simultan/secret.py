"""The server's signing secret: required, long and not a published value.

Join tokens are signed with ``secret_key``; anyone who knows it can mint a moderator's token.
So no secret ships with the code: ``simultan serve`` refuses to start without one of at least
32 bytes that differs from every value printed in the source or the example settings, and
``simultan demo`` makes a random one once and keeps it under var/.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from simultan.errors import ConfigError
from simultan.settings import Settings

MIN_SECRET_BYTES = 32
MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
# Values that were ever printed in the source or in config/settings.example.toml: public,
# so never a secret (tests/test_secret.py keeps the example's value in this set).
PUBLISHED = frozenset(
    {
        "change-me-this-is-only-for-the-demo",
        f"replace with a long random string: {MAKE_ONE}",
    }
)
DEMO_SECRET_FILE = Path("var/demo-secret")


def require_secret(settings: Settings) -> str:
    """The secret to sign tokens with, or ConfigError saying how to make a good one."""
    how = (
        f"make one with: {MAKE_ONE}  and set it as secret_key in the settings file "
        "or as SIMULTAN_SECRET_KEY"
    )
    if settings.secret_key is None:
        raise ConfigError("secret_key is not set", problems=[how])
    value = settings.secret_key.get_secret_value()
    if value.strip() in PUBLISHED:
        raise ConfigError("secret_key is a published example value, not a secret", problems=[how])
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(f"secret_key is shorter than {MIN_SECRET_BYTES} bytes", problems=[how])
    return value


def demo_secret(path: Path = DEMO_SECRET_FILE) -> str:
    """The demo's own secret: made at random on the first run, then kept (mode 0600), so
    links printed by one demo run keep working in the next."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    if len(value.encode("utf-8")) >= MIN_SECRET_BYTES:
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return value
