"""Stripe's stand-ins for the payment tests, and the settings that point the project at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from tests.core.billing import stripe_servers
from tests.core.billing.stripe_servers import StripeStandIn


@pytest.fixture(scope="session")
def stripe_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeStandIn]:
    """localstripe and the Checkout server, started once for the session."""
    yield from stripe_servers.start(tmp_path_factory.mktemp("localstripe"))


@pytest.fixture
def payments(settings: Settings, stripe_standin: StripeStandIn) -> StripeStandIn:
    """Turn payments on, against the local servers, with fresh records."""
    settings.STRIPE_SECRET_KEY = stripe_servers.SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = stripe_servers.WEBHOOK_SECRET
    settings.STRIPE_API_BASE = stripe_standin.base
    settings.STRIPE_CREDIT_PACKS = ["100:500", "500:2000"]
    settings.STRIPE_CURRENCY = "eur"
    settings.STRIPE_SUBSCRIPTION_PRICE_ID = stripe_servers.PRICE_ID
    settings.SUBSCRIPTION_CREDITS = 300
    settings.SUBSCRIPTION_PRICE_CENTS = 900
    stripe_standin.checkout.sessions.clear()
    stripe_standin.checkout.requests.clear()
    stripe_standin.checkout.portal_sessions.clear()
    return stripe_standin
