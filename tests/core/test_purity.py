"""The core stays pure: nothing under core/ may pull in an event loop, a network library, the
wire schema's validator or a YAML parser, directly or through what it imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import simultan.core

FORBIDDEN = ("asyncio", "aiohttp", "aiortc", "pydantic", "pydantic_core", "yaml")
CORE = Path(simultan.core.__file__).parent

PROBE = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def core_modules() -> list[str]:
    return sorted(f"simultan.core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__")


def imported_by(module: str) -> set[str]:
    """Every module that importing ``module`` loads, in a fresh interpreter (pytest itself
    has asyncio loaded already, so a check in this process could not fail)."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_the_core_has_modules_to_check() -> None:
    assert "simultan.core.timeline" in core_modules()
    assert len(core_modules()) >= 5


def test_no_core_module_imports_io_or_validation_libraries() -> None:
    offenders = {}
    for module in core_modules():
        loaded = imported_by(module)
        bad = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
        if bad:
            offenders[module] = bad[:5]
    assert offenders == {}


def test_the_probe_sees_a_forbidden_import() -> None:
    """The check can fail: eventdef (outside the core) does import pydantic and yaml."""
    loaded = imported_by("simultan.eventdef")
    assert {"pydantic", "yaml"} <= {m.split(".")[0] for m in loaded}


MEDIA_ENGINES = ("aiortc", "aioice", "av", "pylibsrtp")


def test_the_media_port_names_no_engine() -> None:
    """media/plane.py is the port an external engine implements too: importing it loads no
    aiortc, PyAV or event loop (the embedded engine's types stay in media/sfu.py)."""
    loaded = imported_by("simultan.media.plane")
    bad = sorted(m for m in loaded if m.split(".")[0] in (*MEDIA_ENGINES, "asyncio"))
    assert bad == []


def test_the_probe_sees_an_engine_import() -> None:
    """The check can fail: the embedded engine does import aiortc."""
    loaded = imported_by("simultan.media.sfu")
    assert "aiortc" in {m.split(".")[0] for m in loaded}
