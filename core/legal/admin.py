"""Takedown notices in the admin: read-only; acting on one goes through core.legal.services."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_base import ServiceStateAdmin, report
from core.legal import services
from core.legal.models import TakedownNotice


@admin.register(TakedownNotice)
class TakedownNoticeAdmin(ServiceStateAdmin):
    list_display = ("received_at", "name", "email", "location", "brand", "status", "acted_at")
    list_filter = ("status", "brand")
    search_fields = ("name", "email", "location", "work")
    actions = ["remove_and_block", "reject"]

    @admin.action(
        description="Remove the audio everywhere and block it (tells the sender)",
        permissions=["operate"],
    )
    def remove_and_block(self, request: HttpRequest, queryset: QuerySet[TakedownNotice]) -> None:
        """Act on the notices: files deleted on both sites, the hash and the video blocked."""
        report(
            self,
            request,
            (services.act_on_notice(pk) for pk in queryset.values_list("pk", flat=True)),
            noun="notice",
            did="acted upon",
            why="not open",
        )

    @admin.action(description="Reject the selected notices", permissions=["operate"])
    def reject(self, request: HttpRequest, queryset: QuerySet[TakedownNotice]) -> None:
        """Close notices without removing anything."""
        why = f"Rejected in the admin by {request.user.get_username()}."
        report(
            self,
            request,
            (
                services.reject_notice(pk, reason=why)
                for pk in queryset.values_list("pk", flat=True)
            ),
            noun="notice",
            did="rejected",
            why="not open",
        )
