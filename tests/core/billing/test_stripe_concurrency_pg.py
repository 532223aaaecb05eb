"""On a real PostgreSQL server: one Stripe event delivered many times at once is applied once.

Each thread posts the same signed event to the real endpoint from its own connection; the
event row's unique constraint, written in the same transaction as the credits, lets exactly
one of them through.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from core.billing import selectors
from core.billing.models import CreditEntry, Payment, StripeEvent
from tests import postgres
from tests.core.billing import events
from tests.core.billing.helpers import assert_consistent, race, user_with
from tests.core.billing.stripe_servers import StripeStandIn

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", postgres.ALIAS]),
    pytest.mark.timeout(300),
]

VR_HOST = "vocals-remover.localhost:8000"
PARALLEL = 20


@pytest.fixture(autouse=True)
def _on_postgres() -> Iterator[None]:
    with postgres.as_default():
        assert connection.vendor == "postgresql"
        yield


def _post_from_threads(event: dict[str, Any]) -> list[Any]:
    results, pids = race(PARALLEL, lambda i: events.post(Client(HTTP_HOST=VR_HOST), event))
    assert len(pids) == PARALLEL  # separate connections, each its own server process
    return [r.status_code if hasattr(r, "status_code") else r for r in results]


def test_one_checkout_event_delivered_twenty_times_at_once_credits_once(
    payments: StripeStandIn,
) -> None:
    user = user_with(0)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    client.post("/pricing/packs/100/")
    completed = events.completed_session(payments.checkout.sessions[-1]["session"])
    statuses = _post_from_threads(completed)
    assert statuses == [200] * PARALLEL
    assert selectors.balance(user) == 100
    assert StripeEvent.objects.filter(event_id=completed["id"]).count() == 1
    assert CreditEntry.objects.filter(kind="purchase").count() == 1
    assert Payment.objects.count() == 1
    assert_consistent(user)


def test_one_refund_delivered_twenty_times_at_once_is_taken_back_once(
    payments: StripeStandIn,
) -> None:
    user = user_with(0)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    client.post("/pricing/packs/500/")
    completed = events.completed_session(payments.checkout.sessions[-1]["session"])
    assert events.post(client, completed).status_code == 200
    intent = completed["data"]["object"]["payment_intent"]
    # Twenty different events for one refund of a fifth: the payment's count stops the rest.
    refunds = [
        events.charge_refunded(payment_intent=intent, amount=2000, refunded=400)
        for _ in range(PARALLEL)
    ]
    results, _ = race(PARALLEL, lambda i: events.post(Client(HTTP_HOST=VR_HOST), refunds[i]))
    assert [r.status_code for r in results] == [200] * PARALLEL  # type: ignore[union-attr]
    assert selectors.balance(user) == 400
    assert CreditEntry.objects.filter(kind="refund").count() == 1
    assert_consistent(user)
