"""Opening a join link in Chromium: the token ends up in this tab's sessionStorage and in no
page's address bar or history entry (stage, booth, control, organizer); a reload still
works; the pages run under their Content-Security-Policy without a violation (issue 7.2/7.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from simultan.store.registrations import Registrations
from simultan.web.auth import link_for
from simultan.web.keys import DB
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server

pytestmark = pytest.mark.browser

LIVE = "() => window.simultan && window.simultan.state.you"


async def _open(browser: Any, link: str, ready: str) -> tuple[Any, list[str]]:
    context = await browser.new_context()
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    await page.goto(link)
    await page.wait_for_function(ready)
    return page, problems


async def test_no_address_bar_shows_the_token(
    tmp_path: Path, clock: FakeClock, seminar, browser
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=False)
    try:
        repo = Registrations(server.app[DB], server.app[SESSION].event_id)
        people = [
            (Role.PARTICIPANT, "Pat Stage", None, "/stage", LIVE),
            (Role.INTERPRETER, "Li Booth", "zh", "/booth", LIVE),
            (Role.MODERATOR, "Mo Control", None, "/control", LIVE),
            (Role.ORGANIZER, "Org Page", None, "/organizer", "() => !!document.querySelector('tr[data-id]')"),
        ]  # fmt: skip
        for role, name, booth, landing, ready in people:
            reg_id, token = await server.person(role, name, booth=booth)
            link = link_for(server.app, await repo.get(reg_id))
            page, problems = await _open(browser, link, ready)
            url = page.url
            assert url == server.url + landing, url
            assert token not in url and "token" not in url
            history_url = await page.evaluate("() => location.href + '|' + history.length")
            assert token not in history_url
            assert "/join/" not in url
            # a reload keeps the tab signed in (sessionStorage), still without the token
            await page.reload()
            await page.wait_for_function(ready)
            assert token not in page.url
            assert problems == [], (landing, problems)
            await page.context.close()
    finally:
        await runner.cleanup()
