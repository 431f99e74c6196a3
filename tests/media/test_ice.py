"""ICE host candidates come from settings.ice_host_addresses (127.0.0.1 in tests)."""

from __future__ import annotations

from collections.abc import Iterator

import aioice
import aioice.ice
import pytest

from simultan.errors import ConfigError
from simultan.media import ice


@pytest.fixture(autouse=True)
def _loopback_afterwards() -> Iterator[None]:
    yield
    ice.use_host_addresses(["127.0.0.1"])


def test_aioice_leaves_loopback_out_by_default() -> None:
    ice.restore_default()
    assert ice.current_host_addresses() is None
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(True, True)


def test_use_host_addresses_replaces_gathering() -> None:
    assert ice.use_host_addresses([" 127.0.0.1", "::1", "127.0.0.1"]) == ("127.0.0.1", "::1")
    assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(False, True) == ["::1"]
    assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1", "::1"]
    assert ice.current_host_addresses() == ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("addresses", "problem"),
    [
        (["localhost"], "not an IP address"),
        (["0.0.0.0"], "cannot be a host candidate"),
        (["224.0.0.1"], "cannot be a host candidate"),
        ([], "at least one address"),
    ],
)
def test_bad_addresses_are_config_errors(addresses: list[str], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        ice.use_host_addresses(addresses)
    assert any(problem in p for p in info.value.problems)


async def test_an_ice_agent_gathers_loopback_only() -> None:
    ice.use_host_addresses(["127.0.0.1"])
    connection = aioice.Connection(ice_controlling=True)
    try:
        await connection.gather_candidates()
        assert [(c.host, c.type) for c in connection.local_candidates] == [("127.0.0.1", "host")]
    finally:
        await connection.close()
