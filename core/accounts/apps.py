"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Configure the accounts app and connect its allauth signal receivers."""

    name = "core.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        """Give the sign-up credits when an address is confirmed."""
        from core.accounts import signals  # noqa: F401
