"""ICE host candidates come from settings.ice_host_addresses (127.0.0.1 in tests); their
ports from settings.ice_port_range, plus settings.ice_public_address for a 1:1 NAT."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import aioice
import aioice.ice
import aiortc.rtcicetransport
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from simultan.errors import ConfigError
from simultan.media import ice
from simultan.media.sfu import EmbeddedSfu
from simultan.settings import Settings
from tests.netns import VethHost


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


# --- the port range and the public address (1:1 NAT) --------------------------------------


@pytest.fixture
def _default_gathering() -> Iterator[None]:
    yield
    ice.use_gathering()


def candidates_of(sdp: str) -> list[tuple[str, int, str, str | None]]:
    """(address, port, type, related address) of every candidate line in ``sdp``."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            related = parts[parts.index("raddr") + 1] if "raddr" in parts else None
            out.append((parts[4], int(parts[5]), parts[7], related))
    return out


def test_what_the_gathering_hook_relies_on() -> None:
    """Pinned aiortc/aioice internals: aiortc makes its ICE agent from the name
    ``aiortc.rtcicetransport.Connection`` (aioice's class), and aioice gathers each
    component's candidates in ``get_component_candidates(component, addresses, timeout)``,
    keeping its sockets' protocols in ``_protocols``."""
    ice.use_gathering()
    assert aiortc.rtcicetransport.Connection is aioice.Connection  # type: ignore[attr-defined]
    params = list(inspect.signature(aioice.Connection.get_component_candidates).parameters)
    assert params == ["self", "component", "addresses", "timeout"]
    connection = aioice.Connection(ice_controlling=True)
    assert connection._protocols == []
    assert inspect.signature(aioice.ice.StunProtocol).parameters.keys() == {"receiver"}


@pytest.mark.usefixtures("_default_gathering")
async def test_candidates_use_the_port_range_and_the_public_address() -> None:
    ice.use_host_addresses(["127.0.0.1"])
    ice.use_gathering((41000, 41003), "203.0.113.7")
    assert ice.current_gathering() == ((41000, 41003), "203.0.113.7")
    pcs = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(3)]
    try:
        ports = []
        for pc in pcs:
            pc.addTransceiver("audio")
            await pc.setLocalDescription(await pc.createOffer())
            found = candidates_of(pc.localDescription.sdp)
            (host,) = [c for c in found if c[2] == "host"]
            assert host[0] == "127.0.0.1" and 41000 <= host[1] <= 41003
            # the public address, on the host candidate's port, related to the host
            assert [c for c in found if c[2] == "srflx"] == [
                ("203.0.113.7", host[1], "srflx", "127.0.0.1")
            ]
            ports.append(host[1])
        assert len(set(ports)) == 3  # each agent its own port of the range
    finally:
        for pc in pcs:
            await pc.close()
    ice.use_gathering()  # back to aioice's own: any port, no public address
    assert ice.current_gathering() == (None, None)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        assert [c[2] for c in candidates_of(pc.localDescription.sdp)] == ["host"]
    finally:
        await pc.close()


@pytest.mark.usefixtures("_default_gathering")
async def test_a_full_port_range_leaves_the_address_out() -> None:
    ice.use_host_addresses(["127.0.0.1"])
    ice.use_gathering((41010, 41010))
    agent = aiortc.rtcicetransport.Connection  # type: ignore[attr-defined]  # what aiortc makes
    first, second = agent(ice_controlling=True), agent(ice_controlling=True)
    try:
        await first.gather_candidates()
        await second.gather_candidates()
        assert [(c.host, c.port) for c in first.local_candidates] == [("127.0.0.1", 41010)]
        assert second.local_candidates == []  # logged; no candidate outside the range
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("ports", "address", "problem"),
    [
        ((2000, 1000), None, "ice_port_range"),
        ((80, 90), None, "ice_port_range"),
        (None, "example.org", "ice_public_address"),
        (None, "::1", "ice_public_address"),
        (None, "0.0.0.0", "ice_public_address"),
    ],
)
def test_bad_port_ranges_and_public_addresses_are_config_errors(
    ports: tuple[int, int] | None, address: str | None, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ice.use_gathering(ports, address)
    assert any(p.startswith(problem) for p in info.value.problems)
    assert ice.current_gathering() == (None, None) or ports is None


async def offered_hosts() -> list[str]:
    """The host candidate addresses a fresh aiortc peer connection offers now."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        return sorted({c[0] for c in candidates_of(pc.localDescription.sdp) if c[2] == "host"})
    finally:
        await pc.close()


async def test_a_real_server_offers_the_machines_addresses_tests_stay_on_loopback(
    tmp_path: Path,
) -> None:
    """The product default (a server, ``simultan demo`` on a laptop): host candidates on the
    machine's own addresses, so an ordinary browser on it connects with no flag; the tests'
    setting keeps them on 127.0.0.1. The machine here is our loopback-only namespace plus a
    veth address of the test's own (no traffic is sent)."""
    assert Settings().ice_host_addresses == ()  # what load_settings gives the demo
    with_veth = VethHost(f"simultan-ice-{os.getpid()}", "10.203.0.1", "10.203.0.2").start()
    try:
        sfu = EmbeddedSfu(Settings(recordings_dir=tmp_path / "rec"))
        try:
            assert ice.current_host_addresses() is None  # aioice's own gathering
            assert await offered_hosts() == ["10.203.0.1"]  # the machine's, not loopback
        finally:
            await sfu.close()
        sfu = EmbeddedSfu(Settings(ice_host_addresses=("127.0.0.1",), recordings_dir=tmp_path))
        try:
            assert await offered_hosts() == ["127.0.0.1"]
        finally:
            await sfu.close()
    finally:
        with_veth.stop()
