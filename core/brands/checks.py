"""System checks: the brand settings name brands that exist, with distinct domains."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from core.brands import registry


@register()
def check_brands(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report a LOCALHOST_BRAND without a brand and brands sharing a domain."""
    errors: list[CheckMessage] = []
    brands = registry.all_brands()
    if registry.get(settings.LOCALHOST_BRAND) is None:
        errors.append(
            Error(
                f"LOCALHOST_BRAND={settings.LOCALHOST_BRAND!r} is not a registered brand.",
                hint="Use one of: " + ", ".join(b.slug for b in brands),
                id="brands.E001",
            )
        )
    seen: dict[str, str] = {}
    for brand in brands:
        for host in brand.hosts():
            if host in seen:
                errors.append(
                    Error(
                        f"Brands {seen[host]!r} and {brand.slug!r} both claim the host {host!r}.",
                        id="brands.E002",
                    )
                )
            seen[host] = brand.slug
    return errors
