"""Several datagrams per wakeup (media/batchread.py): the same datagrams, in order, in fewer
turns of the loop; errors as asyncio has them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from simultan.media import batchread, passthrough


@pytest.fixture
def batched() -> Iterator[None]:
    batchread.install()
    yield
    batchread.install()  # the server's default


class _Counting(asyncio.DatagramProtocol):
    def __init__(self, transport_box: list[Any], close_after: int | None = None) -> None:
        self.got: list[bytes] = []
        self.errors: list[Exception] = []
        self._box = transport_box
        self._close_after = close_after

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.got.append(data)
        if self._close_after is not None and len(self.got) == self._close_after:
            self._box[0].close()

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


async def test_the_internals_it_relies_on() -> None:
    transport, _, _ = await _endpoint()
    try:
        for name in ("_sock", "_protocol", "_conn_lost", "_closing", "max_size", "_fatal_error"):
            assert hasattr(transport, name), name
        assert isinstance(transport, batchread._Transport)
    finally:
        transport.close()
    passthrough.uninstall()
    assert not batchread.is_installed()
    passthrough.install()  # as the server does: batched reads come with the receive path
    assert batchread.is_installed()


async def _endpoint(close_after: int | None = None) -> tuple[Any, _Counting, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    box: list[Any] = [None]
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Counting(box, close_after), local_addr=("127.0.0.1", 0)
    )
    box[0] = transport
    return transport, protocol, transport.get_extra_info("sockname")


async def test_a_burst_is_read_in_few_wakeups_in_order(
    batched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    wakeups = [0]
    read = batchread._read_ready

    def counting(self: Any) -> None:
        wakeups[0] += 1
        read(self)

    monkeypatch.setattr(batchread._Transport, "_read_ready", counting)
    transport, protocol, addr = await _endpoint()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        burst = [f"packet {i}".encode() for i in range(40)]
        for data in burst:
            sender.sendto(data, addr)
        for _ in range(50):
            await asyncio.sleep(0)
        assert protocol.got == burst
        assert wakeups[0] <= 40 // batchread.MOST + 2  # 16 a wakeup, not one
    finally:
        sender.close()
        transport.close()


async def test_a_protocol_that_closes_its_transport_gets_no_more(batched: None) -> None:
    transport, protocol, addr = await _endpoint(close_after=3)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(10):
            sender.sendto(b"x%d" % i, addr)
        for _ in range(20):
            await asyncio.sleep(0)
        assert protocol.got == [b"x0", b"x1", b"x2"]
    finally:
        sender.close()


async def test_a_socket_error_goes_to_error_received(batched: None) -> None:
    loop = asyncio.get_running_loop()
    box: list[Any] = [None]
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there: the kernel answers port unreachable
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Counting(box), remote_addr=("127.0.0.1", port)
    )
    try:
        transport.sendto(b"anyone?")
        for _ in range(50):
            await asyncio.sleep(0.01)
            if protocol.errors:
                break
        assert protocol.errors and isinstance(protocol.errors[0], ConnectionRefusedError)
        assert not transport.is_closing()  # asyncio's behaviour: the transport stays
    finally:
        transport.close()
