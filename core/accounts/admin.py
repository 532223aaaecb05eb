"""Admin view of the mailboxes that earned the sign-up grant."""

from __future__ import annotations

from django.contrib import admin

from core.accounts.models import SignupGrant


@admin.register(SignupGrant)
class SignupGrantAdmin(admin.ModelAdmin):
    list_display = ("canonical_email", "user", "created_at")
    search_fields = ("canonical_email", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)
