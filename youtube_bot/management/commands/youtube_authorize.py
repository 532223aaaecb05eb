"""Authorize a channel: installed-app flow, loopback redirect, refresh token kept encrypted."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from google_auth_oauthlib.flow import InstalledAppFlow

from youtube_bot import services
from youtube_bot import youtube as yt
from youtube_bot.models import Channel

PROMPT = (
    "Open this address in a browser signed in as the owner of the channel "
    "(or its brand account):\n\n{url}\n"
)


class Command(BaseCommand):
    help = (
        "Run Google's OAuth flow for a channel (browser → loopback redirect to this machine) "
        "and store its refresh token encrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Name the channel; choose the browser and port behaviour."""
        parser.add_argument("channel", help="The channel's slug, e.g. vocals-remover.")
        parser.add_argument(
            "--no-browser", action="store_true", help="Only print the address to open."
        )
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help="Loopback port for the redirect (default YOUTUBE_OAUTH_PORT; 0 picks one). "
            "Over SSH, forward it: ssh -L PORT:localhost:PORT server.",
        )
        parser.add_argument("--timeout", type=int, default=600, help="Seconds to wait.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the flow, store the token, and record which YouTube channel it belongs to."""
        try:
            channel = Channel.objects.get(slug=options["channel"])
        except Channel.DoesNotExist:
            raise CommandError(f"No channel {options['channel']!r}; add it in the admin.") from None
        try:
            config = yt.client_config()
        except yt.YouTubeError as exc:
            raise CommandError(exc.message) from exc
        flow = InstalledAppFlow.from_client_config(config, scopes=yt.SCOPES)
        port = settings.YOUTUBE_OAUTH_PORT if options["port"] is None else options["port"]
        credentials = flow.run_local_server(
            host="localhost",
            port=port,
            open_browser=not options["no_browser"],
            authorization_prompt_message=PROMPT,
            success_message="The channel is authorized; you may close this window.",
            timeout_seconds=options["timeout"],
            # A refresh token is only issued with offline access; consent makes Google issue a
            # new one even if this client was authorized before.
            access_type="offline",
            prompt="consent",
        )
        if not credentials.refresh_token:
            raise CommandError("Google issued no refresh token; revoke the app's access and retry.")
        try:
            youtube_id, title = services.authorize(channel, credentials.refresh_token)
        except yt.YouTubeError as exc:
            raise CommandError(f"The token is stored but the channel check failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Channel {channel.slug} authorized as {title} ({youtube_id}).")
        )
        if channel.youtube_channel_id and channel.youtube_channel_id != youtube_id:
            self.stderr.write(
                f"Note: the channel was {channel.youtube_channel_id}; it is now {youtube_id}."
            )
