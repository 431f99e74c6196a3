"""Migrations: frozen Alembic revisions, `simultan db upgrade`, and a database made at
revision 1 that holds data upgrading to the newest schema with its data intact."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import simultan.store.b2b  # noqa: F401  (registers its tables on the shared metadata)
from simultan.store.database import (
    MIGRATIONS,
    current_revision,
    head_revision,
    migrate,
    open_database,
)
from simultan.store.schema import metadata

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def revision_1_with_data(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    migrate(url, "0001")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO registrations (id, event_id, name, email, city, country, "
                "requested_role, role, language, timezone, status, created_at, updated_at) "
                "VALUES ('p1', 'iuc-city-to-city', 'Li Wei', 'li.wei@example.org', 'Tianjin', "
                "'China', 'participant', 'participant', 'zh', 'Asia/Shanghai', 'approved', "
                ":now, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO event_log (event_id, stream, command, at, actor) VALUES "
                "('iuc-city-to-city', 'timeline', :cmd, :now, 'p1')"
            ),
            {"cmd": '{"command": "start", "base_version": 0}', "now": NOW},
        )
    engine.dispose()
    return url


def test_revisions_are_frozen_files() -> None:
    """No revision builds tables from the live schema: each imports only alembic and
    sqlalchemy, never simultan."""
    paths = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert paths
    for path in paths:
        tree = ast.parse(path.read_text())
        imported = {
            (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        assert {m.split(".")[0] for m in imported} <= {"__future__", "alembic", "sqlalchemy"}, (
            path.name,
            imported,
        )


def test_db_upgrade_brings_a_revision_1_database_with_data_to_the_newest(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.sqlite3"
    url = revision_1_with_data(db)
    assert current_revision(url) == "0001"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMULTAN_")}
    env["SIMULTAN_DATABASE_URL"] = url
    run = subprocess.run(
        [sys.executable, "-m", "simultan", "db", "upgrade"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"revision {head_revision()} (was 0001)" in run.stdout
    assert current_revision(url) == head_revision() != "0001"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, organization, topic FROM registrations"))
        assert rows.all() == [("Li Wei", "", None)]  # 0003: no topic chosen before it existed
        assert conn.execute(sa.text("SELECT count(*) FROM event_log")).scalar() == 1
        # the upgraded schema is exactly what the code expects: nothing missing, nothing extra
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


async def test_the_server_applies_the_revisions_at_start(tmp_path: Path) -> None:
    url = revision_1_with_data(tmp_path / "old.sqlite3")
    engine = await open_database(url)
    await engine.dispose()
    assert current_revision(url) == head_revision()
