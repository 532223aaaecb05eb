"""The account page's API section, rendered from core.api so the account app need not know it."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.auth.models import User

from core.api import callbacks
from core.api.models import APIKey
from core.billing import plans

register = template.Library()


@register.inclusion_tag("api/account_section.html", takes_context=True)
def api_keys_section(context: dict[str, Any]) -> dict[str, Any]:
    """Return the keys, the webhook secret and whether the plan includes the API."""
    request = context["request"]
    user = request.user
    assert isinstance(user, User)
    plan = plans.plan_for(user)
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "keys": APIKey.objects.filter(user=user).order_by("revoked", "-created"),
        "webhook_secret": callbacks.secret_for(user.pk),
        "plan": plan,
        "paid_plan": plans.paid_plan(),
    }
