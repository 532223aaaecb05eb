"""Who may use the API: an authenticated key of an account whose plan includes API access."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from core.api.errors import ApiError
from core.billing import plans


class HasApiAccess(permissions.BasePermission):
    """Let through keys of accounts on a plan with API access; name the plan that has it."""

    def has_permission(self, request: Request, view: Any) -> bool:
        """Refuse anonymous requests (401) and accounts without API access (403)."""
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            raise exceptions.NotAuthenticated(
                "Send an API key: 'Authorization: Api-Key <key>'. Create one on your account page."
            )
        plan = plans.plan_for(user)
        if not plan.api_access:
            paid = plans.paid_plan()
            raise ApiError(
                403,
                "plan_required",
                f"Your plan ({plan.name}) does not include API access; the {paid.name} plan does.",
                plan=plan.code,
                required_plan=paid.code,
            )
        request.plan = plan
        return True
