"""allauth's hooks: mails carry the brand of the site the visitor is on."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context

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
