"""Screenshots of every page from the demo, for the user guides and for looking at a change.

    python -m tests.e2e.screenshots [--out docs/img] [--lang en] [--pages stage,booth]

Starts ``simultan demo --no-media`` on a free loopback port (run it inside the loopback-only
namespace, see docs/operations.md), opens each role's join link in Debian's Chromium at
1366x900 (desktop) and 390x844 (phone), and writes ``<page>-desktop.png`` and
``<page>-phone.png``. ``--lang`` fixes the page language (else each person's registration
language decides, as for a real visitor). The guides in docs/ embed these files, so
rerunning this keeps them true.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, chromium_args

REPO = Path(__file__).resolve().parents[2]
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
# page name -> the demo's printed label of the person whose link opens it
PEOPLE = {
    "stage": "participant",
    "booth": "interpreter (zh booth)",
    "control": "moderator",
    "organizer": "organizer",
}


async def start_demo(port: int, workdir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Run the demo in ``workdir`` and return it with the join link of each printed label."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simultan", "demo", "--no-media", "--host", "127.0.0.1",
         "--event", str(REPO / "config" / "iuc-city-to-city.yaml"),
         "--port", str(port), "--seconds", "600"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    links: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, proc.stdout.readline)
        if not line:
            proc.kill()
            raise RuntimeError("the demo stopped before printing its links")
        found = re.match(r"\s+(.+?)\s{2,}.*?(http://\S+/join/\S+)", line)
        if found:
            links.setdefault(found.group(1).strip(), found.group(2))
        if line.startswith("Open the moderator link"):
            return proc, links


async def shoot(browser: Any, url: str, path: Path, size: tuple[int, int], lang: str) -> None:
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    if lang:
        await context.add_init_script(f"localStorage.setItem('simultan-lang', '{lang}')")
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(500)
    await page.screenshot(path=str(path), full_page=False)
    await context.close()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--lang", default="en", help="page language ('' = the registration's)")
    parser.add_argument("--pages", default="register," + ",".join(PEOPLE))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.async_api import async_playwright

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="simultan-shots-"))
    proc, links = await start_demo(port, workdir)
    try:
        base = f"http://127.0.0.1:{port}"
        urls = {name: links[label] for name, label in PEOPLE.items() if label in links}
        urls["register"] = f"{base}/register" + (f"?lang={args.lang}" if args.lang else "")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args())
            for name in args.pages.split(","):
                for kind, size in SIZES.items():
                    path = args.out / f"{name}-{kind}.png"
                    await shoot(browser, urls[name], path, size, args.lang)
                    print(path)
            await browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
