"""Headless Chromium (Debian's package) driven by Playwright; never a downloaded browser."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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
