"""The direct send path's routes: the C extension and its Python twin keep one contract.

Each route sends through a real UDP socket on 127.0.0.1 with a real SRTP session; the
receiving side unprotects with the matching session and reads the RTP header back.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pylibsrtp
import pytest

from simultan.media import passthrough, route

KEY = bytes(range(30))  # SRTP master key (16) + salt (14)
EXT = b"\xbe\xde\x00\x01\x10\x30\x00\x00"  # one-byte header extension: id 1, mid "0"

IMPLEMENTATIONS: dict[str, tuple[Any, Any]] = {"python": (route.PyRoute, route.py_forward)}
try:
    from simultan.media import _fastpath  # type: ignore[attr-defined]

    IMPLEMENTATIONS["c"] = (_fastpath.Route, _fastpath.forward)
except ImportError:  # pragma: no cover - CI builds it, see test_ci_runs_the_c_path
    pass


def session(direction: int) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=KEY, ssrc_type=direction)
    return pylibsrtp.Session(policy)


class Sink:
    """A receiver on 127.0.0.1 that unprotects what it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.srtp = session(pylibsrtp.Policy.SSRC_ANY_INBOUND)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def raw(self) -> bytes:
        return self.sock.recv(4096)

    def rtp(self) -> bytes:
        return bytes(self.srtp.unprotect(self.raw()))

    def empty(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(2)
        return False


@pytest.fixture
def out() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def configured(kind: str, out: socket.socket, sink: Sink, *, ssrc: int = 0x1234) -> Any:
    make, _ = IMPLEMENTATIONS[kind]
    r = make(100, 5000)
    srtp = session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    r.configure(
        out.fileno(),
        "127.0.0.1",
        sink.port,
        0x90,
        111,
        ssrc,
        EXT,
        passthrough.srtp_context(srtp),
        passthrough._SRTP_PROTECT,
        srtp,
    )
    r.ready, r.feed = 1, 7
    r.seq_off, r.ts_off = 1000, 960
    return r


@pytest.mark.parametrize("kind", sorted(IMPLEMENTATIONS))
def test_a_ready_route_rewrites_protects_and_sends(kind: str, out: socket.socket) -> None:
    sink = Sink()
    r = configured(kind, out, sink)
    _, forward = IMPLEMENTATIONS[kind]
    assert forward([r], 7, 50, 48000, 1, b"opus!", 123, 456, 3000) is None
    packet = sink.rtp()
    assert packet[0] == 0x90 and packet[1] == 0x80 | 111  # version 2 + extension; marker, PT
    assert int.from_bytes(packet[2:4], "big") == 1050
    assert int.from_bytes(packet[4:8], "big") == 48960
    assert int.from_bytes(packet[8:12], "big") == 0x1234
    assert packet[12:20] == EXT and packet[20:] == b"opus!"
    assert (r.out_seq, r.out_ts, r.out_arrival_ms) == (1050, 48960, 123)
    assert (r.sent, r.fast_sent, r.packets, r.octets, r.rtp_ts, r.ntp) == (1, 1, 1, 5, 48960, 456)


def test_both_implementations_put_the_same_bytes_on_the_wire(out: socket.socket) -> None:
    if "c" not in IMPLEMENTATIONS:
        pytest.skip("the C extension is not built here")
    sinks = {kind: Sink() for kind in ("c", "python")}
    routes = {kind: configured(kind, out, sinks[kind]) for kind in sinks}
    for seq in range(65530, 65540):  # across the sequence wrap
        for kind, r in routes.items():
            IMPLEMENTATIONS[kind][1](
                [r], 7, seq & 0xFFFF, seq * 960, seq % 2, b"x" * 80, 0, 0, 3000
            )
        assert sinks["c"].raw() == sinks["python"].raw()
    assert routes["c"].out_seq == routes["python"].out_seq


@pytest.mark.parametrize("kind", sorted(IMPLEMENTATIONS))
def test_what_needs_python_comes_back_by_index(kind: str, out: socket.socket) -> None:
    sink = Sink()
    make, forward = IMPLEMENTATIONS[kind]
    ready = configured(kind, out, sink)
    not_ready = configured(kind, out, sink)
    not_ready.ready = 0
    other_feed = configured(kind, out, sink)
    other_feed.feed = 8
    jumped = configured(kind, out, sink)
    jumped.out_seq = 30000  # 50 + 1000 is far from it: a restarted stream, re-anchor
    unwired = make(0, 0)
    unwired.ready, unwired.feed = 1, 7
    routes = [not_ready, ready, other_feed, jumped, unwired, None]
    slow, failed = forward(routes, 7, 50, 0, 0, b"a", 0, 0, 3000)
    assert (slow, failed) == ([0, 2, 3, 4, 5], [])
    assert sink.rtp()[-1:] == b"a" and sink.empty()  # only the ready one sent
    # A send that fails (too long for a datagram here) is counted and handed back.
    slow, failed = forward([ready], 7, 51, 0, 0, b"a" * 3000, 0, 0, 3000)
    assert (slow, failed) == ([], [0])
    assert (ready.failed, ready.fast_failed, ready.out_seq) == (1, 1, 1050)


@pytest.mark.parametrize("kind", sorted(IMPLEMENTATIONS))
def test_a_late_packet_goes_out_but_does_not_move_the_numbering(
    kind: str, out: socket.socket
) -> None:
    sink = Sink()
    r = configured(kind, out, sink)
    forward = IMPLEMENTATIONS[kind][1]
    forward([r], 7, 50, 960, 0, b"a", 1, 0, 3000)
    forward([r], 7, 49, 0, 0, b"b", 2, 0, 3000)  # reordered on the way in
    assert [int.from_bytes(sink.rtp()[2:4], "big") for _ in range(2)] == [1050, 1049]
    assert (r.out_seq, r.out_arrival_ms) == (1050, 1)


@pytest.mark.parametrize("kind", sorted(IMPLEMENTATIONS))
def test_an_unconfigured_route_lets_go_of_its_socket(kind: str, out: socket.socket) -> None:
    sink = Sink()
    r = configured(kind, out, sink)
    fds = len(os.listdir("/proc/self/fd"))
    r.unconfigure()
    assert not r.configured
    assert len(os.listdir("/proc/self/fd")) == fds - 1  # its dup is closed
    assert not r.send(b"a", 0, 1, 1, 0) and r.failed == 1
    out.close()  # the route never owned the original socket


def test_ci_runs_the_c_path() -> None:
    """CI builds the extension (deploy/dev.sh installs gcc): the media tests use it there."""
    if os.environ.get("SIMULTAN_CI") != "1":
        pytest.skip("only checked in CI")
    assert route.IMPLEMENTATION == "c"
