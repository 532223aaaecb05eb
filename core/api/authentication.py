"""`Authorization: Api-Key <key>`: the only way into the API (no session, no basic auth)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.api.models import APIKey

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by its API key, as the key's user; the key is `request.auth`."""

    def authenticate(self, request: Request) -> tuple[User, APIKey] | None:
        """Return (user, key); None without the header; 401 for a bad or revoked key."""
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != KEYWORD.lower() or not key or " " in key:
            raise exceptions.AuthenticationFailed(
                f"Send the key as 'Authorization: {KEYWORD} <key>'."
            )
        try:
            api_key = APIKey.objects.get_from_key(key)
        except APIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(
                "This API key is not valid or has been revoked."
            ) from None
        assert isinstance(api_key, APIKey)
        if api_key.has_expired or not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("This API key is no longer valid.")
        # At most once a minute: a busy key would otherwise write on every request.
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        """Name the scheme, so that a missing key is a 401, not a 403."""
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describe the key header in the OpenAPI schema."""

    target_class = "core.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        """Return the scheme: an `Authorization: Api-Key <key>` header."""
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"The word '{KEYWORD}', a space, then the key.",
        }
