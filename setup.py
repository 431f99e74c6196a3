"""Build hooks: the direct send path's C extension (optional), and the wheel carries the
browser client and the seeded example events inside the package (simultan/client,
simultan/examples), so an installed server needs no source tree. Everything else is in
pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
CLIENT_SUFFIXES = {".html", ".js", ".css", ".json", ".svg", ".png", ".ico", ".woff2"}


class BuildWithClient(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install serves the source tree's files
            return
        target = Path(self.build_lib) / "simultan"
        self._copy(HERE / "client", target / "client", CLIENT_SUFFIXES)
        self._copy(HERE / "config", target / "examples", {".yaml", ".toml"})

    @staticmethod
    def _copy(source: Path, dest: Path, suffixes: set[str]) -> None:
        shutil.rmtree(dest, ignore_errors=True)
        for path in source.rglob("*"):
            if path.is_file() and path.suffix in suffixes:
                out = dest / path.relative_to(source)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)


# The direct send path in C (simultan/media/route.py has its Python twin, used when this
# cannot be built: no compiler, or no Python headers).
FASTPATH = Extension(
    "simultan.media._fastpath",
    ["server/simultan/media/_fastpath.c"],
    optional=True,
    extra_compile_args=["-O2"],
)

setup(cmdclass={"build_py": BuildWithClient}, ext_modules=[FASTPATH])
