"""Restore a dump of backup_database into a new, empty database (docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.health import backups
from core.health.checks import unapplied_migrations


class Command(BaseCommand):
    """Load a dump into the empty database of DATABASE_URL, then say what it still lacks."""

    help = "Restore FILE (a dump of backup_database) into the empty database of DATABASE_URL."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the dump to restore")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.stdout.write(f"restore {backups.restore(options['file'])}")
        except backups.BackupError as exc:
            raise CommandError(f"restore failed: {exc}") from exc
        pending = unapplied_migrations()
        if pending:
            # A dump older than the code: the roles refuse it until it is migrated.
            self.stdout.write(
                f"the dump lacks {len(pending)} migrations of this code: run `stemsplit migrate`"
            )
