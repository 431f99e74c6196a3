"""ICE consent on a fast path: the pinned aioice internals, the same bytes as aioice, the
same consent semantics (answered checks keep a connection, unanswered ones close it)."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import socket
from collections.abc import AsyncIterator, Iterator

import aioice
import aioice.ice
import pytest
from aioice import stun
from aioice.candidate import candidate_priority

from simultan.media import ice, stunpath
from tests.media.tones import wait_until

KEY = b"localpassword0123456789"


@pytest.fixture
def installed() -> Iterator[None]:
    was = stunpath.is_installed()
    stunpath.install()
    yield
    if not was:
        stunpath.uninstall()


def test_pins_aioice_version() -> None:
    assert aioice.__version__ == stunpath.REQUIRED_AIOICE == "0.13.0"


def test_refuses_another_aioice_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice, "__version__", "0.14.0")
    spec = importlib.util.spec_from_file_location("stunpath_copy", stunpath.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(ImportError, match=r"aioice 0\.13\.0 internals.*found aioice 0\.14\.0"):
        spec.loader.exec_module(module)


def test_what_the_hooks_rely_on() -> None:
    """Pinned aioice internals: the names and shapes the fast paths read and replace."""
    connection = aioice.Connection(ice_controlling=False)
    for name in ("_nominated", "_check_list", "_closing", "_early_checks_done"):
        assert hasattr(connection, name), name
    assert connection._nominated == {} and connection._check_list == []
    assert connection._check_list_done is False and isinstance(connection._tie_breaker, int)
    assert connection.remote_username is None and connection.remote_password is None
    assert isinstance(connection.local_username, str)
    assert isinstance(connection.local_password, str)
    assert inspect.iscoroutinefunction(stunpath._ORIGINAL_QUERY_CONSENT)
    assert list(inspect.signature(stunpath._ORIGINAL_QUERY_CONSENT).parameters) == ["self"]
    assert list(inspect.signature(stunpath._ORIGINAL_DATAGRAM_RECEIVED).parameters) == [
        "self",
        "data",
        "addr",
    ]
    assert inspect.signature(aioice.ice.StunProtocol).parameters.keys() == {"receiver"}
    pair_attrs = inspect.getsource(aioice.ice.CandidatePair.__init__)
    for name in ("self.protocol", "self.remote_candidate", "self.nominated"):
        assert name in pair_attrs, name
    assert "remote_nominated" in inspect.getsource(aioice.ice.Connection.check_incoming)
    assert isinstance(aioice.ice.CandidatePair.remote_addr, property)
    assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES) == (5, 6)
    assert stun.RETRY_RTO == 0.5
    # aioice's consent loop: one request per nominated pair, no retransmission.
    source = inspect.getsource(stunpath._ORIGINAL_QUERY_CONSENT)
    assert "retransmissions=0" in source and "build_request(pair, nominate=False)" in source
    # The request is what consent_request() packs: USERNAME, PRIORITY, the role.
    build = inspect.getsource(aioice.ice.Connection.build_request)
    assert '"USERNAME"' in build and '"PRIORITY"' in build and '"ICE-CONTROLLED"' in build


@pytest.mark.parametrize("addr", [("127.0.0.1", 45678), ("2001:db8::7", 5000)])
def test_responses_are_aioice_bytes(addr: tuple[str, int]) -> None:
    tid = os.urandom(12)
    response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=tid)
    response.attributes["XOR-MAPPED-ADDRESS"] = addr
    response.add_message_integrity(KEY)
    assert stunpath.binding_response(tid, addr, KEY) == bytes(response)


@pytest.mark.parametrize("controlling", [True, False])
def test_consent_requests_are_aioice_bytes(controlling: bool) -> None:
    tid = os.urandom(12)
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST, transaction_id=tid)
    request.attributes["USERNAME"] = "abcde:fgh"
    request.attributes["PRIORITY"] = candidate_priority(1, "prflx")
    request.attributes["ICE-CONTROLLING" if controlling else "ICE-CONTROLLED"] = 2**63 + 5
    request.add_message_integrity(KEY)
    ours = stunpath.consent_request(tid, "abcde:fgh", 1, controlling, 2**63 + 5, KEY)
    assert ours == bytes(request)
    # and aioice reads it as its own
    parsed = stun.parse_message(ours)
    assert parsed.check_message_integrity(KEY)


def test_parse_reads_what_aioice_reads() -> None:
    tid = os.urandom(12)
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST, transaction_id=tid)
    request.attributes["USERNAME"] = "abc:defg"
    request.attributes["PRIORITY"] = 12345
    request.attributes["ICE-CONTROLLING"] = 99
    request.attributes["USE-CANDIDATE"] = None
    request.add_message_integrity(KEY)
    data = bytes(request)
    parsed = stunpath.parse(data)
    assert parsed is not None and parsed.transaction_id == tid
    assert parsed.message_type == stunpath.BINDING_REQUEST
    assert parsed.attributes[stunpath.A_USERNAME] == b"abc:defg"
    assert stunpath.A_USE_CANDIDATE in parsed.attributes
    assert parsed.authentic(data, KEY) and not parsed.authentic(data, b"another key")
    # A wrong fingerprint: aioice refuses the message, so does the fast path.
    bad = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ValueError):
        stun.parse_message(bad)
    assert stunpath.parse(bad) is None
    # Tampered before the integrity (fingerprint fixed up): parsed, not authentic.
    tampered = stun.Message(stun.Method.BINDING, stun.Class.REQUEST, transaction_id=tid)
    tampered.attributes = dict(request.attributes)
    tampered.attributes["USERNAME"] = "abc:defh"
    tampered.add_fingerprint()
    parsed = stunpath.parse(bytes(tampered))
    assert parsed is not None and not parsed.authentic(bytes(tampered), KEY)
    # An attribute aioice knows that the fast path does not handle: left to aioice.
    other = stun.Message(stun.Method.BINDING, stun.Class.REQUEST, transaction_id=tid)
    other.attributes["USERNAME"] = "abc:defg"
    other.attributes["XOR-MAPPED-ADDRESS"] = ("127.0.0.1", 1)
    other.add_message_integrity(KEY)
    assert stunpath.parse(bytes(other)) is None
    # ... but a response's XOR-MAPPED-ADDRESS is skipped when reading a consent answer.
    assert stunpath.parse(bytes(other), strict=False) is not None
    # Not STUN at all.
    assert stunpath.parse(b"\x80" * 40) is None


# -- end to end: two aioice agents on 127.0.0.1 ----------------------------------------------


@pytest.fixture
async def pair(
    installed: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[aioice.Connection, aioice.Connection]]:
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.5)
    previous = ice.current_host_addresses()
    ice.use_host_addresses(["127.0.0.1"])
    a = aioice.Connection(ice_controlling=True)
    b = aioice.Connection(ice_controlling=False)
    try:
        await asyncio.gather(a.gather_candidates(), b.gather_candidates())
        for x, y in ((a, b), (b, a)):
            for candidate in x.local_candidates:
                await y.add_remote_candidate(candidate)
            await y.add_remote_candidate(None)
            y.remote_username, y.remote_password = x.local_username, x.local_password
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
        yield a, b
    finally:
        await asyncio.gather(a.close(), b.close())
        if previous is None:
            ice.restore_default()
        else:
            ice.use_host_addresses(previous)


async def test_consent_checks_are_answered_on_the_fast_path(
    pair: tuple[aioice.Connection, aioice.Connection],
) -> None:
    a, b = pair
    before = dict(stunpath.STATS)
    await asyncio.sleep(2.0)  # ~4 consent checks each way at 0.5 s x 0.8-1.2
    after = stunpath.STATS
    checks = after["checks"] - before.get("checks", 0)
    answered = after["answered"] - before.get("answered", 0)
    ours = after["answered_ours"] - before.get("answered_ours", 0)
    assert checks >= 4
    assert answered >= checks - 2  # each check answered by the other agent's fast path
    assert ours >= checks - 2  # and each answer taken by the clock
    assert after["consent_failures"] == before.get("consent_failures", 0)
    # Both connections up, data flows both ways past the STUN demultiplexer.
    await a.send(b"\x80hello")
    assert await asyncio.wait_for(b.recv(), 2) == b"\x80hello"
    await b.send(b"\x16dtls-ish")
    assert await asyncio.wait_for(a.recv(), 2) == b"\x16dtls-ish"
    assert stunpath.CONSENT_CLOCK.connections() >= 2


async def test_a_request_from_elsewhere_takes_aioices_path(
    pair: tuple[aioice.Connection, aioice.Connection],
) -> None:
    """A valid check from an address that is not the nominated pair's (a new candidate, a
    NAT rebinding) is answered by aioice itself, which also learns the new candidate."""
    a, b = pair
    local = b._nominated[1].local_candidate
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    try:
        answered = stunpath.STATS["answered"]
        tid = os.urandom(12)
        request = stunpath.consent_request(
            tid, f"{b.local_username}:{a.local_username}", 1, True, a._tie_breaker,
            b.local_password.encode(),
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(sock, request, (local.host, local.port))
        data = await asyncio.wait_for(loop.sock_recv(sock, 2048), 2)
        response = stun.parse_message(data)
        assert response.transaction_id == tid
        assert response.message_class == stun.Class.RESPONSE
        assert response.attributes["XOR-MAPPED-ADDRESS"] == sock.getsockname()
        assert stunpath.STATS["answered"] == answered  # not by the fast path
        assert any(c.port == sock.getsockname()[1] for c in b._remote_candidates)  # prflx
    finally:
        sock.close()


async def test_unanswered_consent_closes_the_connection(
    pair: tuple[aioice.Connection, aioice.Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 3)
    # b stops answering (its network drops everything STUN that reaches it).
    protocol = b._nominated[1].protocol
    monkeypatch.setattr(protocol, "datagram_received", lambda data, addr: None)
    elapsed = await wait_until(lambda: not a._nominated, timeout=10)
    assert not a._nominated and a._closing  # closed by the consent clock, as aioice would
    # 3 unanswered checks at 0.4-0.6 s apart, the last timing out 0.5 s after it went
    assert 0.8 < elapsed < 3.5, elapsed
