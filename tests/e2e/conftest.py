"""Headless Chromium (Debian's package) driven by Playwright; never a downloaded browser."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from simultan.eventdef import EventDefinition
from tests.conftest import FakeClock, LiveServer, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


def chromium_args(fake_audio: Path | None = None) -> list[str]:
    args = list(BASE_ARGS)
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    return args


@pytest.fixture
async def playwright() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run deploy/dev.sh test")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        yield pw


@pytest.fixture
async def browser(playwright: Any) -> AsyncIterator[Any]:
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_args())
    try:
        yield browser
    finally:
        await browser.close()


@asynccontextmanager
async def media_server_and_mic_browser(
    tmp_path: Path, clock: FakeClock, defn: EventDefinition, playwright: Any, voice: Path
) -> AsyncIterator[tuple[LiveServer, Any]]:
    """A server with media, and a Chromium of its own whose fake microphone plays ``voice``
    (a WAV file); at the end the browser is closed, then the server."""
    runner, server = await start_server(tmp_path, clock, defn, media_enabled=True)
    mic_browser = await playwright.chromium.launch(
        executable_path=CHROMIUM, args=chromium_args(fake_audio=voice)
    )
    try:
        yield server, mic_browser
    finally:
        await mic_browser.close()
        await runner.cleanup()


async def open_join_link(browser: Any, server: Any, registration_id: str) -> tuple[Any, list[str]]:
    """Open a person's join link in a fresh browser context, as they would from their mail;
    returns the page (once the live connection is welcomed) and its uncaught JS errors."""
    from simultan.store.registrations import Registrations
    from simultan.web.auth import link_for
    from simultan.web.keys import DB
    from simultan.web.session_key import SESSION

    reg = await Registrations(server.app[DB], server.app[SESSION].event_id).get(registration_id)
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(link_for(server.app, reg))
    await page.wait_for_function("() => window.simultan && window.simultan.state.you")
    return page, errors
