"""Audio sources, the separations shared between requests, and the jobs that ask for them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


def source_upload_to(instance: AudioSource, filename: str) -> str:
    """Store inputs by content hash, so identical audio is stored once."""
    return f"sources/{instance.sha256[:2]}/{instance.sha256}/input"


class AudioSource(models.Model):
    """One distinct input file, identified by the SHA-256 of its bytes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=source_upload_to, max_length=255)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, from probing.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"


class Separation(models.Model):
    """The work of separating one AudioSource with one engine version, shared by many jobs."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    class Quality(models.TextChoices):
        # The engine's modes (shared_separation.engine.Quality): standard equals the official
        # Spleeter output, high separates better with the same weights (docs/engine.md).
        STANDARD = "standard", "Standard"
        HIGH = "high", "High quality"

    LIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.SUCCEEDED)
    # Done with, one way or another: their files expire after the retention time.
    FINISHED_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(AudioSource, on_delete=models.CASCADE, related_name="separations")
    engine_version = models.CharField(max_length=64)
    quality = models.CharField(max_length=16, choices=Quality.choices, default=Quality.STANDARD)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    priority = models.BooleanField(default=False)
    progress = models.FloatField(default=0.0)
    vocals = models.FileField(max_length=255, blank=True)
    accompaniment = models.FileField(max_length=255, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    worker = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Tempo and key of the song, read from the accompaniment by a light task once the stems
    # are in (shared_separation.engine.analysis: bpm, key, camelot and their confidences);
    # empty until then, or when the analysis could not be made.
    analysis = models.JSONField(default=dict, blank=True)
    # When the analysis was last asked of a light worker: the sweep asks again, a few times,
    # when its message was lost (services.analysis.resend_lost_analyses).
    analysis_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one separation in flight or done per audio, engine and quality: never
            # separate twice, and never hand one mode's result to a request for the other.
            models.UniqueConstraint(
                fields=["source", "engine_version", "quality"],
                condition=Q(status__in=["queued", "running", "succeeded"]),
                name="one_live_separation_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source.original_name} [{self.status}]"

    @property
    def duration_seconds(self) -> float | None:
        """Return how long the work took, once finished."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Job(models.Model):
    """One request for a stem of an audio source, from a site, the API or the bot."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    class Stem(models.TextChoices):
        VOCALS = "vocals", "Vocals"
        ACCOMPANIMENT = "accompaniment", "Instrumental"
        BOTH = "both", "Both"

    class Format(models.TextChoices):
        MP3 = "mp3", "MP3 320 kbps"
        WAV = "wav", "WAV"
        FLAC = "flac", "FLAC"

    class Origin(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        BOT = "bot", "Bot"
        SHELL = "shell", "Shell"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    separation = models.ForeignKey(Separation, on_delete=models.PROTECT, related_name="jobs")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    brand = models.CharField(max_length=32, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.WEB)
    stem = models.CharField(max_length=16, choices=Stem.choices)
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.MP3)
    original_name = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    # The job this one was made from on another brand ("Need the vocals instead?"): same audio,
    # same separation, the other stem.
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived"
    )
    # A free preview: its separation is of the first PREVIEW_SECONDS of `full_source`, the
    # whole song, which is longer than the owner's plan allowed (core.jobs.services.preview).
    preview = models.BooleanField(default=False)
    full_source = models.ForeignKey(
        AudioSource,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="preview_jobs",
    )
    # How long the files stay after this job's last use, by its owner's plan when submitted
    # (core.billing.plans); empty: RETENTION_HOURS, the free tier's.
    retention = models.DurationField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Following the other-stem link twice (or a crawler following it) makes one job.
            models.UniqueConstraint(
                fields=["derived_from", "brand"],
                condition=Q(derived_from__isnull=False),
                name="one_derived_job_per_brand",
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.stem} [{self.status}]"


class RemoteMedia(models.Model):
    """One video or song page, by the yt-dlp extractor that reads it and its id there.

    Every paste of it, in any of its URL forms, shares one download: the first fetch stores its
    audio as an AudioSource, and later links attach to that source (and so to its separation).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    extractor = models.CharField(max_length=64)
    media_id = models.CharField(max_length=128)
    url = models.URLField(max_length=2048, help_text="Where it is fetched from.")
    source = models.ForeignKey(
        AudioSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="media"
    )
    title = models.CharField(max_length=255, blank=True)
    artist = models.CharField(max_length=255, blank=True)
    # A fetch is under way until then; a crashed worker's lease runs out and another fetches.
    lease_until = models.DateTimeField(null=True, blank=True)
    # The last fetch's failure, when it would fail the same for anyone (a private video, say).
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    fetches = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "remote media"
        constraints = [
            models.UniqueConstraint(fields=["extractor", "media_id"], name="one_remote_media")
        ]

    def __str__(self) -> str:
        return f"{self.extractor}:{self.media_id}"


class LinkImport(models.Model):
    """A visitor's link, fetched by a light worker, that becomes a Job once its audio is in."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        FETCHING = "fetching", "Fetching"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE_STATUSES = (Status.QUEUED, Status.FETCHING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2048)
    brand = models.CharField(max_length=32, blank=True)
    stem = models.CharField(max_length=16, choices=Job.Stem.choices)
    format = models.CharField(max_length=8, choices=Job.Format.choices, default=Job.Format.MP3)
    # The Separation.Quality asked for; empty: SEPARATION_DEFAULT_QUALITY when the job is made.
    quality = models.CharField(max_length=16, choices=Separation.Quality.choices, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="link_imports",
    )
    # Who asked (an address or /64 network), as the rate limit counts them.
    client = models.CharField(max_length=64, blank=True)
    # Who pasted it: the bot's links are fetched under the house plan (core.billing.plans).
    origin = models.CharField(max_length=8, choices=Job.Origin.choices, default=Job.Origin.WEB)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="link_imports"
    )
    # The video the link names (None for a direct file or a page yt-dlp reads generically).
    media = models.ForeignKey(
        RemoteMedia, null=True, blank=True, on_delete=models.SET_NULL, related_name="links"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.url} [{self.status}]"


class Block(models.Model):
    """Audio that may not come in again: a content hash, or a video by its link key.

    Written when a copyright notice is acted upon (core.legal); the intake and the link
    services refuse what a block names with the `blocked` code.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Either the SHA-256 of the bytes, or the extractor and media id of a video (RemoteMedia's).
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    extractor = models.CharField(max_length=64, blank=True)
    media_id = models.CharField(max_length=128, blank=True)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sha256"], condition=~Q(sha256=""), name="one_block_per_hash"
            ),
            models.UniqueConstraint(
                fields=["extractor", "media_id"],
                condition=~Q(media_id=""),
                name="one_block_per_media",
            ),
            models.CheckConstraint(
                condition=(~Q(sha256="") & Q(media_id="")) | (Q(sha256="") & ~Q(media_id="")),
                name="block_names_hash_or_media",
            ),
        ]

    def __str__(self) -> str:
        return self.sha256[:12] if self.sha256 else f"{self.extractor}:{self.media_id}"
