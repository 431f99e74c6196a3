"""Where the files the server needs besides its code live: the browser client and the
seeded example events.

An installed wheel carries them inside the package (``simultan/client``,
``simultan/examples``: setup.py copies them in at build time); a source checkout (an
editable install, the tests) uses the repository's ``client/`` and ``config/``.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_SOURCE_TREE = PACKAGE.parents[1]


def _first(packaged: str, source: str) -> Path:
    inside = PACKAGE / packaged
    return inside if inside.is_dir() else _SOURCE_TREE / source


def client_dir() -> Path:
    return _first("client", "client")


def examples_dir() -> Path:
    return _first("examples", "config")


def event_file(name_or_path: str | Path) -> Path:
    """A path as given when it exists, else the seeded example of that name
    (``iuc-city-to-city`` or ``config/iuc-city-to-city.yaml`` both find the shipped one)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    example = examples_dir() / (path.stem + ".yaml")
    return example if example.exists() else path
