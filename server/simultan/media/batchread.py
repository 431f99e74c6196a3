"""Several datagrams per wakeup: the one module that relies on asyncio's datagram transport.

asyncio's selector loop reads **one** datagram each time a UDP socket is readable, then runs
everything else that is ready before it reads the next. A publisher's audio and video share
one socket (BUNDLE), so the audio packets that arrive behind a video keyframe's burst (50-200
packets) are read one per turn of the loop, each turn also sending a slice of that keyframe
(:class:`~.fanout.VideoPump`): the audio waited for the whole keyframe. Reading up to
:data:`MOST` datagrams per wakeup, until the socket would block, takes the audio in within a
few turns instead (measured: audio latency p99 at 200 listeners with video 121 ms -> 14 ms,
bench/RESULTS.md).

:func:`install` replaces ``_SelectorDatagramTransport._read_ready`` (for transports made
afterwards: the loop registers the bound method when the transport is made) with
:func:`_read_ready`, which does what asyncio's does, in a loop: ``recvfrom``; on
``BlockingIOError`` stop; an ``OSError`` goes to ``error_received``; anything else is a fatal
error of the transport; each datagram goes to ``datagram_received``; and it stops as soon as
the transport is closing. Internals relied on (tests/media/test_batchread.py): the
transport's ``_sock``, ``_protocol``, ``_conn_lost``, ``_closing``, ``max_size`` and
``_fatal_error``.
"""

from __future__ import annotations

from asyncio import selector_events
from typing import Any

MOST = 16

_Transport: Any = getattr(selector_events, "_SelectorDatagramTransport")  # noqa: B009
ORIGINAL_READ_READY = _Transport._read_ready

for _name in ("_read_ready", "_fatal_error", "max_size"):
    if not hasattr(_Transport, _name):  # pragma: no cover - depends on the Python version
        raise ImportError(f"asyncio's _SelectorDatagramTransport has no {_name}")


def _read_ready(self: Any) -> None:
    for _ in range(MOST):
        if self._conn_lost or self._closing:
            return
        try:
            data, addr = self._sock.recvfrom(self.max_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on datagram transport")
            return
        self._protocol.datagram_received(data, addr)


def install() -> None:
    _Transport._read_ready = _read_ready


def uninstall() -> None:
    _Transport._read_ready = ORIGINAL_READ_READY


def is_installed() -> bool:
    return bool(_Transport._read_ready is _read_ready)
