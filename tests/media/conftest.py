"""Fixtures for media tests: a real EmbeddedSfu with real aiortc peers on 127.0.0.1.

Run inside a loopback-only network namespace (see /work/shared/TESTING.md)::

    unshare -n sh -c 'ip link set lo up && PYTHONPATH=server python -m pytest tests/media'
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Make ``tests.media.tones`` importable however pytest was started.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from simultan.media import ice  # noqa: E402
from simultan.media.sfu import EmbeddedSfu  # noqa: E402
from simultan.settings import Settings  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.media)


@pytest.fixture
def media_settings(tmp_path: Path) -> Settings:
    return Settings(ice_host_addresses=("127.0.0.1",), recordings_dir=tmp_path / "rec")


@pytest.fixture
async def sfu(media_settings: Settings) -> AsyncIterator[EmbeddedSfu]:
    plane = EmbeddedSfu(media_settings)
    # Every ICE agent in this process now offers 127.0.0.1 only: media stays on loopback.
    assert ice.current_host_addresses() == ("127.0.0.1",)
    try:
        yield plane
    finally:
        await plane.close()
