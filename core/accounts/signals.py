"""Receivers of allauth's signals."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.dispatch import receiver
from django.http import HttpRequest

from core.accounts import services


@receiver(email_confirmed, dispatch_uid="accounts.grant_on_confirmation")
def grant_on_confirmation(
    sender: object, request: HttpRequest | None, email_address: EmailAddress, **kwargs: Any
) -> None:
    """Give the sign-up credits when a visitor confirms an address."""
    services.grant_signup_credits(email_address.user, email_address.email)
