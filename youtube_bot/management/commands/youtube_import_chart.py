"""Import the most popular music videos of a region's YouTube chart through the Data API."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from youtube_bot import chart
from youtube_bot import youtube as yt
from youtube_bot.models import Channel


class Command(BaseCommand):
    help = (
        "Add the new songs of YouTube's most popular music videos in a region (videos.list "
        "chart=mostPopular, category 10), skipping live, too long, known and denied ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Take the region, how far down the chart to read, and whose credentials read it."""
        regions = settings.YOUTUBE_CHART_REGIONS
        parser.add_argument(
            "--region",
            default=regions[0] if regions else "US",
            help="ISO 3166 region code (default: the first of YOUTUBE_CHART_REGIONS, else US).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=settings.YOUTUBE_CHART_LIMIT,
            help="How many of the top videos to read (default: YOUTUBE_CHART_LIMIT).",
        )
        parser.add_argument(
            "--channel",
            help="Slug of the authorized channel whose API quota pays "
            "(default: the first active channel with credentials).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Read the chart page by page and say what each page gave."""
        region = options["region"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", region):
            raise CommandError(f"--region must be a two-letter code such as US, not {region!r}.")
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        if options["channel"]:
            try:
                channel = Channel.objects.get(slug=options["channel"])
            except Channel.DoesNotExist:
                raise CommandError(f"No channel {options['channel']!r}.") from None
        else:
            found = chart.default_channel()
            if found is None:
                raise CommandError(
                    "No active channel with credentials to read the chart: run "
                    "`manage.py youtube_authorize <channel>` first, or name one with --channel."
                )
            channel = found

        def progress(page: int, tally: chart.Tally) -> None:
            self.stdout.write(f"page {page}: {tally}")

        try:
            result = chart.import_chart(channel, region, limit=options["limit"], on_page=progress)
        except yt.YouTubeError as exc:
            raise CommandError(exc.message) from exc
        for song in result.songs:
            self.stdout.write(f"added #{song.chart_rank} {song} ({song.slug})")
        self.stdout.write(
            f"{result.region} chart of {result.day}: {result.total}; "
            f"{result.pages} pages read by {channel.slug} for {result.units} API units"
        )
