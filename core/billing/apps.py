"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Configure the billing app (the credit ledger)."""

    name = "core.billing"
    label = "billing"
    verbose_name = "Billing"
