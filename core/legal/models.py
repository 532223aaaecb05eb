"""Copyright takedown notices, as the copyright page's form receives them."""

from __future__ import annotations

import uuid

from django.db import models

from core.jobs.models import AudioSource


class TakedownNotice(models.Model):
    """A rights holder's notice naming a job page or a video: received, then acted upon."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        REMOVED = "removed", "Removed and blocked"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    brand = models.CharField(max_length=32, help_text="The site the notice was sent from.")
    work = models.TextField(help_text="The copyrighted work, as the sender describes it.")
    location = models.URLField(
        max_length=2048, help_text="The address of the job page, song page or video."
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    good_faith = models.BooleanField(
        help_text="The sender stated in good faith that the use is not authorized."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    # What acting on it found and did (core.legal.services.act_on_notice).
    source = models.ForeignKey(
        AudioSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    outcome = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    acted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.name}: {self.location} [{self.status}]"
