"""Refuse to start a role whose database, Redis or storage does not answer, naming it."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from core.health.checks import CHECKS, run_checks, target, unapplied_migrations

# A release adds a few migrations; a fresh database lacks them all, and a list that long
# says nothing more than its count.
LISTED_MIGRATIONS = 10


def _not_migrated(pending: list[str]) -> str:
    """Return the refusal that names the migrations this code needs and the database lacks."""
    listed = ", ".join(pending[:LISTED_MIGRATIONS])
    if len(pending) > LISTED_MIGRATIONS:
        listed += f" and {len(pending) - LISTED_MIGRATIONS} more"
    count = f"{len(pending)} unapplied migration{'s' if len(pending) != 1 else ''}"
    return (
        f"database not migrated: {target('database')} lacks {count} of this release: {listed}. "
        "Run `stemsplit migrate` once, from one host, before starting the new web and worker "
        "processes (set STEMSPLIT_SKIP_MIGRATION_CHECK=1 to start anyway)."
    )


class Command(BaseCommand):
    """Check the services this process needs, waiting a while for them if asked."""

    help = (
        "Check that the database, Redis and storage answer (a write, read and delete); "
        "exit 1 naming each one that does not."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "services",
            nargs="*",
            help=f"the services to check, among {', '.join(CHECKS)} (default: all)",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            help="seconds to keep trying before giving up (a service starting beside us)",
        )
        parser.add_argument(
            "--migrated",
            action="store_true",
            help="also require every migration of this code to be applied to the database",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["services"] or list(CHECKS)
        unknown = sorted(set(names) - set(CHECKS))
        if unknown:
            raise CommandError(f"unknown services: {', '.join(unknown)}")
        if options["migrated"] and "database" not in names:
            raise CommandError("--migrated needs the database among the services")
        deadline = time.monotonic() + options["wait"]
        while True:
            failed = [r for r in run_checks(names) if not r.ok]
            # Read only from a database that answers; a migrate step running on another host
            # right now is waited for like a service that is starting.
            pending = unapplied_migrations() if options["migrated"] and not failed else []
            if (not failed and not pending) or time.monotonic() >= deadline:
                break
            connection.close()  # a fresh connection next time, not a broken one
            time.sleep(1.0)
        if failed:
            lines = [f"{r.name} unreachable: {target(r.name)}: {r.detail}" for r in failed]
            raise CommandError("\n".join(lines))
        if pending:
            raise CommandError(_not_migrated(pending))
        answer = "; ".join(f"{n} ok ({target(n)})" for n in names)
        if options["migrated"]:
            answer += "; migrations applied"
        self.stdout.write(answer)
