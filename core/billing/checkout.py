"""Outgoing calls to Stripe: Checkout Sessions for packs and the plan, customers, the portal."""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from core.billing.catalog import CreditPack, MonthlyPlan
from core.billing.models import StripeCustomer

logger = logging.getLogger(__name__)


class PaymentsUnavailable(Exception):
    """Stripe could not be reached or refused the request; nothing was bought."""


def client() -> stripe.StripeClient:
    """Return a Stripe client for the configured key and API address."""
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=2,
    )


def _identity(user: User) -> dict[str, str]:
    # Set by us and never shown to the payer: the webhook trusts it to find the account.
    return {"user_id": str(user.pk)}


def pack_checkout(user: User, pack: CreditPack, *, success_url: str, cancel_url: str) -> str:
    """Open a Checkout Session that sells one credit pack; return the address to pay at."""
    metadata = {**_identity(user), "pack": pack.code, "credits": str(pack.credits)}
    params: dict[str, Any] = {
        "mode": "payment",
        "client_reference_id": str(user.pk),
        "customer_email": user.email,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": pack.currency,
                    "unit_amount": pack.price,
                    "product_data": {"name": pack.name},
                },
            }
        ],
        "metadata": metadata,
        # Copied onto the payment, so a refund or a dispute can be traced without the session.
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    return _create_session(params)


def customer_for(user: User) -> str:
    """Return the user's Stripe customer id, creating the customer the first time."""
    existing = StripeCustomer.objects.filter(user=user).values_list("customer", flat=True).first()
    if existing:
        return existing
    try:
        customer = client().v1.customers.create(
            params={"email": user.email, "metadata": _identity(user)}
        )
    except stripe.StripeError as exc:
        logger.error("Stripe refused to create a customer for user %s: %s", user.pk, exc)
        raise PaymentsUnavailable(str(exc)) from exc
    try:
        with transaction.atomic():
            StripeCustomer.objects.create(user=user, customer=customer.id)
    except IntegrityError:
        # A second tab subscribed at the same moment: keep the customer stored first.
        return StripeCustomer.objects.get(user=user).customer
    return customer.id


def subscription_checkout(
    user: User, plan: MonthlyPlan, *, success_url: str, cancel_url: str
) -> str:
    """Open a Checkout Session that starts the monthly plan; return the address to pay at."""
    params: dict[str, Any] = {
        "mode": "subscription",
        "client_reference_id": str(user.pk),
        "customer": customer_for(user),
        "line_items": [{"price": plan.price_id, "quantity": 1}],
        "metadata": _identity(user),
        "subscription_data": {"metadata": _identity(user)},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    return _create_session(params)


def _create_session(params: dict[str, Any]) -> str:
    try:
        session = client().v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        logger.error("Stripe refused a Checkout Session (%s): %s", params["mode"], exc)
        raise PaymentsUnavailable(str(exc)) from exc
    if not session.url:
        raise PaymentsUnavailable("Stripe returned a Checkout Session without an address")
    logger.info(
        "checkout session %s (%s) for user %s",
        session.id,
        params["mode"],
        params["client_reference_id"],
    )
    return session.url


def portal_url(user: User, *, return_url: str) -> str:
    """Return an address of Stripe's billing portal, where the user manages the plan."""
    customer = StripeCustomer.objects.filter(user=user).values_list("customer", flat=True).first()
    if not customer:
        raise PaymentsUnavailable("this account has no Stripe customer")
    try:
        session = client().v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": return_url}
        )
    except stripe.StripeError as exc:
        logger.error("Stripe refused a billing portal session for %s: %s", user.pk, exc)
        raise PaymentsUnavailable(str(exc)) from exc
    return session.url


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    """Return a subscription's current state from Stripe, as a plain dict."""
    subscription = client().v1.subscriptions.retrieve(subscription_id)
    return subscription.to_dict()
