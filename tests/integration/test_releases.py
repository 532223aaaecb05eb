"""A release migrates once, before its new processes: roles refuse a database that lacks it.

The new code is this checkout; the database is one migration behind it (the state of every
release between building and `stemsplit migrate`). Each long-running role refuses to start and
names the migration, the override starts one anyway, and after `stemsplit migrate` the web
role starts as it is.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.integration.s3 import free_port
from tests.integration.stack import ROOT, Role, role_env, run_role, run_script, serving, until
from tests.postgres import USER, PostgresServer

# The newest migration of an app that nothing else depends on, reversible: this release's.
APP = "youtube_bot"
# This release's migration of the app is its newest; the previous release stopped before it.
BEFORE, NEWEST = sorted(p.stem for p in (ROOT / APP / "migrations").glob("0*.py"))[-2:]
LONG_RUNNING = ["web", "separation-worker", "light-worker", "bot", "beat"]


@pytest.fixture
def release_env(postgres_server: PostgresServer, redis_server: str) -> Iterator[dict[str, str]]:
    """Return a role's environment on a fresh PostgreSQL database and Redis number."""
    database = f"release_{uuid.uuid4().hex[:8]}"
    admin = f"host=127.0.0.1 port={postgres_server.port} user={USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    broker = redis_server.rsplit("/", 1)[0] + "/8"
    redis.Redis.from_url(broker).flushdb()
    yield role_env(
        DATABASE_URL=f"postgres://{USER}@127.0.0.1:{postgres_server.port}/{database}",
        REDIS_URL=broker,
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _applied(env: dict[str, str]) -> set[str]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT app || '.' || name FROM django_migrations").fetchall()
    return {str(name) for (name,) in rows}


def test_roles_refuse_a_database_that_lacks_the_release_migrations(
    release_env: dict[str, str], tmp_path: Path
) -> None:
    env = release_env
    run_role("migrate", tmp_path / "previous", env)
    # The database as the previous release left it: everything but this release's migration.
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", APP, BEFORE, "--no-input"],
        cwd=tmp_path,
        env={**env, "DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert f"{APP}.{NEWEST}" not in _applied(env)

    url = urlsplit(env["DATABASE_URL"])
    database, port = url.path.lstrip("/"), url.port
    for role in LONG_RUNNING:
        refused = run_script(role, tmp_path / role, env)
        assert refused.returncode != 0, (role, refused.stdout, refused.stderr)
        assert (
            f"database not migrated: postgresql database '{database}' at 127.0.0.1:{port}"
            f" lacks 1 unapplied migration of this release: {APP}.{NEWEST}."
        ) in refused.stderr, (role, refused.stderr)
        assert "Run `stemsplit migrate` once" in refused.stderr
    assert f"{APP}.{NEWEST}" not in _applied(env)  # refusing changed nothing

    # The override starts the web role anyway.
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    forced = Role(
        "forced",
        "web",
        tmp_path,
        {**env, "WEB_BIND": f"127.0.0.1:{web_port}", "STEMSPLIT_SKIP_MIGRATION_CHECK": "1"},
    )
    try:
        until(lambda: serving(base), 120, "web started with the override", [forced])
    finally:
        forced.stop()

    # The release's one-off step, then the web role starts without any override.
    migrated = run_role("migrate", tmp_path / "migrate", env)
    assert f"Applying {APP}.{NEWEST}... OK" in migrated
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    web = Role("web-new", "web", tmp_path, {**env, "WEB_BIND": f"127.0.0.1:{web_port}"})
    try:
        until(lambda: serving(base), 120, "web started after the migration", [web])
        assert "migrations applied" in web.log()
    finally:
        web.stop()
