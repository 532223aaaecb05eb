"""Import songs from a YouTube playlist (e.g. a charts playlist) through the Data API."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from youtube_bot import services
from youtube_bot import youtube as yt
from youtube_bot.models import Channel


class Command(BaseCommand):
    help = "Add the videos of a YouTube playlist to the catalogue (each video once)."

    def add_arguments(self, parser: CommandParser) -> None:
        """Take the playlist and whose credentials read it."""
        parser.add_argument("playlist", help="A playlist id (PL...) or its address.")
        parser.add_argument(
            "--channel", required=True, help="Slug of an authorized channel whose API quota pays."
        )
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args: Any, **options: Any) -> None:
        """Read the playlist and print what was added."""
        try:
            channel = Channel.objects.get(slug=options["channel"])
        except Channel.DoesNotExist:
            raise CommandError(f"No channel {options['channel']!r}.") from None
        try:
            added = services.import_playlist(channel, options["playlist"], limit=options["limit"])
        except yt.YouTubeError as exc:
            raise CommandError(exc.message) from exc
        for song in added:
            self.stdout.write(f"added {song.slug}")
        self.stdout.write(f"{len(added)} new songs")
