"""A real headless Chromium signs up, confirms by mail, buys a pack and separates a long song.

Stripe is stood in for by localstripe and the local Checkout server (tests/core/billing): the
browser is sent to the server's payment page, which returns it to the site as Stripe does once
paid; the test then delivers the signed checkout.session.completed webhook to the live server.
With STEMSPLIT_SCREENSHOTS=1 the pricing and account pages are saved to docs/screenshots/.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from pytest_django.fixtures import Settings

from core.billing import selectors
from core.jobs.models import Job
from tests.audio import make_song
from tests.browser.test_sites import (
    UNLABELLED,
    VIEWPORTS,
    _no_horizontal_scroll,
    _shot,
    _wait_for_result,
    browser,  # noqa: F401  (the module's Chromium, a fixture)
    site,  # noqa: F401  (the live server's port, a fixture)
)
from tests.conftest import WorkerProcess
from tests.core.billing import events, stripe_servers
from tests.core.billing.stripe_servers import StripeStandIn

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-Secret-42"


@pytest.fixture(scope="module")
def stripe_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeStandIn]:
    yield from stripe_servers.start(tmp_path_factory.mktemp("localstripe"))


@pytest.fixture
def payments(settings: Settings, stripe_standin: StripeStandIn) -> StripeStandIn:
    settings.STRIPE_SECRET_KEY = stripe_servers.SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = stripe_servers.WEBHOOK_SECRET
    settings.STRIPE_API_BASE = stripe_standin.base
    settings.STRIPE_CREDIT_PACKS = ["100:500", "500:2000", "1500:5000"]
    settings.STRIPE_SUBSCRIPTION_PRICE_ID = stripe_servers.PRICE_ID
    # The local payment page stands where Stripe's would: forms may lead there.
    settings.CSP_FORM_ACTION_SOURCES = [stripe_standin.base]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return stripe_standin


def _deliver(port: str, event: dict[str, Any]) -> int:
    """POST a signed event to the live server, as Stripe does."""
    payload = json.dumps(event)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/stripe/webhook/",
        data=payload.encode(),
        method="POST",
        headers={
            "Host": f"vocals-remover.localhost:{port}",
            "Content-Type": "application/json",
            "Stripe-Signature": events.signed(payload),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        status: int = response.status
        return status


def test_sign_up_buy_a_pack_and_separate_a_song_longer_than_the_free_limit(
    browser: Any,  # noqa: F811
    site: str,  # noqa: F811
    payments: StripeStandIn,
    celery_worker: WorkerProcess,
    tmp_path: Path,
    settings: Settings,
) -> None:
    base = f"http://vocals-remover.localhost:{site}"
    context = browser.new_context(**VIEWPORTS["desktop"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        # Sign up, then confirm the address from the captured mail.
        page.goto(f"{base}/account/signup/")
        page.locator("#id_email").fill("buyer@example.com")
        page.locator("#id_password1").fill(PASSWORD)
        page.locator("#id_password2").fill(PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/account/confirm-email/$"))
        [message] = mail.outbox
        link = re.search(r"http://\S+/account/confirm-email/\S+/", str(message.body))
        assert link, message.body
        page.goto(link.group(0))
        page.get_by_role("button", name="Confirm").click()
        page.goto(f"{base}/account/")
        assert page.locator(".account-balance").inner_text() == "30 credits"  # the grant
        assert page.locator(".account-plan").inner_text() == "Free"

        # The pricing page, then a pack through the (stand-in) Checkout.
        page.goto(f"{base}/pricing/")
        assert page.evaluate(UNLABELLED) == []
        _no_horizontal_scroll(page)
        _shot(page, "pricing-desktop", tmp_path, full_page=True)
        page.get_by_role("button", name=re.compile("Buy 100 credits")).click()
        page.wait_for_url(re.compile(r"/pricing/thanks/$"))
        [recorded] = payments.checkout.sessions
        session = recorded["session"]
        assert session["id"] in payments.checkout.paid
        user = User.objects.get(email="buyer@example.com")
        assert recorded["params"]["client_reference_id"] == str(user.pk)
        assert selectors.balance(user) == 30  # nothing before Stripe's webhook
        assert _deliver(site, events.completed_session(session)) == 200
        page.goto(f"{base}/account/")
        assert page.locator(".account-balance").inner_text() == "130 credits"
        assert page.locator(".account-plan").inner_text() == "Pro"

        # A song longer than the free limit, in FLAC: Pro allows both, on the priority queue.
        # The free limit is lowered to 5 s here, so that the real worker's song stays short.
        settings.ANON_MAX_DURATION = 5.0
        song = make_song(tmp_path / "Long Night.mp3", 8, seed=23)
        page.goto(f"{base}/")
        page.select_option("#id_format", "flac")
        page.get_by_label(re.compile("Drop a song here")).set_input_files(str(song))
        page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"), timeout=60_000)
        states, _values, _loads = _wait_for_result(page, timeout=300)
        assert states[-1] == "done", (states, celery_worker.log()[-3000:])
        job = Job.objects.select_related("separation__source").get(owner=user)
        assert job.format == "flac" and job.separation.priority
        assert job.separation.source.duration is not None and job.separation.source.duration > 5
        settings.ANON_MAX_DURATION = 300.0  # back to the default for the pictures
        page.goto(f"{base}/account/")
        assert page.locator(".account-balance").inner_text() == "129 credits"  # one charged
        _shot(page, "account-desktop", tmp_path, full_page=True)
        assert errors == []
        state = context.storage_state()
    finally:
        context.close()

    # The same pages on a phone, signed in with the same session.
    phone = browser.new_context(storage_state=state, **VIEWPORTS["phone"])
    try:
        page = phone.new_page()
        page.goto(f"{base}/pricing/")
        _no_horizontal_scroll(page)
        _shot(page, "pricing-phone", tmp_path, full_page=True)
        page.goto(f"{base}/account/")
        # The plan and balance card fits the screen (the API keys' section is checked apart).
        right = page.evaluate(
            "document.querySelector('.account-summary').getBoundingClientRect().right"
        )
        assert right <= page.viewport_size["width"]
        _shot(page, "account-phone", tmp_path, full_page=True)
    finally:
        phone.close()
