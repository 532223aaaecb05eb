"""Canonical addresses and disposable domains."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from core.accounts.emails import canonical_email, is_disposable


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("Alice@Example.com", "alice@example.com"),
        ("alice+promo@example.com", "alice@example.com"),
        ("alice+a+b@example.com.", "alice@example.com"),
        ("a.l.i.c.e@gmail.com", "alice@gmail.com"),
        ("A.lice+x@GoogleMail.com", "alice@gmail.com"),
        ("a.lice@example.com", "a.lice@example.com"),  # dots matter outside Gmail
    ],
)
def test_canonical_form(address: str, canonical: str) -> None:
    assert canonical_email(address) == canonical


def test_disposable_domains_and_their_subdomains(settings: Settings) -> None:
    assert is_disposable("x@mailinator.com")
    assert is_disposable("x@inbox.Mailinator.com")
    assert not is_disposable("x@notmailinator.com")
    assert not is_disposable("x@example.com")
    settings.DISPOSABLE_EMAIL_DOMAINS = ["throwaway.example"]
    assert is_disposable("x@throwaway.example")
