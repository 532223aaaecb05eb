"""API keys, each account's webhook secret, and the separations asked for through the API."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey


class APIKey(AbstractAPIKey):
    """A key of one user's account, stored hashed (the key itself is shown once)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


def new_webhook_secret() -> str:
    """Return a new random webhook secret, prefixed like Stripe's so it is recognisable."""
    return f"whsec_{secrets.token_hex(24)}"


class WebhookSecret(models.Model):
    """The secret an account's callbacks are signed with (kept readable: it signs)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_secret"
    )
    secret = models.CharField(max_length=64, default=new_webhook_secret)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook secret of {self.user}"


class ApiJob(models.Model):
    """One separation asked for through the API: an upload's job, or a link until its job exists.

    Its id is the one the API shows; the job's state stays in core.jobs, read through the job
    (or the link import's job once the link is fetched).
    """

    class Callback(models.TextChoices):
        NONE = "", "None"
        QUEUED = "queued", "Queued"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_jobs"
    )
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="api_job"
    )
    link = models.OneToOneField(
        "jobs.LinkImport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_job",
    )
    stem = models.CharField(max_length=16)
    format = models.CharField(max_length=8)
    # Scheme and host the client used, so callbacks carry the same absolute addresses.
    base_url = models.CharField(max_length=255)
    callback_url = models.URLField(max_length=2048, blank=True)
    callback_status = models.CharField(
        max_length=16, choices=Callback.choices, default=Callback.NONE, blank=True
    )
    callback_attempts = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=255, blank=True)
    # SHA-256 of what was asked (fields and the file's hash): a reused key must match it.
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_api_job_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"API job {self.pk} of {self.user}"
