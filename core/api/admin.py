"""Admin: API keys (revocable, never shown), API jobs and their callbacks, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from core.admin_base import report
from core.api import services
from core.api.models import ApiJob, APIKey


@admin.register(APIKey)
class UserAPIKeyAdmin(APIKeyModelAdmin):
    """Keys with their owners; an operator can revoke one."""

    list_display = ("prefix", "name", "user", "created", "last_used_at", "revoked")
    raw_id_fields = ("user",)
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        """Keep a key's owner, use and revocation to the services; name and expiry stay."""
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        return tuple(dict.fromkeys((*fields, "user", "revoked", "last_used_at")))

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        """Revoke each key for good, as its owner would on the keys page."""
        report(
            self,
            request,
            (services.revoke_key(key.user, key.pk) for key in queryset.select_related("user")),
            noun="key",
            did="revoked",
            why="revoked already",
        )


@admin.register(ApiJob)
class ApiJobAdmin(admin.ModelAdmin):
    """What API clients asked for and how their callbacks went."""

    list_display = ("id", "user", "job", "link", "stem", "format", "callback_status", "created_at")
    list_filter = ("callback_status", "stem", "format")
    search_fields = ("id", "user__email", "idempotency_key")
    readonly_fields = [f.name for f in ApiJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Refuse: API jobs come from the API."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Refuse: the record is read-only."""
        return False
