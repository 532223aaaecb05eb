"""Create and revoke API keys, and renew the webhook secret, from the account page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.api import services
from core.billing import plans


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@never_cache
@require_POST
@login_required
def create_key(request: HttpRequest) -> HttpResponse:
    """Create a key and show it this once (it is stored hashed and cannot be shown again)."""
    user = _user(request)
    api_key, key = services.create_key(user, request.POST.get("name", ""))
    context = {"api_key": api_key, "key": key, "plan": plans.plan_for(user)}
    return render(request, "api/key_created.html", context)


@require_POST
@login_required
def revoke_key(request: HttpRequest, key_id: str) -> HttpResponse:
    """Revoke one of the account's keys for good."""
    if services.revoke_key(_user(request), key_id):
        messages.success(request, "The API key is revoked; requests with it now get 401.")
    return redirect("accounts:overview")


@require_POST
@login_required
def rotate_secret(request: HttpRequest) -> HttpResponse:
    """Give the account a new webhook secret."""
    services.rotate_webhook_secret(_user(request))
    messages.success(request, "Callbacks are signed with the new webhook secret from now on.")
    return redirect("accounts:overview")
