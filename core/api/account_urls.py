"""The account page's forms for API keys and the webhook secret, under /account/api-keys/."""

from __future__ import annotations

from django.urls import path

from core.api import account_views

app_name = "api_keys"

urlpatterns = [
    path("new", account_views.create_key, name="create"),
    path("<str:key_id>/revoke", account_views.revoke_key, name="revoke"),
    path("webhook-secret", account_views.rotate_secret, name="rotate_secret"),
]
