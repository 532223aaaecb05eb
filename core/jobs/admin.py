"""Admin views of sources, separations, jobs and links: states, durations and errors at a glance.

Every field is shown read-only: states change only through the actions, which call the services.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_base import ServiceStateAdmin, report
from core.jobs import services
from core.jobs.media import ErrorCode
from core.jobs.models import AudioSource, Block, Job, LinkImport, RemoteMedia, Separation

STOPPED_MESSAGE = "The operators stopped this separation. Nothing was charged."
LINK_STOPPED_MESSAGE = (
    "The operators stopped this link before its audio came in. Nothing was charged."
)


@admin.register(AudioSource)
class AudioSourceAdmin(ServiceStateAdmin):
    list_display = ("original_name", "sha256", "duration", "size", "created_at")
    search_fields = ("original_name", "sha256")


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    fields = ("original_name", "brand", "origin", "stem", "format", "status", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Refuse: jobs come from the submissions."""
        return False


@admin.register(Separation)
class SeparationAdmin(ServiceStateAdmin):
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
    inlines = [JobInline]
    actions = ["expire_now", "stop"]

    @admin.display(description="took (s)")
    def took(self, obj: Separation) -> str:
        seconds = obj.duration_seconds
        return f"{seconds:.1f}" if seconds is not None else "-"

    @admin.action(
        description="Expire the selected separations whose retention is over",
        permissions=["operate"],
    )
    def expire_now(self, request: HttpRequest, queryset: QuerySet[Separation]) -> None:
        """Expire now what the retention sweep would expire on its next run."""
        report(
            self,
            request,
            (services.expire_separation(pk) for pk in queryset.values_list("pk", flat=True)),
            noun="separation",
            did="expired",
            why="not finished, or their retention is not over",
        )

    @admin.action(
        description="Fail the selected queued or running separations", permissions=["operate"]
    )
    def stop(self, request: HttpRequest, queryset: QuerySet[Separation]) -> None:
        """Fail them and their jobs (the credits go back); a running worker stops at once."""
        report(
            self,
            request,
            (
                services.fail_separation(pk, code=ErrorCode.CANCELLED, message=STOPPED_MESSAGE)
                for pk in queryset.values_list("pk", flat=True)
            ),
            noun="separation",
            did="failed",
            why="not queued or running",
        )


@admin.register(Job)
class JobAdmin(ServiceStateAdmin):
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
    actions = ["cancel"]

    @admin.action(description="Cancel the selected jobs", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        """Cancel each active job as its owner would: its reserved credits go back."""
        report(
            self,
            request,
            (services.cancel_job(pk) for pk in queryset.values_list("pk", flat=True)),
            noun="job",
            did="cancelled",
            why="not queued or running",
        )

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        """Delete through the service, so the files go with the last job of a separation."""
        services.delete_job(obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        """Delete each job through the service (see delete_model)."""
        for pk in list(queryset.values_list("pk", flat=True)):
            services.delete_job(pk)


@admin.register(RemoteMedia)
class RemoteMediaAdmin(ServiceStateAdmin):
    list_display = (
        "extractor",
        "media_id",
        "title",
        "artist",
        "fetches",
        "fetched_at",
        "error_code",
        "lease_until",
    )
    list_filter = ("extractor", "error_code")
    search_fields = ("media_id", "url", "title", "artist")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Refuse: its links and the shared download hang on it."""
        return False


@admin.register(LinkImport)
class LinkImportAdmin(ServiceStateAdmin):
    list_display = ("url", "brand", "stem", "status", "error_code", "owner", "created_at")
    list_filter = ("status", "brand", "error_code")
    search_fields = ("url", "error_message", "id")
    actions = ["stop"]

    @admin.action(description="Fail the selected queued links", permissions=["operate"])
    def stop(self, request: HttpRequest, queryset: QuerySet[LinkImport]) -> None:
        """Fail links still waiting for a worker; fetching ones are left to their worker.

        A worker that is fetching one would still make its job, which no link would then name.
        """
        report(
            self,
            request,
            (
                status == LinkImport.Status.QUEUED
                and services.fail_link(pk, code="cancelled", message=LINK_STOPPED_MESSAGE)
                for pk, status in queryset.values_list("pk", "status")
            ),
            noun="link",
            did="failed",
            why="not queued",
        )

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Refuse: the API's record and the visitor's page follow the link."""
        return False


@admin.register(Block)
class BlockAdmin(ServiceStateAdmin):
    list_display = ("__str__", "sha256", "extractor", "media_id", "reason", "created_at")
    list_filter = ("extractor",)
    search_fields = ("sha256", "media_id", "reason")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Refuse: a block is lifted only on purpose, by the legal team in the shell."""
        return False
