"""Dump the database to a file an operator keeps off the database's host (docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.health import backups


class Command(BaseCommand):
    """Write the whole database to one file in pg_dump's custom format."""

    help = "Dump the PostgreSQL database of DATABASE_URL to FILE (pg_dump --format=custom)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="where to write the dump")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.stdout.write(f"backup {backups.dump(options['file'])}")
        except backups.BackupError as exc:
            raise CommandError(f"backup failed: {exc}") from exc
