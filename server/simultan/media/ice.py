"""Which local addresses and ports ICE offers as candidates.

aioice builds its host candidates from every interface address *except* 127.0.0.1
(``aioice.ice.get_host_addresses``). That is wrong for us twice over: tests and benchmarks
must keep media on loopback, and a production machine with several interfaces should offer
only the addresses the operator chose (``settings.ice_host_addresses``).

:func:`use_host_addresses` replaces aioice's gathering function with one that returns the
configured addresses. The replacement is process-wide (aioice has no per-connection hook),
so the server installs it once at start-up; it applies to every RTCPeerConnection created
in the process afterwards, the SFU's and any test peer's alike.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import random
import socket
from collections.abc import Callable, Iterable
from typing import Any

import aioice
import aioice.candidate
import aioice.ice
import aioice.turn
import aiortc.rtcicetransport

from simultan.errors import ConfigError

log = logging.getLogger("simultan.media.ice")

GetHostAddresses = Callable[[bool, bool], list[str]]

_ORIGINAL: GetHostAddresses = aioice.ice.get_host_addresses


def parse_host_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Validate and normalise IP literals; a name or an empty list is a ConfigError."""
    out: list[str] = []
    problems: list[str] = []
    for raw in addresses:
        try:
            ip = ipaddress.ip_address(raw.strip())
        except ValueError:
            problems.append(f"ice_host_addresses: {raw!r} is not an IP address")
            continue
        if ip.is_unspecified or ip.is_multicast:
            problems.append(f"ice_host_addresses: {raw!r} cannot be a host candidate")
            continue
        if str(ip) not in out:
            out.append(str(ip))
    if not out and not problems:
        problems.append("ice_host_addresses: at least one address is needed")
    if problems:
        raise ConfigError("invalid ICE host addresses", problems=problems)
    return tuple(out)


def use_host_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Make every ICE agent in this process gather exactly ``addresses`` as host candidates.

    Returns the normalised addresses. Calling it again replaces the previous choice.
    """
    chosen = parse_host_addresses(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        picked = []
        for address in chosen:
            version = ipaddress.ip_address(address).version
            if (version == 4 and use_ipv4) or (version == 6 and use_ipv6):
                picked.append(address)
        return picked

    get_host_addresses.simultan_addresses = chosen  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses
    return chosen


def current_host_addresses() -> tuple[str, ...] | None:
    """The addresses installed by :func:`use_host_addresses`, or None if aioice's own."""
    return getattr(aioice.ice.get_host_addresses, "simultan_addresses", None)


def restore_default() -> None:
    """Put aioice's own gathering back (tests)."""
    aioice.ice.get_host_addresses = _ORIGINAL  # type: ignore[assignment]


# --- a UDP port range and a public (1:1 NAT) address --------------------------------------
#
# aioice binds every host candidate to port 0 (any port) and knows no address but the
# interface's; aiortc makes its agents with ``aiortc.rtcicetransport.Connection`` and passes
# no options for either. :func:`use_gathering` puts a subclass of aioice's Connection in
# that name: it binds host candidates inside the range and, given a public address, adds a
# server-reflexive candidate for it on each IPv4 host candidate's port (what a STUN server
# would report behind a 1:1 NAT: peers send to the public address, the NAT forwards to the
# host socket). What it relies on is pinned by tests/media/test_ice.py.

_RTCICE: Any = aiortc.rtcicetransport  # where aiortc looks its ICE agent's class up
_AIORTC_CONNECTION = _RTCICE.Connection


def parse_port_range(ports: tuple[int, int] | None) -> tuple[int, int] | None:
    if ports is None:
        return None
    low, high = ports
    if not 1024 <= low <= high <= 65535:
        raise ConfigError(
            "invalid ICE port range",
            problems=[f"ice_port_range: {low}-{high} is not a range within 1024-65535"],
        )
    return low, high


def parse_public_address(address: str | None) -> str | None:
    if address is None:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        ip = None
    if ip is None or ip.version != 4 or ip.is_unspecified or ip.is_multicast:
        raise ConfigError(
            "invalid ICE public address",
            problems=[f"ice_public_address: {address!r} is not a unicast IPv4 address"],
        )
    return str(ip)


class _Connection(aioice.ice.Connection):
    """aioice's agent with host candidates bound in ``ports`` and a srflx candidate for
    ``public_address``."""

    ports: tuple[int, int] | None = None
    public_address: str | None = None

    async def get_component_candidates(
        self,
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109  (aioice's signature)
    ) -> list[aioice.Candidate]:
        if self.ports is None:
            candidates = await super().get_component_candidates(component, addresses, timeout)
        else:
            hosts = [await self._bind(component, address) for address in addresses]
            candidates = [c for c in hosts if c is not None]
            # aioice's own gathering for the rest: a TURN relay (no STUN query of these
            # hosts: the server's agents have no ICE servers, the public address is set)
            candidates += await super().get_component_candidates(component, [], timeout)
        if self.public_address is not None:
            candidates += [
                _public(c, self.public_address)
                for c in candidates
                if c.type == "host" and ipaddress.ip_address(c.host).version == 4
            ]
        return candidates

    async def _bind(self, component: int, address: str) -> aioice.Candidate | None:
        """A host candidate on ``address`` at a free port of the range (None: none free)."""
        assert self.ports is not None
        low, high = self.ports
        loop = asyncio.get_running_loop()
        start = random.randint(low, high)
        for port in itertools.chain(range(start, high + 1), range(low, start)):
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: aioice.ice.StunProtocol(self), local_addr=(address, port)
                )
            except OSError:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, aioice.turn.UDP_SOCKET_BUFFER_SIZE
                )
            protocol.local_candidate = aioice.Candidate(
                foundation=aioice.candidate.candidate_foundation("host", "udp", address),
                component=component,
                transport="udp",
                priority=aioice.candidate.candidate_priority(component, "host"),
                host=address,
                port=port,
                type="host",
            )
            self._protocols.append(protocol)
            return protocol.local_candidate
        log.warning("! no free UDP port in %d-%d on %s", low, high, address)
        return None


def _public(host: aioice.Candidate, address: str) -> aioice.Candidate:
    return aioice.Candidate(
        foundation=aioice.candidate.candidate_foundation("srflx", "udp", host.host),
        component=host.component,
        transport="udp",
        priority=aioice.candidate.candidate_priority(host.component, "srflx"),
        host=address,
        port=host.port,
        type="srflx",
        related_address=host.host,
        related_port=host.port,
    )


def use_gathering(ports: tuple[int, int] | None = None, public_address: str | None = None) -> None:
    """Make every aiortc peer connection created afterwards in this process bind its host
    candidates inside ``ports`` and offer ``public_address`` (1:1 NAT); with neither,
    aioice's own gathering."""
    ports, public_address = parse_port_range(ports), parse_public_address(public_address)
    if ports is None and public_address is None:
        _RTCICE.Connection = _AIORTC_CONNECTION
        return
    gathering = type(
        "Connection", (_Connection,), {"ports": ports, "public_address": public_address}
    )
    _RTCICE.Connection = gathering


def current_gathering() -> tuple[tuple[int, int] | None, str | None]:
    """(port range, public address) that :func:`use_gathering` installed."""
    connection = _RTCICE.Connection
    return getattr(connection, "ports", None), getattr(connection, "public_address", None)
