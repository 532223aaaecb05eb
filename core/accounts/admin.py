"""Admin view of the mailboxes that earned the sign-up grant: the service's record, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.accounts.models import SignupGrant


@admin.register(SignupGrant)
class SignupGrantAdmin(admin.ModelAdmin):
    list_display = ("canonical_email", "user", "created_at")
    search_fields = ("canonical_email", "user__email")

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Refuse: a grant is recorded with its credits (core.accounts.services)."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Refuse: another address or user would move the grant without its credits."""
        return False
