"""A server behind a 1:1 NAT with a UDP port range: a listener that can reach it only at its
public address hears the floor.

Inside the test's loopback-only namespace, 127.0.0.2 plays the public address: an nftables
DNAT rule maps it to 127.0.0.1 (the server's host address) for the range's ports, as a NAT
in front of the server would. The server's answer reaches the listener without its host
candidate (a private address a remote listener could not reach): only the server-reflexive
candidate ``ice_public_address`` makes is left, so the tone proves that path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simultan.media import ice
from simultan.media.sfu import EmbeddedSfu
from simultan.settings import Settings
from tests.media.test_ice import candidates_of
from tests.media.tones import FLOOR_HZ, Tab, ToneTrack, wait_until
from tests.netns import nft, require_nft

PUBLIC = "127.0.0.2"
PORTS = (42000, 42019)


@pytest.fixture
def one_to_one_nat() -> Iterator[None]:
    require_nft()
    low, high = PORTS
    nft(
        "add table ip simultan_nat",
        "add chain ip simultan_nat out { type nat hook output priority -100; }",
        f"add rule ip simultan_nat out ip daddr {PUBLIC} udp dport {low}-{high} dnat to 127.0.0.1",
    )
    try:
        yield
    finally:
        nft("delete table ip simultan_nat")
        ice.use_gathering()


class BehindNat:
    """The SFU as a remote listener sees it: the server's agents gather with the range and
    the public address; its answer loses the host candidate on the way."""

    def __init__(self, sfu: EmbeddedSfu, settings: Settings) -> None:
        self.sfu, self.settings = sfu, settings
        self.answers: list[str] = []

    async def negotiate(self, *args: Any, **kwargs: Any) -> str:
        ice.use_gathering(self.settings.ice_port_range, self.settings.ice_public_address)
        try:
            answer = await self.sfu.negotiate(*args, **kwargs)
        finally:
            ice.use_gathering()  # the listener's own agent: any port, no public address
        self.answers.append(answer)
        lines = answer.split("\r\n")
        kept = [x for x in lines if not (x.startswith("a=candidate:") and " host " in x)]
        return "\r\n".join(kept)


@pytest.mark.usefixtures("one_to_one_nat")
async def test_a_listener_reaches_the_server_only_at_its_public_address(tmp_path: Path) -> None:
    settings = Settings(
        ice_host_addresses=("127.0.0.1",),
        ice_port_range=PORTS,
        ice_public_address=PUBLIC,
        recordings_dir=tmp_path / "rec",
    )
    sfu = EmbeddedSfu(settings)
    assert ice.current_gathering() == (PORTS, PUBLIC)
    ice.use_gathering()
    sfu.add_local_source("floor", ToneTrack(FLOOR_HZ), None)
    sfu.set_routes({"en": "floor"})
    server = BehindNat(sfu, settings)
    listener = Tab(server, "l", channel="en")  # type: ignore[arg-type]
    try:
        await listener.connect()
        (answer,) = server.answers
        found = candidates_of(answer)
        assert {c[2] for c in found} == {"host", "srflx"}
        assert all(PORTS[0] <= port <= PORTS[1] for _, port, _, _ in found)
        assert {c[0] for c in found if c[2] == "srflx"} == {PUBLIC}  # every m-line, bundled
        await wait_until(lambda: listener.program.packets > 50, timeout=10)
        assert abs(listener.program.frequency() - FLOOR_HZ) < 5
    finally:
        await listener.close()
        await sfu.close()
