"""A throw-away PostgreSQL server from Debian's `postgresql` package, for the ledger's tests.

SQLite serializes every writer, so it cannot show what row locks and CHECK constraints do
under real concurrency; these tests need the database production is meant to run on.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections

ALIAS = "postgres"  # the database alias of tests/settings.py
USER = "postgres"


def _bindir() -> Path:
    """Return the newest /usr/lib/postgresql/<version>/bin that has initdb."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if not found:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql)")
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _run_as() -> dict[str, Any]:
    """Return Popen's arguments to drop root to the postgres user; initdb refuses root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root needs the postgres user (apt-get install postgresql)")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class PostgresServer:
    """One postgres process on 127.0.0.1 with its own data folder, deleted when it stops."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.workdir = Path(tempfile.mkdtemp(prefix="postgres-test-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Create a cluster (trust authentication: local tests only) and wait until it answers."""
        bindir, run_as = _bindir(), _run_as()
        if run_as:
            os.chown(self.workdir, run_as["user"], run_as["group"])
        data = str(self.workdir / "data")
        initdb = [str(bindir / "initdb"), "-D", data, "-U", USER, "--auth=trust"]
        subprocess.run(
            [*initdb, "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True,
            capture_output=True,
            cwd=self.workdir,
            **run_as,
        )
        server = [str(bindir / "postgres"), "-D", data, "-p", str(self.port)]
        settings = {
            "unix_socket_directories": str(self.workdir),
            "listen_addresses": "127.0.0.1",
            "max_connections": "150",
            # Durability is not under test; speed is welcome on a shared machine.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        with (self.workdir / "postgres.log").open("wb") as log:
            proc = subprocess.Popen(
                [*server, *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                **run_as,
            )
        self.proc = proc
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user=USER, dbname="postgres"
                ).close()
                return
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"postgres did not start:\n{self.log()[-3000:]}")
                time.sleep(0.1)

    def log(self) -> str:
        """Return the server's log."""
        path = self.workdir / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its data."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def wanted(items: list[pytest.Item]) -> bool:
    """Return whether a collected test uses the PostgreSQL alias."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and ALIAS in (marker.kwargs.get("databases") or ()):
            return True
    return False


@contextmanager
def as_default() -> Iterator[None]:
    """Make the PostgreSQL test database the default one, in every thread, for a while.

    The code under test opens its transactions on the default alias; new connections (one
    per thread) are made from these settings, so every thread talks to PostgreSQL.
    """
    saved = connections.settings["default"]
    connections["default"].close()
    del connections["default"]
    connections.settings["default"] = connections.settings[ALIAS]
    try:
        yield
    finally:
        connections["default"].close()
        del connections["default"]
        connections.settings["default"] = saved
