"""What is for sale: credit packs and the monthly plan, read from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class CreditPack:
    """A one-time purchase of credits."""

    code: str
    credits: int
    price: int  # in the currency's smallest unit (cents)
    currency: str

    @property
    def name(self) -> str:
        """Return the pack's name as the pricing page and Stripe's checkout show it."""
        return f"{self.credits} credits"


@dataclass(frozen=True)
class MonthlyPlan:
    """The subscription: a Stripe price that grants credits each paid period."""

    price_id: str
    credits: int
    price: int
    currency: str


def _parse_pack(raw: str, currency: str) -> CreditPack:
    credits, sep, price = raw.partition(":")
    try:
        pack = CreditPack(
            code=credits.strip(), credits=int(credits), price=int(price), currency=currency
        )
    except ValueError:
        pack = None
    if not sep or pack is None or pack.credits <= 0 or pack.price <= 0:
        raise ImproperlyConfigured(
            f"STRIPE_CREDIT_PACKS: {raw!r} is not 'credits:price in cents' (e.g. 100:500)"
        )
    return pack


def packs() -> list[CreditPack]:
    """Return the credit packs on sale, smallest first."""
    currency = settings.STRIPE_CURRENCY
    found = [_parse_pack(raw, currency) for raw in settings.STRIPE_CREDIT_PACKS]
    return sorted(found, key=lambda pack: pack.credits)


def pack(code: str) -> CreditPack | None:
    """Return the pack with this code (its number of credits), or None."""
    return next((p for p in packs() if p.code == code), None)


def monthly_plan() -> MonthlyPlan | None:
    """Return the monthly plan, or None when no Stripe price is configured."""
    if not settings.STRIPE_SUBSCRIPTION_PRICE_ID:
        return None
    return MonthlyPlan(
        price_id=settings.STRIPE_SUBSCRIPTION_PRICE_ID,
        credits=settings.SUBSCRIPTION_CREDITS,
        price=settings.SUBSCRIPTION_PRICE_CENTS,
        currency=settings.STRIPE_CURRENCY,
    )


def payments_enabled() -> bool:
    """Say whether payments are on: both the secret key and the webhook secret are set."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


def money(amount: int, currency: str) -> str:
    """Return a price as people read it: 5 EUR, 9.90 EUR."""
    whole, cents = divmod(amount, 100)
    value = f"{whole}" if not cents else f"{whole}.{cents:02d}"
    return f"{value} {currency.upper()}"
