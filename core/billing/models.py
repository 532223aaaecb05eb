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
    # Credits a refund or dispute took back that had already been spent: the balance never goes
    # below zero, so the rest is owed; an account that owes has no paid plan (core.billing.plans).
    owed = models.BigIntegerField(
        default=0, help_text="Clawed-back credits that were already spent."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="credit_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="credit_reserved_not_negative"
            ),
            models.CheckConstraint(condition=Q(owed__gte=0), name="credit_owed_not_negative"),
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


class StripeEvent(models.Model):
    """A Stripe event applied once: written in the same transaction as what it moved."""

    # The unique id is what makes a redelivered or concurrent copy of an event a no-op.
    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=64)
    outcome = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class Payment(models.Model):
    """Money received for credits: a pack's Checkout Session or a subscription's invoice."""

    class Kind(models.TextChoices):
        PACK = "pack", "Credit pack"
        SUBSCRIPTION = "subscription", "Monthly plan"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The Checkout Session (cs_...) or invoice (in_...) that paid.
    stripe_id = models.CharField(max_length=255, unique=True)
    # What a charge.refunded or charge.dispute.created event names, to find the payment again.
    payment_intent = models.CharField(max_length=255, blank=True, db_index=True)
    charge = models.CharField(max_length=255, blank=True, db_index=True)
    amount = models.BigIntegerField(help_text="In the currency's smallest unit (cents).")
    currency = models.CharField(max_length=3)
    credits = models.BigIntegerField()
    clawed_back = models.BigIntegerField(default=0, help_text="Credits taken back so far.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(clawed_back__gte=0) & Q(clawed_back__lte=models.F("credits")),
                name="payment_clawback_within_credits",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_id} ({self.credits} credits)"


class Subscription(models.Model):
    """A user's monthly plan as Stripe last told us (customer.subscription.* and invoices)."""

    ACTIVE_STATUSES = ("active", "trialing")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions"
    )
    stripe_id = models.CharField(max_length=255, unique=True)
    customer = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=32)
    current_period_end = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.status})"


class StripeCustomer(models.Model):
    """The Stripe customer of a user, created once when they first subscribe."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stripe_customer"
    )
    customer = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.customer})"
