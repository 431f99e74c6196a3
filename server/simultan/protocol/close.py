"""Every websocket close code the server sends, in one place (docs/protocol.md has the table).

4001 and 4003 tell the page that reconnecting cannot help; the others may be retried.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    GOING_AWAY = 1001  # the server shuts down: reconnect and resume
    MESSAGE_TOO_BIG = 1009  # a frame beyond 4x max_message_bytes (closed by aiohttp)
    UNAUTHORIZED = 4001  # no hello within 10 s, a bad or oversized token
    REVOKED = 4003  # the person's access was revoked while connected
    TOO_SLOW = 4008  # the bounded queue overflowed more than 3 times in 60 s
    TOO_MANY_CONNECTIONS = 4029  # more open sockets for one token than allowed

    @property
    def reason(self) -> bytes:
        return _REASONS[self]


_REASONS = {
    CloseCode.GOING_AWAY: b"server going away",
    CloseCode.MESSAGE_TOO_BIG: b"message too big",
    CloseCode.UNAUTHORIZED: b"unauthorized",
    CloseCode.REVOKED: b"access revoked",
    CloseCode.TOO_SLOW: b"too slow",
    CloseCode.TOO_MANY_CONNECTIONS: b"too many connections",
}
