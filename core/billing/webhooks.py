"""Incoming Stripe events: verified by signature, each applied at most once.

An event is recorded by its id (unique) in the same transaction as the credits it moves, so a
redelivered copy, or one delivered twice at the same moment, finds the row and changes nothing;
an event whose handling fails rolls back with its row, and Stripe's retry applies it again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q

from core.billing import checkout, services
from core.billing.models import CreditEntry, Payment, StripeCustomer, StripeEvent, Subscription

logger = logging.getLogger(__name__)

Obj = dict[str, Any]


class InvalidEvent(Exception):
    """The payload is not a Stripe event signed with our webhook secret (or is too old)."""


def verify(payload: bytes, signature: str | None) -> Obj:
    """Return the event if Stripe signed this payload recently with our secret."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise InvalidEvent("no webhook secret is configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as exc:
        raise InvalidEvent(f"bad signature: {exc.user_message or exc}") from exc
    except ValueError as exc:
        raise InvalidEvent("the payload is not JSON") from exc
    data: Obj = event.to_dict()
    if not data.get("id") or not data.get("type"):
        raise InvalidEvent("the payload is not an event")
    return data


def handle(event: Obj) -> StripeEvent | None:
    """Apply a verified event once; return its row, or None when it was applied before."""
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return None  # not an event we act on; nothing to remember either
    obj: Obj = event["data"]["object"]
    # Read from Stripe before the transaction: no network wait while holding row locks.
    fresh = _fresh_subscription(obj) if event["type"].startswith("customer.subscription.") else obj
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = StripeEvent.objects.create(event_id=event["id"], type=event["type"])
        except IntegrityError:
            logger.info("stripe event %s (%s) already applied", event["id"], event["type"])
            return None
        row.outcome = handler(event["id"], fresh)[:255]
        row.save(update_fields=["outcome"])
    logger.info("stripe event %s (%s): %s", row.event_id, row.type, row.outcome)
    return row


def _fresh_subscription(obj: Obj) -> Obj:
    """Return the subscription as Stripe has it now: events may arrive out of order."""
    try:
        return checkout.retrieve_subscription(obj["id"])
    except stripe.InvalidRequestError:
        return obj  # deleted and gone from the API: the event's copy is the last word


def _user(*, customer: str | None, metadata: Obj | None, reference: str | None = None) -> User:
    """Return the account a Stripe object belongs to, by our metadata or its customer."""
    candidates = [reference, (metadata or {}).get("user_id")]
    for candidate in candidates:
        if candidate and str(candidate).isdigit():
            user = User.objects.filter(pk=int(candidate)).first()
            if user is not None:
                return user
    if customer:
        known = StripeCustomer.objects.filter(customer=customer).select_related("user").first()
        if known is not None:
            return known.user
    # Raised inside the event's transaction: the row is rolled back and Stripe retries later.
    raise LookupError(f"no account for customer {customer!r} / metadata {metadata!r}")


def _timestamp(value: object) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if isinstance(value, int) else None


def _checkout_completed(event_id: str, session: Obj) -> str:
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "not paid yet"  # checkout.session.async_payment_succeeded follows
    metadata = session.get("metadata") or {}
    user = _user(
        customer=session.get("customer"),
        metadata=metadata,
        reference=session.get("client_reference_id"),
    )
    if session.get("mode") == "subscription":
        if session.get("customer"):
            StripeCustomer.objects.get_or_create(
                user=user, defaults={"customer": session["customer"]}
            )
        if session.get("subscription"):
            _store_subscription(user, session["subscription"], session.get("customer"), "active")
        return "subscription started (credits come with its invoices)"
    credits = int(metadata.get("credits") or 0)
    if credits <= 0:
        return "no credits in the session's metadata"
    payment, _ = Payment.objects.get_or_create(
        stripe_id=session["id"],
        defaults={
            "user": user,
            "kind": Payment.Kind.PACK,
            "payment_intent": session.get("payment_intent") or "",
            "amount": session.get("amount_total") or 0,
            "currency": session.get("currency") or settings.STRIPE_CURRENCY,
            "credits": credits,
        },
    )
    _, created = services.purchase(
        user,
        credits,
        key=f"purchase:{session['id']}",
        payment_reference=payment.payment_intent or session["id"],
        note=f"{credits}-credit pack",
    )
    return f"{credits} credits for user {user.pk}" if created else "purchase already credited"


def _invoice_subscription(invoice: Obj) -> str | None:
    # Older API versions name it at the top; newer ones under parent.subscription_details.
    if invoice.get("subscription"):
        return str(invoice["subscription"])
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return details.get("subscription")


def _invoice_metadata(invoice: Obj) -> Obj:
    details = invoice.get("subscription_details") or (invoice.get("parent") or {}).get(
        "subscription_details"
    )
    return (details or {}).get("metadata") or {}


def _invoice_paid(event_id: str, invoice: Obj) -> str:
    subscription_id = _invoice_subscription(invoice)
    if not subscription_id:
        return "not a subscription invoice"
    user = _user(customer=invoice.get("customer"), metadata=_invoice_metadata(invoice))
    lines = (invoice.get("lines") or {}).get("data") or [{}]
    period_end = _timestamp((lines[0].get("period") or {}).get("end"))
    _store_subscription(user, subscription_id, invoice.get("customer"), "active", period_end)
    if not invoice.get("amount_paid"):
        return "nothing paid (trial or credit balance)"
    credits = settings.SUBSCRIPTION_CREDITS
    Payment.objects.get_or_create(
        stripe_id=invoice["id"],
        defaults={
            "user": user,
            "kind": Payment.Kind.SUBSCRIPTION,
            "payment_intent": invoice.get("payment_intent") or "",
            "charge": invoice.get("charge") or "",
            "amount": invoice["amount_paid"],
            "currency": invoice.get("currency") or settings.STRIPE_CURRENCY,
            "credits": credits,
        },
    )
    _, created = services.purchase(
        user,
        credits,
        key=f"purchase:{invoice['id']}",
        payment_reference=invoice["id"],
        note="Monthly plan",
    )
    return f"{credits} credits for user {user.pk}" if created else "period already credited"


def _subscription_changed(event_id: str, subscription: Obj) -> str:
    user = _user(customer=subscription.get("customer"), metadata=subscription.get("metadata"))
    items = (subscription.get("items") or {}).get("data") or [{}]
    period_end = _timestamp(
        subscription.get("current_period_end") or items[0].get("current_period_end")
    )
    status = str(subscription.get("status") or "canceled")
    _store_subscription(user, subscription["id"], subscription.get("customer"), status, period_end)
    return f"subscription {subscription['id']} is {status}"


def _store_subscription(
    user: User,
    subscription_id: str,
    customer: str | None,
    status: str,
    period_end: datetime | None = None,
) -> None:
    defaults: dict[str, Any] = {"user": user, "customer": customer or "", "status": status}
    if period_end is not None:
        defaults["current_period_end"] = period_end
    Subscription.objects.update_or_create(stripe_id=subscription_id, defaults=defaults)


def _payment_for(
    *, charge: str | None, payment_intent: str | None, invoice: str | None
) -> Payment | None:
    """Return the payment a charge paid, locked, by whichever id the event carries."""
    match = Q(pk__in=[])
    if charge:
        match |= Q(charge=charge)
    if payment_intent:
        match |= Q(payment_intent=payment_intent)
    if invoice:
        match |= Q(stripe_id=invoice)
    return Payment.objects.select_for_update().filter(match).select_related("user").first()


def _take_back(
    event_id: str, payment: Payment, target: int, kind: CreditEntry.Kind, why: str
) -> str:
    """Bring the payment's clawed-back credits up to `target`, through the ledger."""
    target = min(target, payment.credits)
    more = target - payment.clawed_back
    if more <= 0:
        return f"nothing more to take back for {payment.stripe_id}"
    entry, _ = services.claw_back(
        payment.user,
        more,
        kind=kind,
        key=f"{kind.value}:{event_id}",
        payment_reference=payment.payment_intent or payment.stripe_id,
        note=why,
    )
    Payment.objects.filter(pk=payment.pk).update(clawed_back=target)
    return f"{more} credits taken back from user {payment.user_id} ({-entry.amount} from balance)"


def _charge_refunded(event_id: str, charge: Obj) -> str:
    payment = _payment_for(
        charge=charge.get("id"),
        payment_intent=charge.get("payment_intent"),
        invoice=charge.get("invoice"),
    )
    if payment is None:
        return "no payment of ours"
    amount = charge.get("amount") or payment.amount
    refunded = min(int(charge.get("amount_refunded") or 0), amount)
    # A partial refund takes back its share of the credits, rounded up; refunds add up.
    target = math.ceil(payment.credits * refunded / amount) if amount else payment.credits
    return _take_back(event_id, payment, target, CreditEntry.Kind.REFUND, "Refund")


def _dispute_created(event_id: str, dispute: Obj) -> str:
    payment = _payment_for(
        charge=dispute.get("charge"), payment_intent=dispute.get("payment_intent"), invoice=None
    )
    if payment is None:
        return "no payment of ours"
    return _take_back(event_id, payment, payment.credits, CreditEntry.Kind.CLAWBACK, "Dispute")


HANDLERS: dict[str, Callable[[str, Obj], str]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "invoice.paid": _invoice_paid,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
}
