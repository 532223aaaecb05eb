"""Stripe events built as Stripe sends them, signed with the SDK's own helper, and posted."""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

import stripe
from django.test import Client

from tests.core.billing.stripe_servers import WEBHOOK_SECRET

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

WEBHOOK_PATH = "/stripe/webhook/"


def event(type_: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """Return an event envelope around a Stripe object."""
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
        "data": {"object": obj},
    }


def signed(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Return the Stripe-Signature header Stripe would send for this body."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


def post(
    client: Client,
    body: dict[str, Any] | str,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> _MonkeyPatchedWSGIResponse:
    """POST an event to the real endpoint, signed unless a signature is given."""
    payload = body if isinstance(body, str) else json.dumps(body)
    header = (
        signature if signature is not None else signed(payload, secret=secret, timestamp=timestamp)
    )
    return client.post(
        WEBHOOK_PATH, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def completed_session(session: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Return a Checkout Session as Stripe sends it once paid (from the one it created)."""
    paid = {
        **session,
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": f"pi_{secrets.token_hex(12)}" if session["mode"] == "payment" else None,
        **changes,
    }
    return event("checkout.session.completed", paid)


def invoice_paid(
    *, customer: str, subscription: str, amount: int = 900, invoice_id: str | None = None
) -> dict[str, Any]:
    """Return invoice.paid for one period of a subscription (API 2025: parent details)."""
    now = int(time.time())
    return event(
        "invoice.paid",
        {
            "id": invoice_id or f"in_{secrets.token_hex(12)}",
            "object": "invoice",
            "customer": customer,
            "amount_paid": amount,
            "currency": "eur",
            "status": "paid",
            "billing_reason": "subscription_cycle",
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription, "metadata": {}},
            },
            "lines": {
                "object": "list",
                "data": [{"period": {"start": now, "end": now + 30 * 86400}}],
            },
        },
    )


def charge_refunded(
    *, payment_intent: str, amount: int, refunded: int, charge_id: str | None = None
) -> dict[str, Any]:
    """Return charge.refunded for a charge of `amount` cents, `refunded` of them so far."""
    return event(
        "charge.refunded",
        {
            "id": charge_id or f"ch_{secrets.token_hex(12)}",
            "object": "charge",
            "amount": amount,
            "amount_refunded": refunded,
            "currency": "eur",
            "payment_intent": payment_intent,
            "refunded": refunded >= amount,
        },
    )


def dispute_created(*, payment_intent: str, amount: int) -> dict[str, Any]:
    """Return charge.dispute.created for the charge of a payment intent."""
    return event(
        "charge.dispute.created",
        {
            "id": f"dp_{secrets.token_hex(12)}",
            "object": "dispute",
            "amount": amount,
            "charge": f"ch_{secrets.token_hex(12)}",
            "payment_intent": payment_intent,
            "reason": "fraudulent",
            "status": "needs_response",
        },
    )
