"""The direct send path alone: CPU per forwarded packet, without aiortc's per-session tasks.

One feed, N direct down tracks, each with a real :class:`simultan.media.passthrough.Wire`
configuring its track's route (the C extension, then its Python twin, each in a process of its
own: ``--impl``)
(its own libsrtp session, AES-128-CM/HMAC-SHA1-80 as aiortc negotiates with browsers, and
its own UDP socket sending to one sink socket on 127.0.0.1 that drains). What is timed
(``time.process_time``, so a shared machine does not inflate it) is the whole path per feed
packet: ``Feed.on_rtp`` -> ``route.forward`` over every subscriber (header rewrite, SRTP
protect, one ``sendto``, counters).

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/fwd_micro.py'
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

from pylibsrtp import Policy, Session

from simultan.media import passthrough
from simultan.media.fanout import DownTrack, Feed, Switchboard
from simultan.media.passthrough import Wire, ntp_from_ms
from simultan.media.route import IMPLEMENTATION


class _Track:
    kind = "audio"

    async def recv(self) -> Any:  # never read: packets come through on_rtp
        raise RuntimeError


def make_wire(sink: tuple[str, int], ssrc: int, down: DownTrack) -> tuple[Wire, socket.socket]:
    """A real Wire on stand-ins for aiortc's sender, DTLS transport and ICE pair."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    policy = Policy(
        key=os.urandom(30),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    )
    policy.allow_repeat_tx = True
    pair = SimpleNamespace(
        remote_addr=sink, protocol=SimpleNamespace(transport=SimpleNamespace(_sock=sock))
    )
    dtls = SimpleNamespace(
        _state=passthrough._CONNECTED,
        _tx_srtp=Session(policy),
        transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
    )
    sender = SimpleNamespace(
        transport=dtls,
        _ssrc=ssrc,
        _rtx_ssrc=ssrc + 1,
        _RTCRtpSender__packet_count=0,
        _RTCRtpSender__octet_count=0,
        _RTCRtpSender__rtp_timestamp=0,
        _RTCRtpSender__ntp_timestamp=0,
    )
    parameters = SimpleNamespace(
        codecs=[SimpleNamespace(payloadType=111, clockRate=48000, mimeType="audio/opus")],
        muxId="1",
        headerExtensions=[SimpleNamespace(id=4, uri=passthrough.MID_URI)],
    )
    return Wire(sender, parameters, down.route), sock  # type: ignore[arg-type]


def run(n: int, packets: int, payload_size: int) -> dict[str, Any]:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    sink.setblocking(False)
    addr = sink.getsockname()
    board = Switchboard()
    feed = Feed("k", "audio", _Track(), board, ntp_from_ms=ntp_from_ms)  # type: ignore[arg-type]
    board.set_feed(feed)
    socks = []
    downs = []
    for i in range(n):
        down = DownTrack("audio", board, queue_size=4, direct=True)
        wire, sock = make_wire(addr, 1000 + 2 * i, down)
        socks.append(sock)
        down.bind_wire(wire)
        board.attach(down, "k")
        downs.append(down)
    payload = os.urandom(payload_size)
    packet = SimpleNamespace(sequence_number=0, timestamp=0, marker=0, payload=payload)
    arrival = int(time.time() * 1000) + 2_208_988_800_000
    windows = []
    for w in range(5):
        spent = 0.0
        for i in range(packets):
            seq = w * packets + i
            packet.sequence_number = seq & 0xFFFF
            packet.timestamp = seq * 960
            t0 = time.process_time()
            feed.on_rtp(packet, arrival + seq * 20)  # type: ignore[arg-type]
            spent += time.process_time() - t0
            try:  # drain the sink (not timed)
                while True:
                    sink.recv(2048)
            except BlockingIOError:
                pass
        windows.append(1e6 * spent / (packets * n))
    sent = sum(d.counters.frames_out for d in downs)
    for s in (*socks, sink):
        s.close()
    return {
        "implementation": IMPLEMENTATION,
        "subscribers": n,
        "payload_bytes": payload_size,
        "us_per_forwarded_packet_median": round(statistics.median(windows), 2),
        "us_per_forwarded_packet_windows": [round(x, 2) for x in windows],
        "sent": sent,
        "expected": 5 * packets * n,
    }


def calibrate(count: int = 20000, payload_size: int = 120) -> dict[str, float]:
    """This machine, now: the three irreducible parts of a forwarded packet, in µs of CPU."""
    header = struct.Struct("!BBHII")
    payload = os.urandom(payload_size)
    policy = Policy(
        key=os.urandom(30),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    )
    session = Session(policy)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    sink.setblocking(False)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setblocking(False)
    addr = sink.getsockname()
    t0 = time.process_time()
    packets = [header.pack(0x80, 111, i & 0xFFFF, i * 960, 1234) + payload for i in range(count)]
    t1 = time.process_time()
    protected = [session.protect(p) for p in packets]
    t2 = time.process_time()
    sendto_cpu = 0.0
    for i, data in enumerate(protected):
        t = time.process_time()
        out.sendto(data, addr)
        sendto_cpu += time.process_time() - t
        if i % 100 == 0:
            try:
                while True:
                    sink.recv(2048)
            except BlockingIOError:
                pass
    for s in (sink, out):
        s.close()
    return {
        "header_us": round(1e6 * (t1 - t0) / count, 2),
        "protect_us": round(1e6 * (t2 - t1) / count, 2),
        "sendto_us": round(1e6 * sendto_cpu / count, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="100,300,1000")
    parser.add_argument("--packets", type=int, default=200)
    parser.add_argument("--payload", default="120,1100", help="bytes: Opus ~120, VP8 ~1100")
    parser.add_argument(
        "--impl",
        default="c,python",
        help="route implementations, each in its own process (SIMULTAN_FASTPATH)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.child:
        for impl in args.impl.split(","):
            env = {**os.environ, "SIMULTAN_FASTPATH": impl}
            argv = [sys.executable, __file__, "--child", "--subscribers", args.subscribers]
            argv += ["--packets", str(args.packets), "--payload", args.payload]
            subprocess.run(argv, env=env, check=True)
        return
    print(json.dumps({"implementation": IMPLEMENTATION, "calibration": calibrate()}), flush=True)
    for size in (int(x) for x in args.payload.split(",")):
        for n in (int(x) for x in args.subscribers.split(",")):
            print(json.dumps(run(n, args.packets, size)), flush=True)


if __name__ == "__main__":
    main()
