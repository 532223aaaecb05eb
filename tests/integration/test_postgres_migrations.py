"""The migrations run on PostgreSQL (DATABASE_URL), as the deployment's migrate role runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.stack import ROOT, run_role
from tests.postgres import USER, PostgresServer


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """Return the URL of a fresh, empty PostgreSQL database."""
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = f"host=127.0.0.1 port={postgres_server.port} user={USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{USER}@127.0.0.1:{postgres_server.port}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_migration_applies_on_postgresql(database_url: str, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "core.settings",
        "STEMSPLIT_VENV": str(Path(sys.executable).parent.parent),
        "DATABASE_URL": database_url,
    }
    run_role("migrate", tmp_path, env)
    plan = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "showmigrations", "--plan"],
        cwd=tmp_path,
        env={**env, "DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "[X]  jobs.0001_initial" in plan
    assert "[ ]" not in plan
    with psycopg.connect(database_url) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert {"jobs_job", "jobs_separation", "jobs_audiosource"} <= tables
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'one_live_separation_per_source'"
        ).fetchone()
    # "Never separate twice" is a partial unique index on PostgreSQL.
    assert row is not None
    assert "UNIQUE INDEX" in row[0] and "WHERE" in row[0]
