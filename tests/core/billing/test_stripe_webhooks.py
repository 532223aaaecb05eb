"""Stripe's webhook: signed events credit, refund and claw back through the ledger, once each."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from core.billing import plans, selectors
from core.billing import services as billing
from core.billing.models import CreditEntry, Payment, StripeEvent, Subscription
from tests.core.billing import events
from tests.core.billing.helpers import assert_consistent, submit, user_with
from tests.core.billing.stripe_servers import StripeStandIn

pytestmark = pytest.mark.django_db

VR_HOST = "vocals-remover.localhost:8000"


@pytest.fixture
def web() -> Client:
    """Stripe, as a client: no session, no CSRF token (the endpoint is exempt)."""
    return Client(HTTP_HOST=VR_HOST, enforce_csrf_checks=True)


def _checkout(payments: StripeStandIn, user: User, pack: str = "100") -> dict[str, Any]:
    """Buy a pack as the user through the site; return the session Stripe created."""
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    assert client.post(f"/pricing/packs/{pack}/").status_code == 303
    session: dict[str, Any] = payments.checkout.sessions[-1]["session"]
    return session


def _bought(payments: StripeStandIn, web: Client, user: User) -> dict[str, Any]:
    """Buy the 100-credit pack and deliver its completion; return the event."""
    completed = events.completed_session(_checkout(payments, user))
    assert events.post(web, completed).status_code == 200
    return completed


def test_a_completed_checkout_credits_the_pack_once_and_unlocks_pro(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    assert plans.plan_for(user).name == "Free"
    completed = events.completed_session(_checkout(payments, user))
    first = events.post(web, completed)
    assert first.status_code == 200 and first.json() == {"received": True, "applied": True}
    assert selectors.balance(user) == 100
    [entry] = CreditEntry.objects.filter(account__user=user)
    assert entry.kind == CreditEntry.Kind.PURCHASE and entry.amount == 100
    intent = completed["data"]["object"]["payment_intent"]
    assert entry.payment_reference == intent
    payment = Payment.objects.get(user=user)
    assert (payment.amount, payment.currency, payment.credits) == (500, "eur", 100)
    plan = plans.plan_for(user)
    assert (plan.code, plan.name, plan.api_access) == ("paid", "Pro", True)
    # Stripe delivers the same event again (a retry after a timeout): nothing more.
    again = events.post(web, completed)
    assert again.status_code == 200 and again.json()["applied"] is False
    assert selectors.balance(user) == 100
    assert StripeEvent.objects.filter(event_id=completed["id"]).count() == 1
    assert_consistent(user)


def test_the_same_session_in_another_event_is_not_credited_twice(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    session = _checkout(payments, user)
    events.post(web, events.completed_session(session, payment_intent="pi_1"))
    events.post(web, events.completed_session(session, payment_intent="pi_1"))
    assert selectors.balance(user) == 100


def test_an_unpaid_session_credits_nothing(payments: StripeStandIn, web: Client) -> None:
    user = user_with(0)
    pending = events.completed_session(_checkout(payments, user), payment_status="unpaid")
    assert events.post(web, pending).status_code == 200
    assert selectors.balance(user) == 0


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "old timestamp", "tampered body", "no signature", "garbage signature"],
)
def test_a_badly_signed_event_is_refused_and_credits_nothing(
    payments: StripeStandIn, web: Client, how: str
) -> None:
    user = user_with(0)
    completed = events.completed_session(_checkout(payments, user))
    payload = json.dumps(completed)
    if how == "wrong secret":
        response = events.post(web, payload, secret="whsec_somebody_else")
    elif how == "old timestamp":
        # Stripe's default tolerance is 5 minutes: a replay from 10 minutes ago is refused.
        response = events.post(web, payload, timestamp=int(time.time()) - 600)
    elif how == "tampered body":
        header = events.signed(payload)
        forged = payload.replace('"100"', '"100000"')
        assert forged != payload
        response = events.post(web, forged, signature=header)
    elif how == "no signature":
        response = events.post(web, payload, signature="")
    else:
        response = events.post(web, payload, signature="t=1,v1=deadbeef")
    assert response.status_code == 400
    assert selectors.balance(user) == 0
    assert not StripeEvent.objects.exists()
    assert not Payment.objects.exists()


def test_webhooks_are_refused_when_no_secret_is_configured(
    payments: StripeStandIn, web: Client, settings: Any
) -> None:
    user = user_with(0)
    completed = events.completed_session(_checkout(payments, user))
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert events.post(web, completed).status_code == 400
    assert selectors.balance(user) == 0


def test_an_event_for_an_unknown_account_is_not_recorded_so_stripe_retries(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    session = _checkout(payments, user)
    orphan = events.completed_session(
        session, client_reference_id="999999", metadata={"user_id": "999999", "credits": "100"}
    )
    assert events.post(web, orphan).status_code == 500
    assert not StripeEvent.objects.exists()


def test_invoice_paid_grants_each_period_once_and_records_the_subscription(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    client.post("/pricing/subscribe/")
    customer = payments.checkout.sessions[-1]["params"]["customer"]
    first = events.invoice_paid(customer=customer, subscription="sub_test_1")
    assert events.post(web, first).status_code == 200
    assert events.post(web, first).json()["applied"] is False  # delivered twice
    assert selectors.balance(user) == 300
    subscription = Subscription.objects.get(user=user)
    assert (subscription.stripe_id, subscription.status) == ("sub_test_1", "active")
    assert subscription.current_period_end is not None
    assert plans.plan_for(user).name == "Pro"
    # The next month's invoice is a new period.
    events.post(web, events.invoice_paid(customer=customer, subscription="sub_test_1"))
    assert selectors.balance(user) == 600
    assert [e.note for e in selectors.history(user)] == ["Monthly plan", "Monthly plan"]
    page = client.get("/account/").content.decode()
    assert "Manage subscription" in page and "monthly plan" in page
    assert_consistent(user)


def test_subscription_changes_follow_stripe_state_from_localstripe(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    client.post("/pricing/subscribe/")
    customer = payments.checkout.sessions[-1]["params"]["customer"]
    stripe_api = payments.client()
    # A real subscription on localstripe (a trial: the customer has no card).
    plan = stripe_api.v1.plans.create(
        params={"amount": 900, "currency": "eur", "interval": "month", "product": {"name": "Pro"}}
    )
    subscription = stripe_api.v1.subscriptions.create(
        params={"customer": customer, "items": [{"plan": plan.id}], "trial_period_days": 7}
    )
    assert subscription.status != "past_due"
    updated = events.event(
        "customer.subscription.updated",
        {"id": subscription.id, "customer": customer, "status": "past_due"},
    )
    assert events.post(web, updated).status_code == 200
    # The handler read the subscription back from Stripe: the event's copy may be stale.
    assert Subscription.objects.get(stripe_id=subscription.id).status == subscription.status
    stripe_api.v1.subscriptions.cancel(subscription.id)
    deleted = events.event(
        "customer.subscription.deleted",
        {"id": subscription.id, "customer": customer, "status": "canceled"},
    )
    assert events.post(web, deleted).status_code == 200
    assert Subscription.objects.get(stripe_id=subscription.id).status == "canceled"
    assert selectors.active_subscription(user) is None


def test_a_partial_then_full_refund_takes_the_credits_back_in_proportion(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    intent = _bought(payments, web, user)["data"]["object"]["payment_intent"]
    half = events.charge_refunded(payment_intent=intent, amount=500, refunded=250)
    assert events.post(web, half).status_code == 200
    assert selectors.balance(user) == 50
    assert events.post(web, half).json()["applied"] is False
    whole = events.charge_refunded(payment_intent=intent, amount=500, refunded=500)
    events.post(web, whole)
    assert selectors.balance(user) == 0
    refunds = CreditEntry.objects.filter(account__user=user, kind=CreditEntry.Kind.REFUND)
    assert sorted(e.amount for e in refunds) == [-50, -50]
    assert Payment.objects.get(user=user).clawed_back == 100
    assert_consistent(user)


def test_a_dispute_claws_back_what_is_left_and_marks_credits_already_spent_as_owed(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    intent = _bought(payments, web, user)["data"]["object"]["payment_intent"]
    job = submit(user, duration=80 * 60.0)  # 80 credits reserved...
    billing.charge(job)  # ...and spent
    assert selectors.balance(user) == 20
    assert (
        events.post(web, events.dispute_created(payment_intent=intent, amount=500)).status_code
        == 200
    )
    # Never below zero: the 20 left are taken, the 80 spent are owed and Pro is paused.
    assert selectors.balance(user) == 0
    assert selectors.owed(user) == 80
    [clawback] = CreditEntry.objects.filter(account__user=user, kind=CreditEntry.Kind.CLAWBACK)
    assert clawback.amount == -20 and "80 already spent" in clawback.note
    assert plans.plan_for(user).name == "Free"
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    assert "took back 80 credits" in client.get("/account/").content.decode()
    # A later refund of the same payment has nothing more to take.
    events.post(web, events.charge_refunded(payment_intent=intent, amount=500, refunded=500))
    assert selectors.balance(user) == 0 and selectors.owed(user) == 80
    # The next purchase settles what is owed first.
    _bought(payments, web, user)
    assert selectors.balance(user) == 20
    assert selectors.owed(user) == 0
    assert plans.plan_for(user).name == "Pro"
    assert_consistent(user)


def test_a_refund_of_a_charge_we_do_not_know_changes_nothing(
    web: Client, payments: StripeStandIn
) -> None:
    user = user_with(10)
    response = events.post(
        web, events.charge_refunded(payment_intent="pi_unknown", amount=500, refunded=500)
    )
    assert response.status_code == 200
    assert selectors.balance(user) == 10


def test_an_active_plan_alone_makes_pro_until_it_is_cancelled(
    payments: StripeStandIn, web: Client
) -> None:
    user = user_with(0)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    client.post("/pricing/subscribe/")
    customer = payments.checkout.sessions[-1]["params"]["customer"]
    # A trial's first invoice pays nothing: no credits, but the plan runs.
    trial = events.invoice_paid(customer=customer, subscription="sub_trial", amount=0)
    assert events.post(web, trial).status_code == 200
    assert selectors.balance(user) == 0
    assert plans.plan_for(user).name == "Pro"
    assert "Next credits" in client.get("/account/").content.decode()
    ended = events.event(
        "customer.subscription.deleted",
        {"id": "sub_trial", "customer": customer, "status": "canceled"},
    )
    assert events.post(web, ended).status_code == 200  # gone from Stripe: the event's word
    assert Subscription.objects.get(stripe_id="sub_trial").status == "canceled"
    assert plans.plan_for(user).name == "Free"
