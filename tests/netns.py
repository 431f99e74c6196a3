"""Network faults for media tests, only inside a namespace the tests own.

- :class:`UdpBlock`: an nftables table that drops UDP to or from some ports (a peer's
  traffic lost without any close), removed on exit.
- :class:`VethHost`: another network namespace joined to ours by a veth pair (a TURN
  client's network, a weak link with :func:`netem`); :class:`RemoteTab` runs a listener there.

Firewall rules are changed only when the current network namespace has nothing but
loopback (the test run's own ``unshare -n``): never on a machine's real network.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import pytest

_n = itertools.count(1)


def loopback_only() -> bool:
    """True inside a network namespace whose only interface is lo (ours to change)."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False)
    names = [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]
    return names == ["lo"]


def _cannot(reason: str) -> NoReturn:
    """Skip a network-fault test here; in CI (``SIMULTAN_CI=1``, set by ``deploy/dev.sh
    test``) fail instead: there every one of them must run."""
    if os.environ.get("SIMULTAN_CI") == "1":
        pytest.fail(f"{reason} (CI runs every network-fault test)")
    pytest.skip(reason)


def require_nft() -> str:
    nft = shutil.which("nft")
    if nft is None:
        _cannot("nftables (Debian package nftables) is not installed")
    if not loopback_only():
        _cannot("firewall faults run only inside a loopback-only network namespace")
    return nft


def nft(*script: str) -> None:
    subprocess.run([require_nft(), "-f", "-"], input="\n".join(script), text=True, check=True)


class UdpBlock:
    """Drop UDP whose source or destination port is one of ``ports`` (both directions);
    with no ports, every UDP packet."""

    def __init__(self, ports: Iterable[int]) -> None:
        self.ports = sorted(set(ports))
        self.table = f"simultan_block_{next(_n)}"
        self.on = False

    def start(self) -> None:
        if not self.ports:  # no ports named: every UDP packet
            nft(
                f"add table inet {self.table}",
                f"add chain inet {self.table} out {{ type filter hook output priority 0; }}",
                f"add rule inet {self.table} out meta l4proto udp drop",
            )
            self.on = True
            return
        ports = ", ".join(str(p) for p in self.ports)
        nft(
            f"add table inet {self.table}",
            f"add chain inet {self.table} out {{ type filter hook output priority 0; }}",
            f"add rule inet {self.table} out udp sport {{ {ports} }} drop",
            f"add rule inet {self.table} out udp dport {{ {ports} }} drop",
        )
        self.on = True

    def stop(self) -> None:
        if self.on:
            nft(f"delete table inet {self.table}")
            self.on = False

    def __enter__(self) -> UdpBlock:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class UdpLoss:
    """Drop every ``every``-th UDP packet sent from ``ports`` (a lossy link toward a peer,
    evenly spread), removed on exit."""

    def __init__(self, ports: Iterable[int], every: int) -> None:
        self.ports = sorted(set(ports))
        self.every = every
        self.table = f"simultan_loss_{next(_n)}"
        self.on = False

    def __enter__(self) -> UdpLoss:
        ports = ", ".join(str(p) for p in self.ports)
        nft(
            f"add table inet {self.table}",
            f"add chain inet {self.table} out {{ type filter hook output priority 0; }}",
            f"add rule inet {self.table} out udp sport {{ {ports} }} "
            f"numgen inc mod {self.every} == 0 drop",
        )
        self.on = True
        return self

    def stop(self) -> None:
        if self.on:
            nft(f"delete table inet {self.table}")
            self.on = False

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def local_ports(pc: Any) -> list[int]:
    """The UDP ports an aiortc peer connection's ICE gathered (bundled: one transport)."""
    ports: set[int] = set()
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        if transport is None:
            continue
        for candidate in transport.transport.iceGatherer.getLocalCandidates():
            ports.add(int(candidate.port))
    return sorted(ports)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class VethHost:
    """A network namespace joined to ours by a veth pair: ``ours`` here, ``theirs`` there.

    Made only inside our own loopback-only namespace (the test run's), torn down by stop().
    """

    def __init__(self, name: str, ours: str, theirs: str, prefix: int = 24) -> None:
        self.name = name
        self.ours, self.theirs, self.prefix = ours, theirs, prefix
        self.veth = f"v{name[-10:]}"

    def start(self) -> VethHost:
        if shutil.which("ip") is None:
            _cannot("iproute2 is not installed")
        if not loopback_only():
            _cannot("test hosts are made only inside a loopback-only network namespace")
        run("ip", "netns", "add", self.name)
        try:
            run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
                "netns", self.name)  # fmt: skip
            run("ip", "addr", "add", f"{self.ours}/{self.prefix}", "dev", self.veth)
            run("ip", "link", "set", self.veth, "up")
            self.exec("ip", "addr", "add", f"{self.theirs}/{self.prefix}", "dev", "eth0")
            self.exec("ip", "link", "set", "eth0", "up")
            self.exec("ip", "link", "set", "lo", "up")
        except BaseException:
            self.stop()
            raise
        return self

    def command(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(*self.command(*args), check=check)

    def nft(self, *script: str) -> None:
        """Firewall rules inside this (test-made) namespace."""
        tool = shutil.which("nft")
        if tool is None:
            _cannot("nftables (Debian package nftables) is not installed")
        subprocess.run(
            self.command(tool, "-f", "-"), input="\n".join(script), text=True, check=True
        )

    def lose(self, per_mille: int) -> None:
        """Drop that share of the UDP arriving in this namespace, at random."""
        self.nft(
            "add table inet lossy",
            "add chain inet lossy in { type filter hook input priority 0; }",
            f"add rule inet lossy in meta l4proto udp numgen random mod 1000 < {per_mille} drop",
        )

    def lose_every(self, n: int) -> None:
        """Drop every ``n``-th UDP packet arriving in this namespace (1/n of them, evenly:
        random loss at a low rate varies too much over a few seconds to test a bound)."""
        self.nft(
            "add table inet lossy",
            "add chain inet lossy in { type filter hook input priority 0; }",
            f"add rule inet lossy in meta l4proto udp numgen inc mod {n} == 0 drop",
        )

    def lossless(self) -> None:
        self.exec("nft", "delete", "table", "inet", "lossy", check=False)

    def stop(self) -> None:
        run("ip", "link", "del", self.veth, check=False)
        run("ip", "netns", "del", self.name, check=False)


REMOTE_TAB = Path(__file__).parent / "integration" / "remote_tab.py"


class RemoteTab:
    """tests/integration/remote_tab.py running inside a :class:`VethHost`: an aiortc
    listener whose signaling the test relays over its own /ws client."""

    def __init__(self, host: VethHost, env: dict[str, str] | None = None) -> None:
        self.host = host
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> RemoteTab:
        self.proc = await asyncio.create_subprocess_exec(
            *self.host.command(sys.executable, str(REMOTE_TAB)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **self.env},
        )
        return self

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())

    async def said(self, timeout: float = 20.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert line, "the remote tab's process ended"
        return dict(json.loads(line))

    async def said_after(self, t: float, timeout: float = 20.0) -> dict[str, Any]:
        """The first report made at or after ``t`` (time.monotonic(), the same clock in both
        processes): the reports a test did not read while it waited are stale."""
        while True:
            report = await self.said(timeout)
            if report["t"] >= t:
                return report

    async def connect(self, ws: Any, config: dict[str, Any], channel: str) -> dict[str, Any]:
        """Offer through ``ws`` (a tests.conftest.Client); returns the offer's report."""
        self.send(config)
        offer = await self.said()
        answer = await ws.request({"type": "rtc_offer", "sdp": offer["offer"], "channel": channel})
        assert answer["type"] == "rtc_answer", answer
        self.send({"answer": answer["sdp"]})
        offer["answer"] = answer
        return offer

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
        if self.proc is not None:
            await self.proc.wait()


def shape(device: str, rate: str) -> None:
    """Limit what leaves ``device`` (one of ours, made by the test) to ``rate`` (tc tbf; netem's
    rate is the same idea, but this kernel may lack sch_netem)."""
    run("tc", "qdisc", "replace", "dev", device, "root", "tbf", "rate", rate,
        "burst", "4kb", "latency", "200ms")  # fmt: skip


def unshape(device: str) -> None:
    run("tc", "qdisc", "del", "dev", device, "root", check=False)
