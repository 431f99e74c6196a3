"""The wheel works: built from the source tree, installed (not editable) into a fresh venv,
then `simultan demo`, `simultan serve --config S` and `simultan check-config` run from a
directory far from the source tree, and the pages and client files come from the wheel.

To stay fast the fresh venv borrows the project venv's dependencies through a .pth line
(never its simultan: only the wheel's copy is importable there; the test checks that)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow


def run(*args: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=180, check=True, **kw
    )  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the fresh venv it is installed in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        tmp / "dist",
        REPO,
    )
    (wheel,) = (tmp / "dist").glob("simultan-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    (site / "_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return wheel, venv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMULTAN_")}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


def test_the_wheel_carries_the_client_examples_and_migrations(installed: tuple[Path, Path]) -> None:
    wheel, venv = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("simultan/client/stage.html", "simultan/client/js/protocol.js",
                 "simultan/client/css/app.css", "simultan/examples/iuc-city-to-city.yaml",
                 "simultan/store/migrations/versions/0001_initial.py"):  # fmt: skip
        assert name in names
    where = run(venv / "bin" / "python", "-c",
                "import simultan, simultan.resources as r; print(simultan.__file__); print(r.client_dir())",
                cwd="/", env=clean_env()).stdout.split()  # fmt: skip
    assert all(str(venv) in w for w in where), where


async def wait_page(url: str, proc: subprocess.Popen[str]) -> str:
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            assert proc.poll() is None, proc.communicate()[0]
            try:
                async with http.get(url) as r:
                    if r.status == 200:
                        return await r.text()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered")


async def test_serve_and_check_config_from_any_directory(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, venv = installed
    conf = tmp_path / "etc" / "seminar"
    conf.mkdir(parents=True)
    (conf / "event.yaml").write_text((REPO / "config" / "iuc-city-to-city.yaml").read_text())
    port = free_port()
    (conf / "settings.toml").write_text(
        f'event_file = "event.yaml"\nport = {port}\nmedia_enabled = false\n'
        'database_url = "sqlite+aiosqlite:///data/simultan.sqlite3"\noutbox_dir = "outbox"\n'
        'secret_key = "wheel-test-secret-0123456789abcdefghijklmn"\n'
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    simultan = venv / "bin" / "simultan"
    check = run(simultan, "check-config", conf / "settings.toml", cwd=elsewhere, env=clean_env())
    assert "settings OK" in check.stdout
    proc = subprocess.Popen(
        [str(simultan), "serve", "--config", str(conf / "settings.toml")],
        cwd=elsewhere, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        page = await wait_page(f"http://127.0.0.1:{port}/register", proc)
        assert "<form" in page
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/static/js/protocol.js") as r:
                assert r.status == 200
                assert await r.text() == (REPO / "client" / "js" / "protocol.js").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert (conf / "data" / "simultan.sqlite3").exists()  # relative to the settings file
    assert not (elsewhere / "data").exists()


async def test_demo_from_any_directory(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, venv = installed
    port = free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "simultan"), "demo", "--no-media", "--port", str(port), "--seconds", "30"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        page = await wait_page(f"http://127.0.0.1:{port}/stage", proc)
        assert "<html" in page.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert (tmp_path / "var" / "demo-secret").exists()
