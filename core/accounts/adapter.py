"""allauth's hooks: mails carry the brand of the site the visitor is on."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from django import forms
from django.http import HttpRequest, HttpResponse

from core.accounts.throttling import too_many_requests
from core.brands.registry import Brand


def _brand() -> Brand | None:
    return getattr(context.request, "brand", None)


class BrandAccountAdapter(DefaultAccountAdapter):
    """Name the request's brand in every mail: subject, greeting and signature."""

    def format_email_subject(self, subject: str) -> str:
        """Prefix the subject with the brand's name."""
        brand = _brand()
        return f"[{brand.name}] {subject}" if brand else super().format_email_subject(subject)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Render the mail with `brand`, and the brand as allauth's `current_site`."""
        brand = _brand()
        if brand is not None:
            context = {
                "brand": brand,
                "current_site": SimpleNamespace(name=brand.name, domain=brand.domain),
                **context,
            }
        super().send_mail(template_prefix, email, context)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """Count failures per account across both sites, not per host as allauth does."""
        login = credentials.get("email", credentials.get("username", ""))
        return str(login).strip().lower()

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """Refuse a throttled login with 429 (LoginThrottled), not a form error with 200."""
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError as exc:
            if exc.code == "too_many_login_attempts":
                raise LoginThrottled from exc
            raise


class LoginThrottled(Exception):
    """Too many failed logins for this account or from this address."""


class LoginThrottleMiddleware:
    """Turn LoginThrottled, raised inside allauth's login form, into the 429 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer 429 with Retry-After for a throttled login; leave other errors alone."""
        if isinstance(exception, LoginThrottled):
            return too_many_requests(request, exception)
        return None
