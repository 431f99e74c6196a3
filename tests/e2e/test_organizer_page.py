"""The organizer page in Chromium: registrations listed with markup shown as text; assign a
booth to an interpreter, revoke a participant (their open stage is disconnected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simultan.core.capabilities import Role
from simultan.store.registrations import Registrations, Status
from simultan.web.keys import DB
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.e2e.conftest import open_join_link

pytestmark = pytest.mark.browser


async def test_organizer_assigns_a_booth_and_revokes(
    tmp_path: Path, clock: FakeClock, seminar, browser
) -> None:
    runner, server = await start_server(tmp_path, clock, seminar, media_enabled=False)
    try:
        org_id, _ = await server.person(Role.ORGANIZER, "Org Anizer")
        pat_id, _ = await server.person(Role.PARTICIPANT, "Pat <b>Bold</b>")
        int_id, _ = await server.person(Role.PARTICIPANT, "Ines Interp")
        stage, _ = await open_join_link(browser, server, pat_id)

        context = await browser.new_context()
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        from simultan.web.auth import link_for

        repo = Registrations(server.app[DB], server.app[SESSION].event_id)
        await page.goto(link_for(server.app, await repo.get(org_id)))
        row = page.locator(f"tr[data-id='{pat_id}']")
        await row.wait_for()
        assert "Pat <b>Bold</b>" in await row.inner_text()
        assert await row.locator("b").count() == 0

        # Ines becomes an interpreter of the ja booth
        irow = page.locator(f"tr[data-id='{int_id}']")
        await irow.locator("select").first.select_option("interpreter")
        await irow.locator("select").nth(1).select_option("ja")
        await irow.locator("button", has_text="Set role").click()
        await page.wait_for_function(
            f"() => document.querySelector(\"tr[data-id='{int_id}']\").textContent.includes('interpreter (booth ja)')"
        )
        ines = await repo.get(int_id)
        assert (ines.role, ines.booth) == (Role.INTERPRETER, "ja")

        # revoking Pat closes Pat's open stage and marks the row
        await row.locator("button", has_text="Revoke").click()
        await page.wait_for_function(
            f"() => document.querySelector(\"tr[data-id='{pat_id}']\").textContent.includes('revoked')"
        )
        assert (await repo.get(pat_id)).status is Status.REVOKED
        await stage.wait_for_function(
            "() => document.querySelector('#banner') && !document.querySelector('#banner').hidden"
        )
        assert "no longer valid" in await stage.locator("#banner").inner_text()
        assert errors == []
    finally:
        await runner.cleanup()
