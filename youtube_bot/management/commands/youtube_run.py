"""Advance the bot now: what Celery beat does on its schedule, or a dry run."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from youtube_bot import services, tasks


class Command(BaseCommand):
    help = (
        "Advance the due songs of every channel here and now (--queue: send them to the bot "
        "queue instead). --dry-run renders and writes the metadata without uploading."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Choose between running here, queueing, and a dry run."""
        parser.add_argument("--dry-run", action="store_true", help="Never upload.")
        parser.add_argument("--queue", action="store_true", help="Send to the bot queue.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Advance each due publication and say where it stands."""
        if options["queue"]:
            self.stdout.write(f"{tasks.run()} publications sent to the bot queue")
            return
        for publication in services.due_publications():
            outcome = services.run_publication(publication.pk, dry_run=options["dry_run"])
            publication.refresh_from_db()
            line = f"{publication.song} on {publication.channel.slug}: {publication.status}"
            line += f" ({outcome.step}{': ' + outcome.detail if outcome.detail else ''})"
            if options["dry_run"] and publication.metadata:
                line += f"\n  metadata: youtube/renders/{publication.pk}/metadata.json"
                line += f"\n  title: {publication.metadata['snippet']['title']}"
            self.stdout.write(line)
