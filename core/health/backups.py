"""Dump the database to one file and restore it, with PostgreSQL's own tools (docs/deploy.md)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from django.db import connection
from django.db.backends.postgresql.client import DatabaseClient

from core.health.checks import target

# What a dump must hold to be worth keeping: the tables no other copy has.
ESSENTIAL_TABLES = ("jobs_job", "jobs_separation", "billing_creditentry", "auth_user")


class BackupError(Exception):
    """A dump or a restore that did not complete; the message says why, for an operator."""


def _client(program: str) -> tuple[list[str], dict[str, str]]:
    """Return the argv and environment that connect a PostgreSQL tool to the default database.

    The password and TLS settings go in the environment (PGPASSWORD, PGSSLMODE...), as Django's
    dbshell passes them, never on a command line that `ps` shows.
    """
    if connection.vendor != "postgresql":
        raise BackupError(
            f"{target('database')} is not PostgreSQL: back up a SQLite file by copying it "
            "while nothing runs (DATABASE_URL=postgres://... for the backup commands)"
        )
    db = connection.settings_dict
    _, extra = DatabaseClient.settings_to_cmd_args_env(db, [])
    args = [program]
    for flag, key in (("--username", "USER"), ("--host", "HOST"), ("--port", "PORT")):
        if db.get(key):
            args += [flag, str(db[key])]
    args += ["--dbname", str(db["NAME"])]
    return args, {**os.environ, **(extra or {})}


def _run(args: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL tool; return its output, or raise with what it said."""
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError(
            f"{args[0]} is not installed: install the PostgreSQL client tools of the server's "
            "major version (postgresql-client-<version>)"
        ) from exc
    if done.returncode != 0:
        raise BackupError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def _tables(listing: str) -> set[str]:
    """Return the tables whose rows an archive's table of contents (pg_restore --list) holds."""
    return set(re.findall(r"TABLE DATA \S+ (\S+) ", listing))


def dump(path: Path) -> str:
    """Write the database to `path` in pg_dump's custom format; return what was written.

    The dump is one consistent snapshot, taken while the site runs. It is written beside the
    target and renamed once read back whole, so a failed dump never passes for a good one.
    """
    partial = path.with_name(path.name + ".partial")
    args, env = _client("pg_dump")
    try:
        _run([*args, "--format=custom", "--file", str(partial)], env)
        tables = _tables(_run(["pg_restore", "--list", str(partial)], env))
        missing = sorted(set(ESSENTIAL_TABLES) - tables)
        if missing:
            raise BackupError(f"the dump of {target('database')} lacks {', '.join(missing)}")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    size = path.stat().st_size
    return f"{path}: {len(tables)} tables of {target('database')}, {size} bytes"


def restore(path: Path) -> str:
    """Restore a dump into the default database, which must be empty; return what was done.

    One transaction: a restore that fails leaves the database as empty as it was. Objects are
    owned by the role of DATABASE_URL, whatever role owned them where the dump was taken.
    """
    if not path.is_file():
        raise BackupError(f"no such dump: {path}")
    existing = connection.introspection.table_names()
    if existing:
        raise BackupError(
            f"{target('database')} is not empty ({len(existing)} tables): restore into a new, "
            "empty database and point DATABASE_URL at it"
        )
    connection.close()  # no session of ours holds anything while pg_restore works
    args, env = _client("pg_restore")
    options = ["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges"]
    _run([*args, *options, str(path)], env)
    count = len(connection.introspection.table_names())
    return f"{path} restored into {target('database')}: {count} tables"
