"""Admin: API keys (revocable, never shown), API jobs and their callbacks, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from core.api.models import ApiJob, APIKey


@admin.register(APIKey)
class UserAPIKeyAdmin(APIKeyModelAdmin):
    """Keys with their owners; an operator can revoke one."""

    list_display = ("prefix", "name", "user", "created", "last_used_at", "revoked")
    raw_id_fields = ("user",)


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
