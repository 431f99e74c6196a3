"""One subscriber's RTP numbering and way out, and the per-packet loop over them.

A :class:`Route` belongs to one outgoing track (:class:`~.fanout.DownTrack`): the offsets that
map its current source's sequence numbers and timestamps to its own continuous ones, what it
sent last, and, once a :class:`~.passthrough.Wire` configures it, the wire itself (a dup of the
ICE pair's UDP socket, the remote address, SSRC, payload type, header extension and the SRTP
session). :func:`forward` writes one feed packet to every route that is ready and anchored on
that feed, and hands the others back by index (the rare cases, re-anchoring and keyframe waits,
stay in Python, in :meth:`~.fanout.DownTrack.push_rtp`).

Two implementations with one contract: the C extension ``simultan.media._fastpath`` (built
with the package when a compiler is there; about 3x less CPU per packet, see bench/RESULTS.md)
and the Python twin below, which is used when the extension is not built and by the tests
that check both give the same bytes on the wire. :data:`IMPLEMENTATION` says which one runs;
``SIMULTAN_FASTPATH=python`` forces the twin.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import pylibsrtp

# Same value as the C extension's buffer (2048) less pylibsrtp.SRTP_MAX_TRAILER_LEN (144).
_MAX_PACKET = 2048 - 144


class PyRoute:
    """The Python twin of ``_fastpath.Route`` (same attributes, same methods)."""

    def __init__(self, out_seq: int = 0, out_ts: int = 0) -> None:
        self.ready = 0
        self.feed = -1
        self.seq_off = 0
        self.ts_off = 0
        self.anchor_seq = out_seq & 0xFFFF
        self.out_seq = out_seq & 0xFFFF
        self.out_ts = out_ts & 0xFFFFFFFF
        self.out_arrival_ms = 0
        self.ssrc = 0
        self.sent = self.failed = self.fast_sent = self.fast_failed = 0
        self.packets = self.octets = 0
        self.rtp_ts = 0
        self.ntp = 0
        self._sock: socket.socket | None = None
        self._addr: tuple[str, int] = ("", 0)
        self._head = b""
        self._ext = b""
        self._byte0 = 0x80
        self._pt = 0
        self._protect: Callable[[bytes], bytes] = bytes

    @property
    def configured(self) -> bool:
        return self._sock is not None

    def configure(
        self,
        fd: int,
        host: str,
        port: int,
        byte0: int,
        payload_type: int,
        ssrc: int,
        extension: bytes,
        ctx: int,
        protect: int,
        keep: Any,
    ) -> None:
        """``ctx`` and ``protect`` are the C path's (libsrtp pointers); the twin protects
        through ``keep``, the pylibsrtp session they come from."""
        from simultan.media.passthrough import fast_protect

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        socket.inet_pton(family, host)  # ValueError-like OSError for a non-address
        self.unconfigure()
        self._sock = socket.socket(family, socket.SOCK_DGRAM, fileno=os.dup(fd))
        self._addr = (host, port)
        self._byte0, self._pt, self.ssrc, self._ext = byte0, payload_type, ssrc, extension
        self._protect = fast_protect(keep)

    def unconfigure(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._protect = bytes

    def _put(self, packet: bytes) -> bool:
        sock = self._sock
        if sock is None or len(packet) > _MAX_PACKET:
            return False
        try:
            data = self._protect(packet)
            sock.sendto(data, socket.MSG_DONTWAIT, self._addr)
        except (OSError, pylibsrtp.Error):
            return False
        return True

    def send(self, payload: bytes, marker: int, seq: int, ts: int, ntp: int) -> bool:
        header = bytes(
            (
                self._byte0,
                ((marker & 1) << 7) | self._pt,
                (seq >> 8) & 0xFF,
                seq & 0xFF,
            )
        )
        packet = header + ts.to_bytes(4, "big") + self.ssrc.to_bytes(4, "big") + self._ext
        if not self._put(packet + payload):
            self.failed += 1
            return False
        self.sent += 1
        self.packets += 1
        self.octets += len(payload)
        self.rtp_ts = ts
        self.ntp = ntp
        return True

    def send_packet(self, packet: bytes) -> bool:
        ok = self._put(packet)
        if ok:
            self.sent += 1
        else:
            self.failed += 1
        return ok

    def __del__(self) -> None:
        self.unconfigure()


def py_forward(
    routes: list[Any],
    feed: int,
    seq_in: int,
    ts_in: int,
    marker: int,
    payload: bytes,
    arrival_ms: int,
    ntp: int,
    max_jump: int,
) -> tuple[list[int], list[int]] | None:
    """The Python twin of ``_fastpath.forward``."""
    slow: list[int] | None = None
    failed: list[int] | None = None
    for i, r in enumerate(routes):
        if not isinstance(r, PyRoute):
            slow = [*(slow or []), i]
            continue
        seq = (seq_in + r.seq_off) & 0xFFFF
        jump = (seq - r.out_seq) & 0xFFFF
        if (
            not r.ready
            or r.feed != feed
            or not r.configured
            or max_jump < jump < 0x10000 - max_jump
        ):
            slow = [*(slow or []), i]
            continue
        ts = (ts_in + r.ts_off) & 0xFFFFFFFF
        if r.send(payload, marker, seq, ts, ntp):
            r.fast_sent += 1
            if jump < 0x8000:
                r.out_seq, r.out_ts, r.out_arrival_ms = seq, ts, arrival_ms
        else:
            r.fast_failed += 1
            failed = [*(failed or []), i]
    if slow is None and failed is None:
        return None
    return slow or [], failed or []


Route: Any
forward: Callable[..., tuple[list[int], list[int]] | None]

try:
    if os.environ.get("SIMULTAN_FASTPATH", "").lower() == "python":
        raise ImportError("SIMULTAN_FASTPATH=python")
    from simultan.media import _fastpath  # type: ignore[attr-defined]

    Route, forward = _fastpath.Route, _fastpath.forward
    IMPLEMENTATION = "c"
except ImportError:  # not built (no compiler at install time): the Python twin
    Route, forward = PyRoute, py_forward
    IMPLEMENTATION = "python"
