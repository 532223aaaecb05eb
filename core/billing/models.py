"""The credit ledger: one balance row per account and the append-only entries that move it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class CreditAccount(models.Model):
    """A user's credits: what can be spent now (`balance`) and what running jobs hold.

    Both are updated in the same transaction as the entry that moves them, under a row lock;
    the CHECK constraints are the last line: no race can ever store a negative balance.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_account"
    )
    balance = models.BigIntegerField(default=0, help_text="Credits that can be spent now.")
    reserved = models.BigIntegerField(default=0, help_text="Credits held by unfinished jobs.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="credit_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="credit_reserved_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.balance} credits)"


class CreditEntry(models.Model):
    """One movement of credits, never changed or deleted once written.

    `amount` is the change of the spendable balance, `reserved_change` the change of the credits
    held for jobs: a reserve moves credits from the balance into the hold, a charge spends the
    hold, a release gives it back. The sums of both over an account equal its row.
    """

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        PURCHASE = "purchase", "Purchase"
        RESERVE = "reserve", "Reserved"
        CHARGE = "charge", "Charged"
        RELEASE = "release", "Released"
        REFUND = "refund", "Refund"
        CLAWBACK = "clawback", "Clawback"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField(help_text="Signed change of the spendable balance.")
    reserved_change = models.BigIntegerField(
        default=0, help_text="Signed change of the credits held for jobs."
    )
    balance_after = models.BigIntegerField()
    # Kept when the job is deleted: the ledger outlives the files and rows it paid for.
    job = models.ForeignKey(
        "jobs.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="credit_entries",
    )
    payment_reference = models.CharField(max_length=255, blank=True)
    # What makes a retried call have the effect of one, e.g. "reserve:<job id>".
    idempotency_key = models.CharField(max_length=200, unique=True)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.idempotency_key})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert a new entry; an existing one is never rewritten (append-only)."""
        if not self._state.adding:
            raise ValueError("credit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Refuse: a movement of credits is corrected by another entry, never erased."""
        raise ValueError("credit entries are append-only")

    @property
    def credits(self) -> int:
        """Return how many credits the entry concerns, whichever column it moved."""
        return abs(self.amount) or abs(self.reserved_change)
