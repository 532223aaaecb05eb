"""The promo bot's catalogue (songs), its channels, and one publication per song and channel."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from core.jobs.models import Job, LinkImport


def song_audio_upload_to(instance: Song, filename: str) -> str:
    """Keep each song's audio under its own folder."""
    return f"youtube/songs/{instance.pk}/{filename}"


class Channel(models.Model):
    """One YouTube channel, named after a brand, that posts that brand's stem."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_AUTHORIZATION = "needs_authorization", "Needs authorization"
        PAUSED = "paused", "Paused"

    slug = models.SlugField(unique=True, help_text="Name used by `youtube_authorize <slug>`.")
    brand = models.CharField(max_length=32, help_text="Slug of the brand the videos link to.")
    stem = models.CharField(
        max_length=16,
        choices=[(Job.Stem.VOCALS, "Vocals"), (Job.Stem.ACCOMPANIMENT, "Instrumental")],
    )
    title = models.CharField(max_length=100)
    youtube_channel_id = models.CharField(max_length=64, blank=True)
    playlist_id = models.CharField(
        max_length=64, blank=True, help_text="Playlist every new video is added to (optional)."
    )
    status = models.CharField(
        max_length=24,
        choices=Status.choices,
        default=Status.NEEDS_AUTHORIZATION,
        db_index=True,
    )
    # Fernet token of the OAuth refresh token (youtube_bot.crypto); never the plain token.
    refresh_token_encrypted = models.TextField(blank=True, editable=False)
    authorized_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the channel is not active.")
    error_at = models.DateTimeField(null=True, blank=True)
    # YouTube's quota day runs midnight to midnight Pacific time; see youtube_bot.quota.
    quota_budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Daily API units; empty for YOUTUBE_DAILY_QUOTA."
    )
    quota_day = models.DateField(null=True, blank=True)
    quota_used = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title or self.slug

    def clean(self) -> None:
        """Refuse a brand that does not exist or a stem that is not the brand's."""
        from core.brands import registry

        brand = registry.get(self.brand)
        if brand is None:
            known = ", ".join(b.slug for b in registry.all_brands())
            raise ValidationError({"brand": f"Unknown brand; one of: {known}."})
        if self.stem and self.stem != brand.stem:
            raise ValidationError({"stem": f"{brand.name} delivers the {brand.stem} stem."})

    @property
    def has_credentials(self) -> bool:
        """Return whether a refresh token is stored."""
        return bool(self.refresh_token_encrypted)


class Song(models.Model):
    """A song to promote, from a link or a stored file."""

    class Origin(models.TextChoices):
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command"
        PLAYLIST = "playlist", "YouTube playlist"
        CHART = "chart", "YouTube chart"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    artist = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True)
    source_url = models.URLField(max_length=2048, blank=True)
    audio = models.FileField(
        upload_to=song_audio_upload_to,
        max_length=255,
        blank=True,
        help_text="The song's audio; fetched from the link when empty.",
    )
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.ADMIN)
    # The video a playlist or chart import found, so importing again adds nothing twice.
    source_video_id = models.CharField(max_length=32, blank=True)
    # Where a chart import found the song; the best rank of the latest day it was seen there
    # decides which chart song is published first.
    chart = models.CharField(max_length=64, blank=True, help_text="E.g. youtube-music-mostpopular.")
    chart_region = models.CharField(max_length=2, blank=True, db_index=True)
    chart_rank = models.PositiveIntegerField(null=True, blank=True)
    chart_date = models.DateField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_video_id"],
                condition=~Q(source_video_id=""),
                name="one_song_per_source_video",
            )
        ]

    def __str__(self) -> str:
        return f"{self.artist} - {self.title}"

    def clean(self) -> None:
        """Require a link or a file to take the audio from."""
        if not self.source_url and not self.audio:
            raise ValidationError("Give the song a link or an audio file.")


class Publication(models.Model):
    """A song's way onto one channel: queued → fetched → separated → rendered → uploaded."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        FETCHED = "fetched", "Fetched"
        SEPARATED = "separated", "Separated"
        RENDERED = "rendered", "Rendered"
        UPLOADING = "uploading", "Uploading"
        UPLOADED = "uploaded", "Uploaded"
        FAILED = "failed", "Failed"

    OPEN_STATUSES = (
        Status.QUEUED,
        Status.FETCHED,
        Status.SEPARATED,
        Status.RENDERED,
        Status.UPLOADING,
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="publications")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="publications")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="publications"
    )
    # The song's link, fetched through the visitors' link intake; its job becomes `job`.
    link = models.ForeignKey(
        LinkImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="publications"
    )
    video = models.FileField(max_length=255, blank=True)
    thumbnail = models.FileField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Stored before the first byte is sent, so a retry resumes this session instead of
    # inserting a second video.
    session_uri = models.TextField(blank=True)
    video_id = models.CharField(max_length=32, blank=True)
    thumbnail_set = models.BooleanField(default=False)
    playlist_item_id = models.CharField(max_length=128, blank=True)
    # Quota answers park a publication until YouTube's next quota day instead of failing it.
    parked_until = models.DateTimeField(null=True, blank=True, db_index=True)
    # A worker holds the publication while it works on a step; a crashed worker's lease expires.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # A copyright notice removed the song's audio (core.jobs.services.blocks): the video is to
    # come down from YouTube, the bot advances it no further and its page is gone.
    takedown_at = models.DateTimeField(null=True, blank=True, db_index=True)
    takedown_done_at = models.DateTimeField(
        null=True, blank=True, help_text="When the video was taken down on YouTube."
    )
    # videos.delete failures (youtube_bot.services.takedown): retried by the task and each run.
    takedown_attempts = models.PositiveIntegerField(default=0)
    takedown_error = models.TextField(
        blank=True, help_text="Why the last removal from YouTube failed (it is tried again)."
    )
    visits = models.PositiveIntegerField(default=0, help_text="Click-throughs from the video.")
    last_visit_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Never twice: a song is published on a channel at most once.
            models.UniqueConstraint(fields=["song", "channel"], name="one_publication_per_channel"),
            models.UniqueConstraint(
                fields=["channel", "video_id"],
                condition=~Q(video_id=""),
                name="one_publication_per_video",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.song} on {self.channel} [{self.status}]"

    @property
    def video_url(self) -> str:
        """Return the watch link once uploaded."""
        return f"https://www.youtube.com/watch?v={self.video_id}" if self.video_id else ""


class DeniedSource(models.Model):
    """An artist or a YouTube channel that asked not to be used: chart imports skip its videos."""

    class Kind(models.TextChoices):
        ARTIST = "artist", "Artist"
        CHANNEL = "channel", "YouTube channel"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(
        max_length=200,
        help_text="The artist's name, or the channel's id (UC...) or name; case does not matter.",
    )
    note = models.TextField(blank=True, help_text="Who asked, when, how.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                "kind",
                Lower("value"),
                name="one_denied_source_per_value",
                violation_error_message="This artist or channel is on the list already.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"

    def clean(self) -> None:
        """Store the value without surrounding spaces, which would never match."""
        self.value = self.value.strip()
        if not self.value:
            raise ValidationError({"value": "Give the name or id to deny."})
