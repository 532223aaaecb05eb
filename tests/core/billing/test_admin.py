"""The admin shows the ledger and the sign-up grants, and lets nobody add or change a row."""

from __future__ import annotations

import pytest
from django.test import Client

from core.accounts.models import SignupGrant
from core.billing.models import CreditAccount, CreditEntry
from tests.core.billing.helpers import assert_consistent, user_with

pytestmark = pytest.mark.django_db


def test_ledger_rows_and_grants_are_shown_but_not_editable(admin_client: Client) -> None:
    admin_client.defaults["HTTP_HOST"] = "localhost"
    user = user_with(5)
    account = CreditAccount.objects.get(user=user)
    entry = CreditEntry.objects.get(account=account)
    grant = SignupGrant.objects.create(canonical_email="a@example.com", user=user)
    rows = {
        "billing/creditaccount": (account.pk, {"balance": "500", "reserved": "0"}),
        "billing/creditentry": (entry.pk, {"amount": "500", "balance_after": "500"}),
        "accounts/signupgrant": (grant.pk, {"canonical_email": "b@example.com"}),
    }
    for model, (pk, forged) in rows.items():
        url = f"/admin/{model}/{pk}/change/"
        page = admin_client.get(url)
        assert page.status_code == 200, model
        html = page.content.decode()
        assert 'class="readonly"' in html, model
        for field in forged:
            assert f'name="{field}"' not in html, (model, field)
        assert admin_client.post(url, forged).status_code == 403, model
        assert admin_client.get(f"/admin/{model}/add/").status_code == 403, model
    account.refresh_from_db()
    entry.refresh_from_db()
    grant.refresh_from_db()
    assert (account.balance, entry.amount, grant.canonical_email) == (5, 5, "a@example.com")
    assert_consistent(user)
