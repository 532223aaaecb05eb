"""Pricing and Checkout: the real SDK against the local Checkout server and localstripe."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from core.billing.models import StripeCustomer
from tests.core.billing.helpers import user_with
from tests.core.billing.stripe_servers import PRICE_ID, SECRET_KEY, StripeStandIn

pytestmark = pytest.mark.django_db

VR_HOST = "vocals-remover.localhost:8000"
AE_HOST = "acapella-extractor.localhost:8000"


def _signed_in(user: User, host: str = VR_HOST) -> Client:
    client = Client(HTTP_HOST=host)
    client.force_login(user)
    return client


def test_without_keys_the_pricing_page_says_payments_are_off(settings: Settings) -> None:
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    for host in (VR_HOST, AE_HOST):
        page = Client(HTTP_HOST=host).get("/pricing/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "Payments are off" in html
        assert "100 credits" in html  # the packs are listed, without buttons
        assert "/pricing/packs/" not in html
        # No program and no inline style: JSON-LD is data for search engines, never run.
        code = re.sub(r'<script type="application/ld\+json">.*?</script>', "", html, flags=re.S)
        assert "<script" not in code and "style=" not in html


def test_without_keys_buying_is_refused_and_the_account_page_says_so(settings: Settings) -> None:
    settings.STRIPE_SECRET_KEY = ""
    client = _signed_in(user_with(5))
    assert client.post("/pricing/packs/100/").status_code == 503
    page = client.get("/account/").content.decode()
    assert "Payments are off" in page
    assert "Buy credits" not in page


def test_the_pricing_page_lists_packs_the_plan_and_what_paying_unlocks(
    payments: StripeStandIn,
) -> None:
    html = Client(HTTP_HOST=AE_HOST).get("/pricing/").content.decode()
    assert "100 credits" in html and "5 EUR" in html
    assert "500 credits" in html and "20 EUR" in html
    assert "300 credits every month" in html and "9 EUR / month" in html
    for unlocked in ("up to 60 minutes", "MP3, WAV and FLAC", "priority", "7 days", "API"):
        assert unlocked in html
    assert 'action="/pricing/packs/100/"' in html
    assert "Acapella Extractor" in html  # the page carries the host's brand


def test_buying_a_pack_opens_a_checkout_session_for_the_user_and_pack(
    payments: StripeStandIn,
) -> None:
    user = user_with(0, email="buyer@example.com")
    response = _signed_in(user, AE_HOST).post("/pricing/packs/500/")
    assert response.status_code == 303
    [recorded] = payments.checkout.sessions
    session, params = recorded["session"], recorded["params"]
    assert response["Location"] == session["url"]
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == str(user.pk)
    assert params["metadata"] == {"user_id": str(user.pk), "pack": "500", "credits": "500"}
    assert params["payment_intent_data"]["metadata"]["user_id"] == str(user.pk)
    assert params["customer_email"] == "buyer@example.com"
    [item] = params["line_items"]
    assert item["quantity"] == "1"
    assert item["price_data"]["currency"] == "eur"
    assert item["price_data"]["unit_amount"] == "2000"
    assert item["price_data"]["product_data"]["name"] == "500 credits"
    # Back to the host the visitor paid from.
    assert params["success_url"] == f"http://{AE_HOST}/pricing/thanks/"
    assert params["cancel_url"] == f"http://{AE_HOST}/pricing/?cancelled=1"
    assert ("POST", "/v1/checkout/sessions", f"Bearer {SECRET_KEY}") in payments.checkout.requests


def test_an_unknown_pack_or_an_anonymous_buyer_opens_no_session(payments: StripeStandIn) -> None:
    assert _signed_in(user_with(0)).post("/pricing/packs/7/").status_code == 404
    anonymous = Client(HTTP_HOST=VR_HOST).post("/pricing/packs/100/")
    assert anonymous.status_code == 303
    assert anonymous["Location"].startswith("/account/login/?next=")
    assert payments.checkout.sessions == []


def test_subscribing_creates_a_customer_in_stripe_and_a_subscription_session(
    payments: StripeStandIn,
) -> None:
    user = user_with(0, email="monthly@example.com")
    client = _signed_in(user)
    response = client.post("/pricing/subscribe/")
    assert response.status_code == 303
    customer_id = StripeCustomer.objects.get(user=user).customer
    # The customer is real on localstripe, with our metadata.
    customer = payments.client().v1.customers.retrieve(customer_id)
    assert customer.email == "monthly@example.com"
    assert customer.to_dict()["metadata"] == {"user_id": str(user.pk)}
    [recorded] = payments.checkout.sessions
    params = recorded["params"]
    assert params["mode"] == "subscription"
    assert params["customer"] == customer_id
    assert params["line_items"] == [{"price": PRICE_ID, "quantity": "1"}]
    assert params["subscription_data"]["metadata"] == {"user_id": str(user.pk)}
    assert response["Location"] == recorded["session"]["url"]
    # A second attempt reuses the customer.
    client.post("/pricing/subscribe/")
    assert StripeCustomer.objects.filter(user=user).count() == 1
    assert payments.checkout.sessions[1]["params"]["customer"] == customer_id


def test_stripe_refusing_the_session_is_a_clear_503(
    payments: StripeStandIn, settings: Settings
) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"
    response = _signed_in(user_with(0)).post("/pricing/packs/100/")
    assert response.status_code == 503
    assert "Nothing was charged" in response.content.decode()


def test_a_subscriber_manages_the_plan_in_stripes_billing_portal(
    payments: StripeStandIn,
) -> None:
    user = user_with(0)
    client = _signed_in(user, AE_HOST)
    assert client.post("/pricing/manage/").status_code == 404  # no plan yet
    client.post("/pricing/subscribe/")
    response = client.post("/pricing/manage/")
    assert response.status_code == 303
    [recorded] = payments.checkout.portal_sessions
    assert response["Location"] == recorded["session"]["url"]
    assert recorded["params"] == {
        "customer": StripeCustomer.objects.get(user=user).customer,
        "return_url": f"http://{AE_HOST}/account/",
    }
