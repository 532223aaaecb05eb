"""Admin views of sources, separations and jobs: states, durations and errors at a glance."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.jobs import services
from core.jobs.models import AudioSource, Job, Separation


@admin.register(AudioSource)
class AudioSourceAdmin(admin.ModelAdmin):
    list_display = ("original_name", "sha256", "duration", "size", "created_at")
    search_fields = ("original_name", "sha256")
    readonly_fields = ("sha256", "size", "created_at")


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    fields = ("original_name", "brand", "origin", "stem", "format", "status", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Separation)
class SeparationAdmin(admin.ModelAdmin):
    list_display = (
        "source",
        "status",
        "progress",
        "priority",
        "attempts",
        "worker",
        "took",
        "error_code",
        "created_at",
    )
    list_filter = ("status", "priority", "engine_version")
    search_fields = ("source__original_name", "source__sha256", "error_message")
    readonly_fields = ("created_at", "started_at", "finished_at", "heartbeat_at")
    inlines = [JobInline]

    @admin.display(description="took (s)")
    def took(self, obj: Separation) -> str:
        seconds = obj.duration_seconds
        return f"{seconds:.1f}" if seconds is not None else "-"


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "original_name",
        "brand",
        "origin",
        "stem",
        "format",
        "status",
        "error_code",
        "owner",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "brand", "origin", "stem", "format")
    search_fields = ("original_name", "error_message", "id")
    readonly_fields = ("created_at", "finished_at")
    raw_id_fields = ("separation", "owner")

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        """Delete through the service, so the files go with the last job of a separation."""
        services.delete_job(obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        """Delete each job through the service (see delete_model)."""
        for pk in list(queryset.values_list("pk", flat=True)):
            services.delete_job(pk)
