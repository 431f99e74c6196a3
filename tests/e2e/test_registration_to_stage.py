"""End to end: register through the form, the mail reaches a real SMTP server, its join link
opens the participant's stage in Chromium, and the agenda follows a moderator's command."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from simultan.core.capabilities import Role
from simultan.web.session_key import SESSION
from tests.conftest import FakeClock, start_server
from tests.e2e.conftest import open_join_link
from tests.web.conftest import smtp_server

pytestmark = pytest.mark.browser


async def test_register_mail_join_and_live_agenda(
    tmp_path: Path, clock: FakeClock, seminar, browser
) -> None:
    async with smtp_server() as (sink, smtp_port):
        runner, server = await start_server(
            tmp_path,
            clock,
            seminar,
            media_enabled=False,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
        )
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(server.url + "/register")
            await page.fill("#name", "Ana <b>Costa</b>")
            await page.fill("#email", "ana.costa@porto.example")
            await page.fill("#city", "Porto")
            await page.fill("#country", "Portugal")
            await page.fill("#organization", "Câmara Municipal do Porto")
            await page.select_option("#language", "es")
            await page.select_option("#timezone", "Asia/Tokyo")
            await page.click("button[type=submit]")
            await page.wait_for_load_state()
            for _ in range(100):
                if sink.messages:
                    break
                await asyncio.sleep(0.05)
            assert len(sink.messages) == 1, "the join mail did not reach the SMTP server"
            mail = sink.messages[0]
            assert mail["To"].addresses[0].addr_spec == "ana.costa@porto.example"
            text = mail.get_body(preferencelist=("plain",)).get_content()
            link = re.search(re.escape(server.url) + r"/join/\S+", text).group(0)

            await page.goto(link)
            await page.wait_for_url(re.compile(r".*/stage#token=.*"))
            agenda = page.locator("[data-testid=agenda]")
            await agenda.locator("tr[data-item=opening]").wait_for()
            # the participant's own zone (Tokyo) beside the event's (Brussels): 09:00 CET = 17:00 JST
            assert "Asia/Tokyo" in await agenda.inner_text()
            opening = agenda.locator("tr[data-item=opening]")
            assert "17:00" in await opening.inner_text()
            assert "09:00" in await opening.inner_text()
            # the registrant listens in Spanish: the stage speaks Spanish too
            assert await page.evaluate("document.documentElement.lang") == "es"
            assert "previsto" in await opening.locator(".item-status").inner_text()
            # the registrant's markup is shown as text, never as HTML
            assert "Ana <b>Costa</b>" in await page.locator("#who").inner_text()
            assert await page.locator("#who b").count() == 0

            _, mod_token = await server.person(Role.MODERATOR, "Mo Derator")
            moderator = await server.connect(mod_token)
            await moderator.recv_type("welcome")
            server.clock.advance(minutes=15)  # five minutes late
            reply = await moderator.request(
                {"type": "timeline", "action": "start", "base_version": 0}
            )
            assert reply["type"] == "reply"
            await page.wait_for_function(
                "() => document.querySelector('tr[data-item=opening] .item-status')"
                "?.dataset.status === 'live'",
                timeout=5000,
            )
            assert "5 min de retraso" in await page.locator("[data-testid=drift]").inner_text()
            # a second moderator acting on an old view sees the conflict on the control page
            mod_id, _ = await server.person(Role.MODERATOR, "Second Mod")
            control, control_errors = await open_join_link(browser, server, mod_id)
            # only the moves that can work are enabled: the opening runs, nothing is selected
            buttons = "#timeline-controls button[data-action={}]"
            await control.wait_for_function(
                "() => document.querySelector('#timeline-controls [data-action=pause]')"
                " && !document.querySelector('#timeline-controls [data-action=pause]').disabled"
            )
            assert await control.locator(buttons.format("resume")).is_disabled()
            assert await control.locator(buttons.format("skip")).is_disabled()
            assert await control.locator(buttons.format("extend")).is_enabled()
            await control.evaluate("() => { window.simultan.state.snapshot.timeline.version = 0; }")
            await control.click("#timeline-controls button[data-action=extend]")
            banner = control.locator("[data-testid=banner]")
            await banner.wait_for(state="visible")
            assert "Conflict" in await banner.inner_text()
            assert server.app[SESSION].timeline.version == 1  # nothing was applied
            assert errors == [] and control_errors == []
            await page.close()
        finally:
            for c in server.clients:
                await c.close()
            await runner.cleanup()
