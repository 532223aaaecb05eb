"""Add a song to the bot's catalogue from a link or a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from youtube_bot import services
from youtube_bot.models import Song


class Command(BaseCommand):
    help = "Add a song (title, artist, and a link or a file) and queue it on every channel."

    def add_arguments(self, parser: CommandParser) -> None:
        """Take the song's title, artist and source."""
        parser.add_argument("--title", required=True)
        parser.add_argument("--artist", required=True)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--url", help="A link to the song (YouTube, SoundCloud, a file...).")
        source.add_argument("--file", type=Path, help="A local audio file.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Store the song and print its slug."""
        path: Path | None = options["file"]
        if path is not None:
            if not path.is_file():
                raise CommandError(f"{path} is not a file.")
            with path.open("rb") as fh:
                song = services.add_song(
                    title=options["title"], artist=options["artist"],
                    audio=File(fh, name=path.name), origin=Song.Origin.COMMAND,
                )  # fmt: skip
        else:
            song = services.add_song(
                title=options["title"], artist=options["artist"],
                source_url=options["url"], origin=Song.Origin.COMMAND,
            )  # fmt: skip
        slugs = song.publications.order_by("channel__slug").values_list("channel__slug", flat=True)
        channels = ", ".join(slugs)
        self.stdout.write(f"{song.slug}: queued on {channels or 'no channel yet'}")
