"""Refuse to start a role whose database, Redis or storage does not answer, naming it."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from core.health.checks import CHECKS, run_checks, target


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

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["services"] or list(CHECKS)
        unknown = sorted(set(names) - set(CHECKS))
        if unknown:
            raise CommandError(f"unknown services: {', '.join(unknown)}")
        deadline = time.monotonic() + options["wait"]
        while True:
            failed = [r for r in run_checks(names) if not r.ok]
            if not failed or time.monotonic() >= deadline:
                break
            connection.close()  # a fresh connection next time, not a broken one
            time.sleep(1.0)
        if failed:
            lines = [f"{r.name} unreachable: {target(r.name)}: {r.detail}" for r in failed]
            raise CommandError("\n".join(lines))
        self.stdout.write("; ".join(f"{n} ok ({target(n)})" for n in names))
