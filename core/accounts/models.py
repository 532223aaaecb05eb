"""Which mailboxes already earned the sign-up grant."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SignupGrant(models.Model):
    """The sign-up credits given for one mailbox, by its canonical address (unique)."""

    canonical_email = models.CharField(max_length=254, unique=True)
    # One grant per user too, whichever of their addresses was confirmed first. The row stays
    # when the user is deleted, so signing up again with the same mailbox earns nothing.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="signup_grant",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.canonical_email} → {self.user}"
