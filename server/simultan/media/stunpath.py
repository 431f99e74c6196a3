"""ICE consent on a fast path: the one module that relies on aioice's STUN internals.

Once a connection is up, ICE keeps costing the server something for every subscriber: the
remote's consent checks (STUN Binding requests on the selected pair, every 5 s from aiortc,
every 2.5 s from a browser) each answered through aioice's pure-Python message classes
(parse ~4 µs, a response ~16 µs), and the server's own consent checks (RFC 7675: one
every 4-6 s per connection), each a task wakeup, a request packed three times, a STUN
transaction with a timer, the response parsed and the task woken again. Measured on this
machine: ~25 µs and ~45 µs of CPU per check (bench/RESULTS.md). Two hooks, checked
against the pinned version (aioice 0.13.0), cut that to a few µs each, with the same bytes
on the wire and the same semantics; a third saves the receive queue for SRTP:

1. **Answering the remote's checks.** ``StunProtocol.datagram_received`` is wrapped by
   :func:`_datagram_received`. Datagrams that cannot be STUN (first byte above 3, RFC 7983:
   RTP, RTCP, DTLS) go straight to the connection, as aioice does after its parse fails. A
   Binding request from the remote address of the connection's nominated pair, on that
   pair's socket, once the connection is established, is checked here (USERNAME against
   the local and remote fragments, MESSAGE-INTEGRITY with the local password, FINGERPRINT)
   and answered with the response aioice would send (XOR-MAPPED-ADDRESS,
   MESSAGE-INTEGRITY, FINGERPRINT; the same bytes), packed with ``struct``. Anything else
   takes aioice's own path unchanged: another address or socket (a new candidate, an ICE
   restart), a role conflict, a request that fails a check (aioice answers the error), a
   USE-CANDIDATE that would still change aioice's state, an attribute we do not handle.
2. **Our consent checks.** ``Connection.query_consent`` (run by ``connect()`` once ICE has
   completed, cancelled by ``close()``) registers the connection with one
   :class:`ConsentClock` for the process and waits. The clock's task wakes every ``TICK``,
   sends one Binding request (no retransmission, as aioice) on each nominated pair of each
   connection that is due (every ``CONSENT_INTERVAL`` x 0.8-1.2), and takes the authenticated
   response in :func:`_datagram_received` (by transaction id). As in aioice: a check not
   answered within ``stun.RETRY_RTO`` (0.5 s), or answered with an authenticated error, is a
   failure, an answered one resets the count, and ``CONSENT_FAILURES`` failures in a row
   (about 30 s) close the connection. ``aioice.ice.CONSENT_INTERVAL`` and
   ``CONSENT_FAILURES`` are read at each check, so a setting (or a test's) still applies.

3. **SRTP handed over at once.** A connection given a media sink (:func:`set_media_sink`,
   by :mod:`simultan.media.passthrough` once DTLS is up) gets RTP and RTCP datagrams in
   ``datagram_received`` itself, not through its queue.

Internals relied on (tests/media/test_stunpath.py pins them): ``StunProtocol``'s
``receiver``, ``local_candidate`` and ``transport``; ``Connection``'s ``_nominated``,
``_closing``, ``_early_checks_done``, ``_check_list``, ``_check_list_done``, ``_tie_breaker``,
``ice_controlling``, the username fragments and passwords, ``query_consent`` and ``close``;
``CandidatePair``'s ``protocol``, ``remote_addr``, ``state``, ``nominated``,
``remote_nominated``; aioice's attribute table and its message layout.
"""

from __future__ import annotations

import asyncio
import binascii
import collections
import hashlib
import heapq
import hmac
import itertools
import logging
import os
import random
import socket
import struct
from collections.abc import Callable
from typing import Any

import aioice

REQUIRED_AIOICE = "0.13.0"

if aioice.__version__ != REQUIRED_AIOICE:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"simultan.media.stunpath relies on aioice {REQUIRED_AIOICE} internals (STUN "
        f"protocol, consent checks); found aioice {aioice.__version__}. Install "
        f"aioice=={REQUIRED_AIOICE} or re-check simultan/media/stunpath.py and its tests."
    )

import aioice.ice  # noqa: E402
import aioice.stun  # noqa: E402
from aioice.candidate import candidate_priority  # noqa: E402

logger = logging.getLogger(__name__)

_StunProtocol: Any = aioice.ice.StunProtocol
_Connection: Any = aioice.ice.Connection
_ORIGINAL_DATAGRAM_RECEIVED = _StunProtocol.datagram_received
_ORIGINAL_QUERY_CONSENT = _Connection.query_consent
_SUCCEEDED = aioice.ice.CandidatePair.State.SUCCEEDED
_UNCHECKED = (aioice.ice.CandidatePair.State.WAITING, aioice.ice.CandidatePair.State.FROZEN)

for _name in ("datagram_received", "__init__"):
    if not callable(getattr(_StunProtocol, _name, None)):  # pragma: no cover
        raise ImportError(f"aioice {aioice.__version__}: StunProtocol.{_name} is missing")
for _name in ("query_consent", "close", "build_request", "request_received", "check_incoming"):
    if not callable(getattr(_Connection, _name, None)):  # pragma: no cover
        raise ImportError(f"aioice {aioice.__version__}: Connection.{_name} is missing")

COOKIE = aioice.stun.COOKIE
_COOKIE_BYTES = struct.pack("!I", COOKIE)
_HEADER = struct.Struct("!HHI12s")
_TLV = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_FINGERPRINT_XOR = aioice.stun.FINGERPRINT_XOR
_MI = b"\x00\x08\x00\x14"  # MESSAGE-INTEGRITY, 20 bytes
_FP = b"\x80\x28\x00\x04"  # FINGERPRINT, 4 bytes

BINDING_REQUEST = 0x0001
BINDING_RESPONSE = 0x0101
BINDING_ERROR = 0x0111

A_USERNAME = 0x0006
A_MESSAGE_INTEGRITY = 0x0008
A_XOR_MAPPED_ADDRESS = 0x0020
A_PRIORITY = 0x0024
A_USE_CANDIDATE = 0x0025
A_FINGERPRINT = 0x8028
A_ICE_CONTROLLED = 0x8029
A_ICE_CONTROLLING = 0x802A
# Attributes a Binding request may carry that the fast path understands; any other that
# aioice's table knows (it would unpack it) sends the request down aioice's own path.
_HANDLED = frozenset(
    {
        A_USERNAME,
        A_MESSAGE_INTEGRITY,
        A_PRIORITY,
        A_USE_CANDIDATE,
        A_FINGERPRINT,
        A_ICE_CONTROLLED,
        A_ICE_CONTROLLING,
    }
)
_AIOICE_KNOWN = frozenset(aioice.stun.ATTRIBUTES_BY_TYPE)

# What the fast paths did (tests, benchmarks).
STATS: collections.Counter[str] = collections.Counter()


# -- messages ------------------------------------------------------------------------------


def _hmac_sha1(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


def _finish(body: bytes, message_type: int, transaction_id: bytes, key: bytes) -> bytes:
    """Header + ``body`` + MESSAGE-INTEGRITY + FINGERPRINT, as aioice's
    ``add_message_integrity`` packs them: the HMAC covers a header whose length counts the
    body and MESSAGE-INTEGRITY, the CRC one whose length also counts FINGERPRINT."""
    n = len(body)
    mac = _hmac_sha1(key, _HEADER.pack(message_type, n + 24, COOKIE, transaction_id) + body)
    signed = _HEADER.pack(message_type, n + 32, COOKIE, transaction_id) + body + _MI + mac
    return signed + _FP + _U32.pack(binascii.crc32(signed) ^ _FINGERPRINT_XOR)


def binding_response(transaction_id: bytes, addr: tuple[str, int], key: bytes) -> bytes:
    """The Binding success response aioice sends for a request from ``addr``."""
    host, port = addr[0], addr[1]
    try:
        packed, family = socket.inet_pton(socket.AF_INET, host), 1
    except OSError:
        packed, family = socket.inet_pton(socket.AF_INET6, host), 2
    pad = _COOKIE_BYTES + transaction_id
    xored = (int.from_bytes(packed) ^ int.from_bytes(pad[: len(packed)])).to_bytes(len(packed))
    value = struct.pack("!BBH", 0, family, port ^ (COOKIE >> 16)) + xored
    body = _TLV.pack(A_XOR_MAPPED_ADDRESS, len(value)) + value
    return _finish(body, BINDING_RESPONSE, transaction_id, key)


def consent_request(
    transaction_id: bytes,
    username: str,
    component: int,
    controlling: bool,
    tie_breaker: int,
    key: bytes,
) -> bytes:
    """The Binding request aioice's ``build_request`` + ``add_message_integrity`` send for a
    consent check (USERNAME, PRIORITY, ICE-CONTROLLING/CONTROLLED, integrity, fingerprint)."""
    return _finish(
        _consent_body(username, component, controlling, tie_breaker),
        BINDING_REQUEST,
        transaction_id,
        key,
    )


def _consent_body(username: str, component: int, controlling: bool, tie_breaker: int) -> bytes:
    user = username.encode("utf8")
    pad = (-len(user)) % 4
    return (
        _TLV.pack(A_USERNAME, len(user))
        + user
        + bytes(pad)
        + _TLV.pack(A_PRIORITY, 4)
        + _U32.pack(candidate_priority(component, "prflx"))
        + _TLV.pack(A_ICE_CONTROLLING if controlling else A_ICE_CONTROLLED, 8)
        + _U64.pack(tie_breaker)
    )


class Parsed:
    """What the fast path reads of a STUN message (None: not one it handles)."""

    __slots__ = ("attributes", "integrity", "integrity_at", "message_type", "transaction_id")

    def __init__(self, message_type: int, transaction_id: bytes) -> None:
        self.message_type = message_type
        self.transaction_id = transaction_id
        self.attributes: dict[int, bytes] = {}
        self.integrity_at = -1
        self.integrity = b""

    def authentic(self, data: bytes, key: bytes) -> bool:
        """MESSAGE-INTEGRITY checks with ``key`` (as aioice's ``check_message_integrity``)."""
        at = self.integrity_at
        if at < 0:
            return False
        signed = data[:2] + struct.pack("!H", at - 20 + 24) + data[4:at]
        return hmac.compare_digest(self.integrity, _hmac_sha1(key, signed))


def parse(data: bytes, strict: bool = True) -> Parsed | None:
    """Parse a STUN message as aioice does (attributes after MESSAGE-INTEGRITY ignored but
    FINGERPRINT, which must match). None if it is malformed, its fingerprint does not match,
    or (``strict``, for requests) it carries an attribute aioice knows that is not handled
    here; a response's other attributes (XOR-MAPPED-ADDRESS, ERROR-CODE) are skipped."""
    size = len(data)
    if size < 20:
        return None
    message_type, length, cookie, transaction_id = _HEADER.unpack_from(data)
    if size != 20 + length or cookie != COOKIE:
        return None
    out = Parsed(message_type, transaction_id)
    attributes = out.attributes
    pos = 20
    while pos <= size - 4:
        kind, n = _TLV.unpack_from(data, pos)
        start = pos + 4
        end = start + n
        if end > size:
            return None
        if kind == A_FINGERPRINT:
            if n != 4:
                return None
            expected = binascii.crc32(data[:2] + struct.pack("!H", pos - 20 + 8) + data[4:pos])
            if _U32.unpack_from(data, start)[0] != expected ^ _FINGERPRINT_XOR:
                return None
        elif out.integrity_at < 0:
            if kind == A_MESSAGE_INTEGRITY:
                if n != 20:
                    return None
                out.integrity_at = pos
                out.integrity = data[start:end]
            elif kind in _HANDLED:
                attributes[kind] = data[start:end]
            elif strict and kind in _AIOICE_KNOWN:
                return None
        pos = end + (-n) % 4
    return out


# -- answering the remote's checks ---------------------------------------------------------


def _answer(protocol: Any, data: bytes, addr: tuple[str, int]) -> bool:
    """Answer a consent check on an established pair; False: let aioice handle it."""
    connection = protocol.receiver
    if connection._closing or not connection._early_checks_done:
        return False
    pair = connection._nominated.get(protocol.local_candidate.component)
    if pair is None or pair.protocol is not protocol or pair.state is not _SUCCEEDED:
        return False
    if pair.remote_addr != addr:
        return False
    message = parse(data)
    if message is None:
        return False
    attributes = message.attributes
    remote = connection.remote_username
    username = attributes.get(A_USERNAME)
    if remote is None or username != f"{connection.local_username}:{remote}".encode():
        return False
    if connection.ice_controlling:
        if A_ICE_CONTROLLING in attributes:
            return False  # a role conflict: aioice's to resolve
    elif A_ICE_CONTROLLED in attributes:
        return False
    if A_USE_CANDIDATE in attributes and not connection.ice_controlling:
        # aioice would mark the pair nominated and prune the unchecked pairs: only answer
        # here when that changes nothing.
        if not (pair.nominated and pair.remote_nominated and connection._check_list_done):
            return False
        component = pair.component
        for p in connection._check_list:
            if p.component == component and p.state in _UNCHECKED:
                return False
    key = connection.local_password.encode("utf8")
    if not message.authentic(data, key):
        return False  # aioice answers 401
    protocol.transport.sendto(binding_response(message.transaction_id, addr, key), addr)
    STATS["answered"] += 1
    return True


def _datagram_received(self: Any, data: bytes, addr: tuple[Any, ...]) -> None:
    if data and data[0] > 3:  # RFC 7983: RTP, RTCP or DTLS, never STUN
        connection = self.receiver
        sink = connection._simultan_media_sink
        if sink is not None and 127 < data[0] < 192 and sink(data):
            return
        connection.data_received(data, self.local_candidate.component)
        return
    if len(data) >= 20:
        kind = (data[0] << 8) | data[1]
        if kind == BINDING_REQUEST:
            if _answer(self, data, (addr[0], addr[1])):
                return
        elif kind in (BINDING_RESPONSE, BINDING_ERROR):
            if CONSENT_CLOCK.response(self, data):
                return
    _ORIGINAL_DATAGRAM_RECEIVED(self, data, addr)


# -- our consent checks --------------------------------------------------------------------


class _Watch:
    """One connection on the consent clock."""

    __slots__ = ("connection", "expired", "failures", "outstanding")

    def __init__(self, connection: Any, expired: asyncio.Future[None]) -> None:
        self.connection = connection
        self.expired = expired
        self.failures = 0
        self.outstanding = 0  # checks sent and neither answered nor timed out


class ConsentClock:
    """Consent checks (RFC 7675) for every connection of the process, from one task."""

    TICK = 0.25

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        # transaction id -> (watch, protocol, key); and the order they time out in
        self._pending: dict[bytes, tuple[_Watch, Any, bytes]] = {}
        self._deadlines: collections.deque[tuple[float, bytes]] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._watches: set[_Watch] = set()

    def watch(self, connection: Any) -> asyncio.Future[None]:
        """Check ``connection`` from now on; the future completes when consent expires."""
        loop = asyncio.get_running_loop()
        watch = _Watch(connection, loop.create_future())
        self._watches.add(watch)
        self._schedule(watch, loop.time())
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._run())
        return watch.expired

    def unwatch(self, expired: asyncio.Future[None]) -> None:
        for watch in list(self._watches):
            if watch.expired is expired:
                self._watches.discard(watch)

    def connections(self) -> int:
        return len(self._watches)

    def _schedule(self, watch: _Watch, now: float) -> None:
        interval = aioice.ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random())
        heapq.heappush(self._heap, (now + interval, next(self._seq), watch))

    def step(self, now: float) -> None:
        """One tick at loop time ``now``: time out the checks due, send the checks due."""
        deadlines, pending = self._deadlines, self._pending
        while deadlines and deadlines[0][0] <= now:
            _, transaction_id = deadlines.popleft()
            entry = pending.pop(transaction_id, None)
            if entry is not None:
                entry[0].outstanding -= 1
                self._failed(entry[0])
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, watch = heapq.heappop(heap)
            if watch not in self._watches:
                continue
            self._check(watch, now)
            self._schedule(watch, now)

    def _check(self, watch: _Watch, now: float) -> None:
        connection = watch.connection
        password = connection.remote_password
        if connection._closing or password is None:
            return
        key = password.encode("utf8")
        username = f"{connection.remote_username}:{connection.local_username}"
        deadline = now + aioice.stun.RETRY_RTO
        for pair in list(connection._nominated.values()):
            transaction_id = os.urandom(12)
            data = consent_request(
                transaction_id,
                username,
                pair.component,
                connection.ice_controlling,
                connection._tie_breaker,
                key,
            )
            self._pending[transaction_id] = (watch, pair.protocol, key)
            self._deadlines.append((deadline, transaction_id))
            watch.outstanding += 1
            STATS["checks"] += 1
            try:
                pair.protocol.transport.sendto(data, pair.remote_addr)
            except Exception as exc:  # as aioice: a check that could not go is not answered
                logger.debug("consent check not sent: %r", exc)

    def response(self, protocol: Any, data: bytes) -> bool:
        """A Binding response or error: True if it answers one of our checks (then taken)."""
        entry = self._pending.get(data[8:20])
        if entry is None or entry[1] is not protocol:
            return False
        message = parse(data, strict=False)
        if message is None or not message.authentic(data, entry[2]):
            return True  # ours, not authentic: ignored, as aioice's transaction does
        del self._pending[message.transaction_id]
        watch = entry[0]
        watch.outstanding -= 1
        if message.message_type == BINDING_RESPONSE:
            watch.failures = 0
            STATS["answered_ours"] += 1
        else:
            self._failed(watch)
        return True

    def _failed(self, watch: _Watch) -> None:
        STATS["consent_failures"] += 1
        watch.failures += 1
        if watch.failures >= aioice.ice.CONSENT_FAILURES and not watch.expired.done():
            self._watches.discard(watch)
            watch.expired.set_result(None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._watches and self._task is asyncio.current_task():
            await asyncio.sleep(self.TICK)
            try:
                self.step(loop.time())
            except Exception:  # one broken connection must not stop everyone's checks
                logger.exception("consent checks")


CONSENT_CLOCK = ConsentClock()


async def _query_consent(self: Any) -> None:
    """Stands in for ``Connection.query_consent``: the clock checks, this waits."""
    assert self.remote_password is not None
    expired = CONSENT_CLOCK.watch(self)
    try:
        await expired
    finally:
        CONSENT_CLOCK.unwatch(expired)
    logger.info("%s Consent to send expired", self)
    self._query_consent_task = None
    await self.close()


# -- SRTP and SRTCP handed over at once ----------------------------------------------------

MediaSink = Callable[[bytes], bool]
"""Takes an SRTP or SRTCP datagram as it arrives; False hands it back to aioice's queue."""

_Connection._simultan_media_sink = None


def set_media_sink(connection: Any, sink: MediaSink | None) -> None:
    """Datagrams whose first byte is 128-191 (RFC 7983: RTP and RTCP) that reach
    ``connection`` through a :class:`StunProtocol` go to ``sink`` on the spot, in
    ``datagram_received``, instead of into the connection's queue, which the DTLS transport's
    task reads one packet per wakeup. DTLS and STUN keep their paths. None removes it."""
    connection._simultan_media_sink = sink


def install() -> None:
    """Install both hooks (idempotent); connections established afterwards use them."""
    _StunProtocol.datagram_received = _datagram_received
    _Connection.query_consent = _query_consent


def uninstall() -> None:
    _StunProtocol.datagram_received = _ORIGINAL_DATAGRAM_RECEIVED
    _Connection.query_consent = _ORIGINAL_QUERY_CONSENT


def is_installed() -> bool:
    return bool(_StunProtocol.datagram_received is _datagram_received)
