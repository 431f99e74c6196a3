"""Headers on every response, /metrics not public, tokens never in the logs, a refused HTTP
request logged as one line (issue 7.2, 7.3, 7.6)."""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
import pytest

from simultan.core.capabilities import Role
from tests.conftest import FakeClock, LiveServer, start_server

PAGES = ["/stage", "/booth", "/control", "/organizer", "/register"]
OTHERS = ["/static/js/protocol.js", "/static/css/app.css", "/healthz", "/join/nonsense", "/nope"]


async def _get(server: LiveServer, path: str, **kwargs) -> tuple[aiohttp.ClientResponse, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + path, allow_redirects=False, **kwargs) as r:
            return r, await r.text()


@pytest.mark.parametrize("path", PAGES + OTHERS)
async def test_every_response_carries_the_headers(server: LiveServer, path: str) -> None:
    response, _ = await _get(server, path)
    h = response.headers
    csp = h["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    publishes = path in ("/stage", "/booth", "/control")  # control: visiting a group
    policy = h["Permissions-Policy"]
    assert ("camera=(self)" in policy) is publishes and ("microphone=(self)" in policy) is publishes
    if not publishes:
        assert "camera=()" in policy and "microphone=()" in policy


async def test_error_responses_carry_them_too(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/registrations", data=b"x") as r:
            assert r.status == 415 and r.headers["X-Content-Type-Options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_have_no_inline_script(server: LiveServer, path: str) -> None:
    _, page = await _get(server, path)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S | re.I)
    assert scripts, "every page loads its module"
    for attrs, body in scripts:
        assert "src=" in attrs and not body.strip()
    assert not re.search(r"\son[a-z]+\s*=", page, re.I)  # no inline event handlers
    assert "javascript:" not in page.lower()


async def test_metrics_only_from_loopback_directly(server: LiveServer) -> None:
    ok, body = await _get(server, "/metrics")
    assert ok.status == 200 and "simultan_ws_connections" in body
    proxied, _ = await _get(server, "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status == 403
    forwarded, _ = await _get(server, "/metrics", headers={"Forwarded": "for=203.0.113.9"})
    assert forwarded.status == 403


async def test_metrics_behind_a_bearer_token(tmp_path, clock: FakeClock, seminar) -> None:
    runner, server = await start_server(
        tmp_path, clock, seminar, media_enabled=False, metrics_token="m" * 32
    )
    try:
        bare, _ = await _get(server, "/metrics")
        assert bare.status == 401 and bare.headers["WWW-Authenticate"] == "Bearer"
        wrong, _ = await _get(server, "/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        right, body = await _get(
            server, "/metrics", headers={"Authorization": "Bearer " + "m" * 32}
        )
        assert right.status == 200 and "simultan_hub_seq" in body
    finally:
        await runner.cleanup()


async def test_the_access_log_never_writes_a_join_token(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    _, token = await server.person(Role.PARTICIPANT, "Pat Logged")
    joined, _ = await _get(server, f"/join/{token}")
    assert joined.status == 303
    await _get(server, f"/stage?token={token}")  # a token pasted into a query, too
    await _get(server, "/join/" + token[:-4] + "AAAA")  # and a tampered one
    for _ in range(20):  # the access line is written after the response
        if len([r for r in caplog.records if r.name == "aiohttp.access"]) >= 3:
            break
        await asyncio.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) >= 3
    assert all(token not in line and token[:20] not in line for line in lines), lines
    assert sum("/join/<redacted>" in line for line in lines) == 2
    assert any("token=<redacted>" in line for line in lines)


async def test_a_request_the_parser_refuses_is_one_log_line(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    port = server.settings.port
    for raw in (
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"GET /join/secret-token HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    ):
        caplog.clear()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.split()[1] == b"400", status
        writer.close()
        await asyncio.sleep(0.1)
        records = [r for r in caplog.records if r.name == "aiohttp.server"]
        assert len(records) == 1, [r.getMessage() for r in records]
        (record,) = records
        assert record.exc_info is None and record.exc_text is None
        assert "\n" not in record.getMessage() and "secret-token" not in record.getMessage()
        assert record.levelno == logging.WARNING
