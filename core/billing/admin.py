"""Admin views of the ledger: read-only, since credits move only through the services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.billing.models import CreditAccount, CreditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Show rows without letting anyone add, change or delete them by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ("user", "balance", "reserved", "updated_at")
    search_fields = ("user__email",)


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "kind", "amount", "reserved_change", "balance_after")
    list_filter = ("kind",)
    search_fields = ("account__user__email", "idempotency_key", "payment_reference")
    raw_id_fields = ("account", "job")
