"""Admin views of the ledger: read-only, since credits move only through the services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.billing.models import (
    CreditAccount,
    CreditEntry,
    Payment,
    StripeCustomer,
    StripeEvent,
    Subscription,
)


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
    list_display = ("user", "balance", "reserved", "owed", "updated_at")
    search_fields = ("user__email",)


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "kind", "amount", "reserved_change", "balance_after")
    list_filter = ("kind",)
    search_fields = ("account__user__email", "idempotency_key", "payment_reference")
    raw_id_fields = ("account", "job")


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "type", "event_id", "outcome")
    list_filter = ("type",)
    search_fields = ("event_id",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "kind", "amount", "currency", "credits", "clawed_back")
    list_filter = ("kind",)
    search_fields = ("user__email", "stripe_id", "payment_intent", "charge")
    raw_id_fields = ("user",)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "stripe_id", "status", "current_period_end", "updated_at")
    list_filter = ("status",)
    search_fields = ("user__email", "stripe_id", "customer")
    raw_id_fields = ("user",)


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ("user", "customer", "created_at")
    search_fields = ("user__email", "customer")
    raw_id_fields = ("user",)
