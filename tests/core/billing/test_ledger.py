"""The ledger: credits reserved at submit, charged on success, released on failure or cancel;
every movement once, whatever is retried; the balance never negative."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from core.billing import selectors
from core.billing import services as billing
from core.billing.models import CreditAccount, CreditEntry
from core.jobs import services
from core.jobs.models import AudioSource, Job, Separation
from tests.core.billing.helpers import assert_consistent, kinds, submit, user_with

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("seconds", "credits"),
    [(0.4, 1), (59.9, 1), (60.0, 1), (60.0000001, 1), (60.01, 2), (180.0, 3), (3599.5, 60)],
)
def test_one_credit_per_started_minute(seconds: float, credits: int) -> None:
    assert billing.credits_for_duration(seconds) == credits


def test_a_submission_reserves_its_credits_in_the_same_transaction() -> None:
    user = user_with(10)
    job = submit(user, duration=130.0)
    assert kinds(job) == ["reserve"]
    entry = CreditEntry.objects.get(job=job)
    assert (entry.amount, entry.reserved_change, entry.balance_after) == (-3, 3, 7)
    assert (selectors.balance(user), selectors.reserved(user)) == (7, 3)
    assert_consistent(user)


def test_reserving_twice_is_one_entry() -> None:
    user = user_with(10)
    job = submit(user)
    again = billing.reserve(job, 2)
    assert again == CreditEntry.objects.get(job=job, kind="reserve")
    assert CreditEntry.objects.filter(job=job).count() == 1
    assert selectors.balance(user) == 8


def test_too_few_credits_raise_with_the_balance_and_store_nothing() -> None:
    user = user_with(1)
    with pytest.raises(billing.InsufficientCredits) as info:
        submit(user, duration=61.0)
    assert (info.value.balance, info.value.needed) == (1, 2)
    assert not Job.objects.exists()
    assert not AudioSource.objects.exists()
    assert not Separation.objects.exists()
    assert list(CreditEntry.objects.values_list("kind", flat=True)) == ["grant"]
    assert selectors.balance(user) == 1


def test_anonymous_jobs_move_no_credits() -> None:
    job = submit(None)
    assert kinds(job) == []
    assert not CreditAccount.objects.exists()


def _succeed(job: Job) -> None:
    claim, separation = services.claim_separation(job.separation_id, "w")
    assert separation is not None, claim
    assert services.complete_separation(separation.pk, vocals="v.flac", accompaniment="a.flac")


def test_success_charges_every_waiting_job_of_the_separation_once() -> None:
    alice, bob = user_with(5), user_with(5)
    first = submit(alice, b"same song")
    second = submit(bob, b"same song", brand="acapella-extractor", stem="vocals")
    anonymous = submit(None, b"same song")
    assert first.separation_id == second.separation_id == anonymous.separation_id
    _succeed(first)
    assert kinds(first) == kinds(second) == ["reserve", "charge"]
    assert kinds(anonymous) == []
    for user in (alice, bob):
        assert (selectors.balance(user), selectors.reserved(user)) == (3, 0)
        assert_consistent(user)
    # A retried completion (another worker's late report) charges nothing more.
    assert not services.complete_separation(first.separation_id, vocals="v", accompaniment="a")
    assert billing.charge(first) == CreditEntry.objects.get(job=first, kind="charge")
    assert CreditEntry.objects.filter(kind="charge").count() == 2


def test_a_cached_result_costs_the_same_and_is_charged_at_once() -> None:
    first = submit(user_with(5), b"popular song", duration=150.0)
    _succeed(first)
    user = user_with(5)
    cached = submit(user, b"popular song", duration=150.0)
    assert cached.status == Job.Status.SUCCEEDED
    assert kinds(cached) == ["reserve", "charge"]
    assert CreditEntry.objects.get(job=cached, kind="reserve").amount == -3
    assert (selectors.balance(user), selectors.reserved(user)) == (2, 0)
    assert_consistent(user)


def test_failure_releases_the_credits() -> None:
    user = user_with(5)
    job = submit(user)
    services.claim_separation(job.separation_id, "w")
    assert services.fail_separation(job.separation_id, code="decode_failed", message="bad")
    assert kinds(job) == ["reserve", "release"]
    assert (selectors.balance(user), selectors.reserved(user)) == (5, 0)
    # Neither a retried failure nor a late success moves the credits again.
    assert not services.fail_separation(job.separation_id, code="x", message="x")
    assert billing.release(job) is not None
    assert billing.charge(job) == CreditEntry.objects.get(job=job, kind="release")
    assert kinds(job) == ["reserve", "release"]
    assert_consistent(user)


def test_cancel_releases_the_credits_once() -> None:
    user = user_with(5)
    job = submit(user)
    assert services.cancel_job(job.pk)
    assert not services.cancel_job(job.pk)
    assert kinds(job) == ["reserve", "release"]
    assert selectors.balance(user) == 5
    assert_consistent(user)


def test_a_cancelled_job_is_not_charged_when_the_others_succeed() -> None:
    user, other = user_with(5), user_with(5)
    cancelled = submit(user, b"song")
    waiting = submit(other, b"song")
    assert services.cancel_job(cancelled.pk)
    _succeed(waiting)
    assert kinds(cancelled) == ["reserve", "release"]
    assert kinds(waiting) == ["reserve", "charge"]


def test_deleting_an_active_job_releases_its_credits() -> None:
    user = user_with(5)
    job = submit(user)
    assert services.delete_job(job.pk)
    kinds_left = list(CreditEntry.objects.order_by("id").values_list("kind", "job"))
    assert kinds_left == [("grant", None), ("reserve", None), ("release", None)]
    assert selectors.balance(user) == 5
    assert_consistent(user)


def test_grant_is_once_per_key() -> None:
    user = user_with(0)
    entry, created = billing.grant(user, 30, key="signup:test")
    again, created_again = billing.grant(user, 30, key="signup:test")
    assert created and not created_again and entry == again
    assert selectors.balance(user) == 30


def test_entries_are_append_only() -> None:
    user = user_with(3)
    entry = CreditEntry.objects.get(account__user=user)
    entry.amount = 1000
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_the_database_refuses_a_negative_balance() -> None:
    user = user_with(3)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(user=user).update(balance=-1)
    assert selectors.balance(user) == 3


def test_history_is_newest_first() -> None:
    user = user_with(5)
    job = submit(user)
    assert services.cancel_job(job.pk)
    assert [e.kind for e in selectors.history(user)] == ["release", "reserve", "grant"]
