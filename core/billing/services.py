"""Every movement of credits, each in a transaction under the account's row lock.

Each movement has an idempotency key (e.g. "reserve:<job id>"), unique in the ledger, so a
retried request or task has the effect of one. Callers may run these inside their own
transaction (core.jobs.services does): the entry then commits or rolls back with their change.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from core.billing.models import CreditAccount, CreditEntry
from core.jobs.models import Job

logger = logging.getLogger(__name__)

JobRef = Job | uuid.UUID | str


class InsufficientCredits(Exception):
    """The account cannot pay for what was asked; nothing was reserved."""

    def __init__(self, *, balance: int, needed: int) -> None:
        super().__init__(f"{needed} credits needed, {balance} available")
        self.balance = balance
        self.needed = needed


def credits_for_duration(duration: float) -> int:
    """Return what a song costs: one credit per started minute, at least one."""
    # Rounded to the millisecond first, so float noise (180.0000001 s) starts no extra minute.
    return max(1, math.ceil(round(duration, 3) / 60))


def _job_pk(job: JobRef) -> str:
    return str(job.pk if isinstance(job, Job) else job)


def _locked_account(user_id: int) -> CreditAccount:
    """Return the user's account, created on first use, locked until the transaction ends."""
    CreditAccount.objects.get_or_create(user_id=user_id)
    return CreditAccount.objects.select_for_update().get(user_id=user_id)


def _entry(key: str) -> CreditEntry | None:
    return CreditEntry.objects.filter(idempotency_key=key).first()


def _post(
    account: CreditAccount,
    kind: CreditEntry.Kind,
    *,
    amount: int,
    reserved_change: int = 0,
    key: str,
    job_id: uuid.UUID | str | None = None,
    payment_reference: str = "",
    note: str = "",
) -> CreditEntry:
    """Write one entry and move the locked account's row with it."""
    account.balance += amount
    account.reserved += reserved_change
    # A negative value here is a bug; the CHECK constraints refuse it rather than store it.
    account.save(update_fields=["balance", "reserved", "owed", "updated_at"])
    entry = CreditEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        reserved_change=reserved_change,
        balance_after=account.balance,
        job_id=job_id,
        payment_reference=payment_reference,
        idempotency_key=key,
        note=note[:255],
    )
    logger.info("credits %s %+d for user %s (%s)", kind, amount, account.user_id, key)
    return entry


def grant(user: User, credits: int, *, key: str, note: str = "") -> tuple[CreditEntry, bool]:
    """Give free credits once per key; return the entry and whether it is new."""
    if credits <= 0:
        raise ValueError("a grant is of at least one credit")
    with transaction.atomic():
        account = _locked_account(user.pk)
        existing = _entry(key)
        if existing is not None:
            return existing, False
        return _post(account, CreditEntry.Kind.GRANT, amount=credits, key=key, note=note), True


def reserve(job: Job, credits: int) -> CreditEntry:
    """Hold a job's credits, once; raise InsufficientCredits (with the balance) when short.

    The job may still be unsaved, its id already chosen, in the caller's transaction: the
    reservation then comes first, so a refused job stores nothing (the foreign key is checked
    at the commit).
    """
    if job.owner_id is None:
        raise ValueError("a job without an owner has no account to pay from")
    if credits <= 0:
        raise ValueError("a reservation is of at least one credit")
    key = f"reserve:{job.pk}"
    with transaction.atomic():
        account = _locked_account(job.owner_id)
        existing = _entry(key)
        if existing is not None:
            return existing
        if account.balance < credits:
            raise InsufficientCredits(balance=account.balance, needed=credits)
        return _post(
            account,
            CreditEntry.Kind.RESERVE,
            amount=-credits,
            reserved_change=credits,
            key=key,
            job_id=job.pk,
            note=job.original_name,
        )


def _settle(job: JobRef, kind: CreditEntry.Kind) -> CreditEntry | None:
    """Charge or release a job's reservation, whichever comes first; the other is a no-op.

    Return the entry that settled it (possibly of the other kind, written earlier), or None
    when the job had no reservation (an anonymous or free job).
    """
    job_id = _job_pk(job)
    with transaction.atomic():
        reservation = _entry(f"reserve:{job_id}")
        if reservation is None:
            return None
        account = CreditAccount.objects.select_for_update().get(pk=reservation.account_id)
        # Read under the lock: a concurrent charge and release of one job cannot both pass.
        settled = CreditEntry.objects.filter(
            idempotency_key__in=[f"charge:{job_id}", f"release:{job_id}"]
        ).first()
        if settled is not None:
            return settled
        held = reservation.reserved_change
        return _post(
            account,
            kind,
            amount=held if kind == CreditEntry.Kind.RELEASE else 0,
            reserved_change=-held,
            key=f"{kind.value}:{job_id}",
            job_id=reservation.job_id,
            note=reservation.note,
        )


def charge(job: JobRef) -> CreditEntry | None:
    """Spend a succeeded job's reserved credits (once; nothing for an unreserved job)."""
    return _settle(job, CreditEntry.Kind.CHARGE)


def release(job: JobRef) -> CreditEntry | None:
    """Give a failed or cancelled job's reserved credits back (once)."""
    return _settle(job, CreditEntry.Kind.RELEASE)


def _reserved_jobs(job_ids: Iterable[uuid.UUID | str]) -> list[str]:
    """Return those of the jobs that hold a reservation, ordered by account.

    Settling several accounts in one transaction locks them in one global order, so two
    such transactions can never wait for each other.
    """
    keys = [f"reserve:{job_id}" for job_id in job_ids]
    rows = CreditEntry.objects.filter(idempotency_key__in=keys).order_by("account_id", "id")
    return [key.removeprefix("reserve:") for key in rows.values_list("idempotency_key", flat=True)]


def charge_jobs(job_ids: Iterable[uuid.UUID | str]) -> None:
    """Charge every one of these jobs that holds a reservation."""
    for job_id in _reserved_jobs(job_ids):
        charge(job_id)


def release_jobs(job_ids: Iterable[uuid.UUID | str]) -> None:
    """Release every one of these jobs that holds a reservation."""
    for job_id in _reserved_jobs(job_ids):
        release(job_id)


def purchase(
    user: User, credits: int, *, key: str, payment_reference: str = "", note: str = ""
) -> tuple[CreditEntry, bool]:
    """Add paid credits once per key; return the entry and whether it is new.

    Credits a refund or dispute could not take back (the account's `owed`) are settled first:
    the entry adds what is left of the purchase after that.
    """
    if credits <= 0:
        raise ValueError("a purchase is of at least one credit")
    with transaction.atomic():
        account = _locked_account(user.pk)
        existing = _entry(key)
        if existing is not None:
            return existing, False
        settled = min(account.owed, credits)
        if settled:
            account.owed -= settled
            note = f"{note} ({settled} owed credits settled)".strip()
        entry = _post(
            account,
            CreditEntry.Kind.PURCHASE,
            amount=credits - settled,
            key=key,
            payment_reference=payment_reference,
            note=note,
        )
        return entry, True


def claw_back(
    user: User,
    credits: int,
    *,
    kind: CreditEntry.Kind,
    key: str,
    payment_reference: str = "",
    note: str = "",
) -> tuple[CreditEntry, bool]:
    """Take back refunded or disputed credits once per key; return the entry and if it is new.

    The balance never goes below zero: what is left of the credits is taken, and the part
    already spent is added to the account's `owed` (no paid plan while it owes; the next
    purchase settles it). Credits held by running jobs are not touched: they pay for work
    already under way.
    """
    if kind not in (CreditEntry.Kind.REFUND, CreditEntry.Kind.CLAWBACK):
        raise ValueError("a claw-back is a refund or a clawback entry")
    if credits <= 0:
        raise ValueError("a claw-back is of at least one credit")
    with transaction.atomic():
        account = _locked_account(user.pk)
        existing = _entry(key)
        if existing is not None:
            return existing, False
        taken = min(account.balance, credits)
        short = credits - taken
        if short:
            account.owed += short
            note = f"{note} ({short} already spent, now owed)".strip()
            logger.warning("user %s owes %d clawed-back credits (%s)", user.pk, short, key)
        entry = _post(
            account,
            kind,
            amount=-taken,
            key=key,
            payment_reference=payment_reference,
            note=note,
        )
        return entry, True
