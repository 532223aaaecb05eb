"""Read-only questions about credits, for pages and the API."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import User
from django.db.models import QuerySet, Sum

from core.billing.models import CreditAccount, CreditEntry, Subscription


def balance(user: User) -> int:
    """Return the credits the user can spend now (0 before the first movement)."""
    value = CreditAccount.objects.filter(user=user).values_list("balance", flat=True).first()
    return value or 0


def reserved(user: User) -> int:
    """Return the credits held by the user's unfinished jobs."""
    value = CreditAccount.objects.filter(user=user).values_list("reserved", flat=True).first()
    return value or 0


def history(user: User, *, limit: int = 100) -> QuerySet[CreditEntry]:
    """Return the user's latest credit movements, newest first, with their jobs."""
    return CreditEntry.objects.filter(account__user=user).select_related("job")[:limit]


def job_credits(job_id: uuid.UUID | str) -> tuple[int, int]:
    """Return (held, charged): credits a job still holds and credits it was charged."""
    entries = CreditEntry.objects.filter(job_id=job_id)
    held = entries.aggregate(total=Sum("reserved_change"))["total"] or 0
    charged = entries.filter(kind=CreditEntry.Kind.CHARGE).aggregate(total=Sum("reserved_change"))[
        "total"
    ]
    return held, -(charged or 0)


def ledger(user: User) -> QuerySet[CreditEntry]:
    """Return all of the user's credit movements, newest first, for paging through."""
    return CreditEntry.objects.filter(account__user=user).select_related("job")


def owed(user: User) -> int:
    """Return the clawed-back credits the user had already spent (0 when none)."""
    value = CreditAccount.objects.filter(user=user).values_list("owed", flat=True).first()
    return value or 0


def active_subscription(user: User) -> Subscription | None:
    """Return the user's running monthly plan, if any."""
    return (
        Subscription.objects.filter(user=user, status__in=Subscription.ACTIVE_STATUSES)
        .order_by("-updated_at")
        .first()
    )
