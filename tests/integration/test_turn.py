"""TURN end to end: coturn (Debian's package) started by the test, a listener in another
network namespace that can reach only the TURN server, ephemeral credentials from
``rtc_config``; expired credentials are refused.

Addresses live only in namespaces the test makes (inside the run's loopback-only one):
the TURN server listens on 10.200.7.1 (our side of a veth pair), the listener is 10.200.7.2
in its own namespace, the media server offers only 127.0.0.1 (unreachable from there), and
nftables drops every other path, so the sound can only come through the relay.

Two ways to the relay: UDP on 3478, and TURN over TLS on 443 (``turns:``, a strict firewall
that lets only HTTPS-like traffic out: then every UDP packet and every other TCP port is
dropped). For TLS the test makes a self-signed certificate for 10.200.7.1 (the
``cryptography`` package) and the listener trusts it (``SSL_CERT_FILE``): its TLS
connection verifies the certificate and the address, as a browser would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aioice.stun
import aioice.turn
import pytest

from simultan.core.capabilities import Role
from simultan.core.turn import password_for, turn_credential
from simultan.eventdef import EventDefinition
from simultan.media.synthetic import ToneTrack
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.netns import RemoteTab, VethHost, require_nft

pytestmark = pytest.mark.media

TURN_IP, CLIENT_IP = "10.200.7.1", "10.200.7.2"
TURN_PORT = 3478
TLS_PORT = 443
SECRET = "test-turn-secret-not-for-production"
FLOOR_HZ = 440.0


def self_signed(folder: Path, ip: str) -> tuple[Path, Path]:
    """A certificate (and its key) for ``ip``, signed by itself, valid for a day."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "turn-cert.pem", folder / "turn-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def turn_mode(request: pytest.FixtureRequest) -> str:
    """How the listener reaches the relay: "udp" (3478) or "tls" (443); udp by default."""
    return str(getattr(request, "param", "udp"))


@pytest.fixture
def turn_host(tmp_path: Path, turn_mode: str) -> Iterator[VethHost]:
    turnserver = shutil.which("turnserver")
    if turnserver is None:
        pytest.skip("coturn (Debian package coturn) is not installed")
    require_nft()
    host = VethHost(f"simturn{os.getpid()}", TURN_IP, CLIENT_IP).start()
    log = (tmp_path / "turnserver.log").open("w")
    if turn_mode == "tls":
        cert, key = self_signed(tmp_path, TURN_IP)
        tls = [f"--tls-listening-port={TLS_PORT}", f"--cert={cert}", f"--pkey={key}"]
    else:
        tls = ["--no-tls"]
    proc = subprocess.Popen(
        [
            turnserver,
            "-n",  # no configuration file
            f"--listening-ip={TURN_IP}",
            f"--listening-port={TURN_PORT}",
            *tls,
            "--relay-ip=127.0.0.1",  # relays to the media server on our loopback
            "--allow-loopback-peers",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            "--realm=simultan.test",
            "--fingerprint",
            "--no-cli",
            "--no-dtls",
            "--min-port=49160",
            "--max-port=49200",
            f"--userdb={tmp_path / 'turndb'}",
            f"--pidfile={tmp_path / 'turnserver.pid'}",
            "--log-file=stdout",
            "--simple-log",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        wanted = [("-lnu", TURN_PORT), ("-lnt", TURN_PORT)]
        if turn_mode == "tls":
            wanted.append(("-lnt", TLS_PORT))
        while not all(
            f"{TURN_IP}:{port} "
            in subprocess.run(["ss", flag], capture_output=True, text=True).stdout
            for flag, port in wanted
        ):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "turnserver did not start: " + (tmp_path / "turnserver.log").read_text()
                )
            time.sleep(0.1)
        if turn_mode == "tls":
            # A strict firewall: only TCP to the TURN server's 443 gets out (and its answers
            # back); every UDP packet and every other TCP port is dropped.
            host.nft(
                "add table inet only_turn",
                "add chain inet only_turn out { type filter hook output priority 0; }",
                "add rule inet only_turn out oif lo accept",
                f"add rule inet only_turn out ip daddr {TURN_IP} tcp dport {TLS_PORT} accept",
                "add rule inet only_turn out meta l4proto { udp, tcp } drop",
            )
        else:
            # The listener's only way out: UDP to the TURN server. Everything else is dropped.
            host.nft(
                "add table inet only_turn",
                "add chain inet only_turn out { type filter hook output priority 0; }",
                f"add rule inet only_turn out ip daddr {TURN_IP} udp dport {TURN_PORT} accept",
                "add rule inet only_turn out meta l4proto udp drop",
            )
        yield host
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
        log.close()
        host.stop()


async def allocate(username: str, password: str, transport: str = "udp") -> None:
    """One TURN allocation from our side (raises if the server refuses)."""
    turn, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol,
        server_addr=(TURN_IP, TURN_PORT),
        username=username,
        password=password,
        lifetime=60,
        transport=transport,
    )
    turn.close()


async def test_expired_turn_credentials_are_refused(turn_host: VethHost) -> None:
    now = datetime.now(UTC)
    good = turn_credential(SECRET, "p1", now, ttl=timedelta(hours=1), event_end=now)
    await allocate(good.username, good.credential)  # the control: a fresh one works
    await allocate(good.username, good.credential, transport="tcp")  # TURN over TCP too
    expired = f"{int((now - timedelta(minutes=5)).timestamp())}:p1"
    with pytest.raises(aioice.stun.TransactionFailed):
        await allocate(expired, password_for(SECRET, expired))
    forged = f"{int((now + timedelta(hours=1)).timestamp())}:p1"
    with pytest.raises(aioice.stun.TransactionFailed):
        await allocate(forged, password_for("another secret", forged))
    # An event long over: the credential the server issues is already expired.
    over = turn_credential(
        SECRET, "p1", now, ttl=timedelta(hours=12), event_end=now - timedelta(hours=2)
    )
    with pytest.raises(aioice.stun.TransactionFailed):
        await allocate(over.username, over.credential)


def turn_url(mode: str) -> str:
    if mode == "tls":
        return f"turns:{TURN_IP}:{TLS_PORT}?transport=tcp"
    return f"turn:{TURN_IP}:{TURN_PORT}?transport=udp"


@pytest.fixture
async def turn_server_app(
    tmp_path: Path, clock: FakeClock, seminar: EventDefinition, turn_host: VethHost, turn_mode: str
) -> AsyncIterator[Any]:
    defn = seminar.shifted_to(datetime.now(UTC) + timedelta(minutes=10))
    runner, server = await start_server(
        tmp_path,
        clock,
        defn,
        media_enabled=True,
        turn_urls=(turn_url(turn_mode),),
        turn_secret=SECRET,
        turn_ttl_hours=2.0,
    )
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("turn_mode", ["udp", "tls"], indirect=True)
async def test_listener_behind_a_firewall_hears_the_floor_through_turn(
    turn_server_app: Any, turn_host: VethHost, turn_mode: str, tmp_path: Path
) -> None:
    server = turn_server_app
    server.app[SESSION].stage.media.add_local_source("floor", ToneTrack(FLOOR_HZ), None)
    _, token = await server.person(Role.PARTICIPANT, "Ana Behind-Firewall", language="en")
    tab = await server.connect(token)
    await tab.recv_type("welcome")
    reply = await tab.request({"type": "rtc_config"})
    assert reply["type"] == "reply", reply
    config = reply["data"]
    (turn,) = config["ice_servers"]
    assert turn["urls"] == [turn_url(turn_mode)]
    expiry = int(turn["username"].split(":")[0])
    assert 0 < expiry - time.time() <= 2 * 3600 + 5  # turn_ttl_hours, before the event's end

    # Over TLS the listener trusts our self-signed certificate, and only it.
    trust = {"SSL_CERT_FILE": str(tmp_path / "turn-cert.pem")} if turn_mode == "tls" else {}
    client = await RemoteTab(turn_host, env=trust).start()
    try:
        offer = await client.connect(tab, config, "en")
        assert "relay" in offer["candidates"], offer["candidates"]
        assert " 127.0.0.1 " in offer["answer"]["sdp"]  # the media server: only our loopback
        heard: list[float] = []
        while len(heard) < 8 and not any(abs(h - FLOOR_HZ) < 5 for h in heard[-2:]):
            heard.append((await client.said())["hz"])
        print(f"MEASURED through TURN ({turn_mode}): {heard}")
        assert abs(heard[-1] - FLOOR_HZ) < 5, heard
        # it really went through the relay: the media server's peer is coturn's relay port
        media = server.app[SESSION].stage.media
        (sid,) = media.session_ids()
        pair = media._sessions[sid].pc.getTransceivers()[0].sender.transport.transport
        remote = pair._connection._nominated[1].remote_candidate
        assert remote.host == "127.0.0.1" and 49160 <= remote.port <= 49200, remote
        if turn_mode == "tls":  # the listener's one connection: TLS to the relay's 443
            conns = turn_host.exec("ss", "-Htn", "state", "established").stdout
            assert f"{TURN_IP}:{TLS_PORT}" in conns, conns
    finally:
        await client.stop()
