"""A load generator that costs less than the server: ICE, DTLS and SRTP only.

aiortc sets each listener's connection up (offer, ICE, DTLS, SRTP keys); once it is up,
RTP never goes past the socket: the listener's UDP protocol counts each packet from its
RTP header (in the clear under SRTP: SSRC, sequence number, timestamp), and every
``check_every``-th packet is SRTP-unprotected to check it really is our stream, keyed and
authentic. STUN (consent), DTLS and RTCP still take aiortc's path.

Per listener and stream: packets, unwrapped highest sequence number and RTP timestamp
(expected frames from the timestamps: a source frame is 960 ticks of audio, so loss inside
the SFU shows as well as loss on the wire), SRTP checks passed and failed.

``python bench/light_listener.py load TARGET N VIDEO MEDIA`` runs N of them in their own
process (TARGET: the server's socket from :class:`media_common.ServerProcess`, or the URL of
a Janus HTTP API for :class:`JanusListener`); it prints ``ready K``
once K are connected (MEDIA=1: once K hear something), then a JSON line of totals for each line read on stdin, until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription

from media_common import CHANNEL, CONFIG, ServerProcess
from simultan.media import ice

_SSRC = re.compile(r"^a=ssrc:(\d+) ", re.M)
_MLINE = re.compile(r"^m=(audio|video) \d+ \S+ (\d+)", re.M)


@dataclass
class StreamCount:
    kind: str
    packets: int = 0
    first_seq: int | None = None
    highest: int = 0
    ts_first: int = 0
    ts_highest: int = 0
    frames: int = 0  # distinct RTP timestamps in arrival order (a video frame spans packets)
    _last_ts: int = -1

    def add(self, seq: int, ts: int) -> None:
        if ts != self._last_ts:
            self.frames += 1
            self._last_ts = ts
        if self.first_seq is None:
            self.first_seq = self.highest = seq
            self.ts_first = self.ts_highest = ts
        else:
            delta = (seq - self.highest) & 0xFFFF
            if delta < 0x8000:
                self.highest += delta
            ts_delta = (ts - self.ts_highest) & 0xFFFFFFFF
            if ts_delta < 0x80000000:
                self.ts_highest += ts_delta
        self.packets += 1

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.packets, self.highest, self.ts_highest, self.frames


def _ssrcs_by_mline(sdp: str) -> list[int | None]:
    """The first (media, not RTX) SSRC the answer announces in each m-section."""
    out: list[int | None] = []
    for section in sdp.split("\nm=")[1:]:
        m = _SSRC.search(section.replace("\r\n", "\n"))
        out.append(int(m.group(1)) if m else None)
    return out


def _payload_types(sdp: str) -> dict[int, str]:
    """The first (media) payload type of each m-section and its kind."""
    return {int(pt): kind for kind, pt in _MLINE.findall(sdp.replace("\r\n", "\n"))}


class LightListener:
    """A listener tab whose media costs a header parse per packet."""

    def __init__(
        self,
        server: ServerProcess,
        session: str,
        *,
        video: bool = False,
        check_every: int = 50,
        channel: str | None = CHANNEL,
    ) -> None:
        self.server = server
        self.session = session
        self.video = video
        self.channel = channel
        self.check_every = check_every
        self.pc = RTCPeerConnection(CONFIG)
        kinds = (["video"] if video else []) + ["audio", "audio"]
        for kind in self._transceivers(kinds):
            self.pc.addTransceiver(kind, direction="recvonly")
        self.kinds = kinds
        self.streams: dict[int, StreamCount] = {}
        # Streams whose SSRC the SDP does not announce are learnt from their payload type.
        self.payload_kinds: dict[int, str] = {}
        self.checked = 0
        self.check_failed = 0
        self.other = 0
        self.on_packet: Any = None  # (ssrc, seq, ts, payload, now) for probes: unprotects all
        self.first_at: float | None = None
        self._n = 0
        self._srtp: Any = None

    def _transceivers(self, kinds: list[str]) -> list[str]:
        """The transceivers this listener offers (the answering Janus variant: none)."""
        return kinds

    async def connect(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.server.call(
            op="negotiate",
            session=self.session,
            sdp=self.pc.localDescription.sdp,
            channel=self.channel,
            video=self.video,
        )
        answer = reply["sdp"]
        for kind, ssrc in zip(self.kinds, _ssrcs_by_mline(answer), strict=False):
            if ssrc is not None:
                self.streams[ssrc] = StreamCount(kind)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def install(self) -> bool:
        """Once DTLS is up: take RTP off aiortc's path. False if not connected yet."""
        transport: Any = self.pc.getTransceivers()[0].receiver.transport
        if transport.state != "connected" or transport._rx_srtp is None:
            return False
        pair = transport.transport._connection._nominated.get(1)
        if pair is None:
            return False
        self._srtp = transport._rx_srtp
        protocol = pair.protocol
        original = protocol.datagram_received
        streams = self.streams
        payload_kinds = self.payload_kinds
        check_every = self.check_every

        def datagram_received(data: bytes, addr: tuple[str, int]) -> None:
            if len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                ssrc = int.from_bytes(data[8:12], "big")
                stream = streams.get(ssrc)
                if stream is None:
                    kind = payload_kinds.get(data[1] & 0x7F)
                    if kind is None:
                        self.other += 1  # RTX or unknown: not counted as media
                        return
                    stream = streams[ssrc] = StreamCount(kind)
                stream.add(int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big"))
                self._n += 1
                if self.on_packet is not None:
                    self._probe(data)
                elif self._n % check_every == 0:
                    try:
                        self._srtp.unprotect(data)
                        self.checked += 1
                    except Exception:
                        self.check_failed += 1
                return
            original(data, addr)

        protocol.datagram_received = datagram_received
        return True

    def _probe(self, data: bytes) -> None:
        now = time.perf_counter()
        try:
            clear = self._srtp.unprotect(data)
        except Exception:
            self.check_failed += 1
            return
        self.checked += 1
        header = 12 + 4 * (clear[0] & 0x0F)
        if clear[0] & 0x10:
            header += 4 + 4 * int.from_bytes(clear[header + 2 : header + 4], "big")
        self.on_packet(clear[header:], now)

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {"checked": self.checked, "check_failed": self.check_failed}
        for s in self.streams.values():
            for name, value in zip(
                ("packets", "highest", "ts", "frames"), s.snapshot(), strict=True
            ):
                out[f"{s.kind}_{name}"] = out.get(f"{s.kind}_{name}", 0) + value
        return out

    async def close(self) -> None:
        await self.pc.close()


class JanusListener(LightListener):
    """The same light listener, watching a Janus Streaming mountpoint over Janus's HTTP API.

    Janus offers (create a session, attach ``janus.plugin.streaming``, ``watch``: the offer
    comes as an event on the session's long poll) and this listener answers (``start``).
    Janus's streams are counted by payload type (the offer may not announce SSRCs).
    """

    def __init__(self, url: str, http: aiohttp.ClientSession, mountpoint: int, **kw: Any) -> None:
        super().__init__(None, "janus", **kw)  # type: ignore[arg-type]
        self.url = url
        self.http = http
        self.mountpoint = mountpoint
        self.handle_url = ""

    def _transceivers(self, kinds: list[str]) -> list[str]:
        return []

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(url, json={**body, "transaction": uuid.uuid4().hex}) as r:
            reply: dict[str, Any] = await r.json(content_type=None)
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {reply}")
        return reply

    async def connect(self) -> None:
        sid = (await self._post(self.url, {"janus": "create"}))["data"]["id"]
        session_url = f"{self.url}/{sid}"
        hid = (
            await self._post(session_url, {"janus": "attach", "plugin": "janus.plugin.streaming"})
        )["data"]["id"]
        self.handle_url = f"{session_url}/{hid}"
        await self._post(
            self.handle_url,
            {"janus": "message", "body": {"request": "watch", "id": self.mountpoint}},
        )
        offer = None
        while offer is None:
            async with self.http.get(f"{session_url}?maxev=10") as r:
                events = await r.json(content_type=None)
            for event in events if isinstance(events, list) else [events]:
                if "jsep" in event:
                    offer = event["jsep"]["sdp"]
        self.payload_kinds.update(_payload_types(offer))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self._post(
            self.handle_url,
            {
                "janus": "message",
                "body": {"request": "start"},
                "jsep": {"type": "answer", "sdp": self.pc.localDescription.sdp},
            },
        )


def tolerate_consent_failures() -> None:
    """Bench peers never give up on consent (aioice: one STUN request per check, no
    retransmission, close after 6 misses). On a machine loaded by others, a starved bench
    process missing 30 s of checks would otherwise drop its connections mid-run and make
    the measured server look idle; the servers' own consent checks stay as they are."""
    aioice.ice.CONSENT_FAILURES = 1 << 30  # type: ignore[attr-defined]


async def connect_all(
    listeners: list[LightListener], wave: int = 20, timeout: float = 90, media: bool = True
) -> int:
    """Connect in waves; returns how many hear something within ``timeout``."""
    for i in range(0, len(listeners), wave):
        await asyncio.gather(*(t.connect() for t in listeners[i : i + wave]))
    deadline = time.monotonic() + timeout
    pending = list(listeners)
    while pending and time.monotonic() < deadline:
        pending = [t for t in pending if not t.install()]
        if pending:
            await asyncio.sleep(0.2)
    if not media:
        return len(listeners) - len(pending)
    hearing_deadline = time.monotonic() + 10
    while time.monotonic() < hearing_deadline:
        if all(any(s.packets for s in t.streams.values()) for t in listeners):
            break
        await asyncio.sleep(0.2)
    return sum(1 for t in listeners if any(s.packets for s in t.streams.values()))


def sum_totals(listeners: list[LightListener]) -> dict[str, int]:
    total: dict[str, int] = {
        "hearing": sum(1 for t in listeners if any(s.packets for s in t.streams.values()))
    }
    for t in listeners:
        for k, v in t.totals().items():
            total[k] = total.get(k, 0) + v
    return total


async def _load(target: str, count: int, video: bool, media: bool) -> None:
    ice.use_host_addresses(["127.0.0.1"])
    tolerate_consent_failures()
    http = aiohttp.ClientSession()
    listeners: list[LightListener]
    if target.startswith("http://"):
        url, _, mountpoint = target.rpartition("#")
        listeners = [JanusListener(url, http, int(mountpoint), video=video) for i in range(count)]
    else:
        server = ServerProcess("attached")
        await server.attach(target)
        tag = f"light-{time.monotonic_ns()}"
        listeners = [LightListener(server, f"{tag}-{i}", video=video) for i in range(count)]
    hearing = await connect_all(listeners, media=media)
    print("ready", hearing, flush=True)
    loop = asyncio.get_running_loop()
    previous = [t._n for t in listeners]
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        counts = [t._n for t in listeners]
        live = sum(1 for c, p in zip(counts, previous, strict=True) if c > p)
        previous = counts
        totals = {**sum_totals(listeners), "live": live, "cpu": time.process_time()}
        print(json.dumps(totals), flush=True)
    await asyncio.gather(*(t.close() for t in listeners), return_exceptions=True)
    await http.close()


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "load":
    asyncio.run(_load(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1"))
