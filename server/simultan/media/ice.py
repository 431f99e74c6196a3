"""Which local addresses ICE offers as host candidates.

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

import ipaddress
from collections.abc import Callable, Iterable

import aioice.ice

from simultan.errors import ConfigError

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
