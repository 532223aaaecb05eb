"""Admin of the bot: the catalogue, channels with their alerts, publications, the deny-list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from core.admin_base import ServiceStateAdmin, report
from youtube_bot import quota, services
from youtube_bot.models import Channel, DeniedSource, Publication, Song


class PublicationInline(admin.TabularInline):
    model = Publication
    extra = 0
    fields = ("channel", "status", "error_message", "parked_until", "video_id", "visits")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Refuse: publications come from queueing the song (services.queue_song)."""
        return False


class ChartRegionFilter(admin.SimpleListFilter):
    """Filter by the regions charts were read in (the plain field filter lists a blank one)."""

    title = "chart region"
    parameter_name = "chart_region"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """Offer each region a song was found in."""
        regions = Song.objects.exclude(chart_region="").values_list("chart_region", flat=True)
        return [(region, region) for region in sorted(set(regions))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Song]) -> QuerySet[Song]:
        """Keep the songs found in the chosen region."""
        return queryset.filter(chart_region=self.value()) if self.value() else queryset


@admin.register(Song)
class SongAdmin(admin.ModelAdmin):
    list_display = (
        "artist",
        "title",
        "origin",
        "chart_region",
        "chart_rank",
        "chart_date",
        "states",
        "created_at",
    )
    search_fields = ("artist", "title", "slug", "source_url", "source_video_id")
    list_filter = ("origin", ChartRegionFilter, "chart_date", "publications__status")
    prepopulated_fields = {"slug": ("artist", "title")}
    # Where the song came from is the importer's record, not something to edit.
    readonly_fields = (
        "origin",
        "source_video_id",
        "chart",
        "chart_region",
        "chart_rank",
        "chart_date",
    )
    inlines = [PublicationInline]

    @admin.display(description="Channels")
    def states(self, song: Song) -> str:
        """Show each channel's state, failures first so they stand out."""
        parts = [f"{p.channel.slug}: {p.status}" for p in song.publications.all()]
        return ", ".join(parts)

    def save_model(self, request: HttpRequest, obj: Song, form: object, change: bool) -> None:
        """Queue a new song on the channels, as the command and the playlist import do."""
        super().save_model(request, obj, form, change)
        if not change:
            services.queue_song(obj)


@admin.register(DeniedSource)
class DeniedSourceAdmin(admin.ModelAdmin):
    list_display = ("value", "kind", "note", "created_at")
    list_filter = ("kind",)
    search_fields = ("value", "note")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "title",
        "brand",
        "stem",
        "status",
        "alert",
        "quota_left",
        "authorized_at",
    )
    list_filter = ("status", "brand")
    # Set by the authorization, the pipeline and the quota: only slug, brand, stem, title,
    # playlist and budget are the operator's.
    readonly_fields = (
        "status",
        "youtube_channel_id",
        "authorized_at",
        "error",
        "error_at",
        "quota_day",
        "quota_used",
        "token",
    )
    actions = ["queue_catalogue", "block"]

    @admin.display(description="Alert")
    def alert(self, channel: Channel) -> str:
        """Show why the channel cannot upload, in red."""
        if channel.status == Channel.Status.ACTIVE:
            return ""
        reason = channel.error or "Run `manage.py youtube_authorize " + channel.slug + "`."
        return format_html('<strong style="color:#b91c1c">{}</strong>', reason)

    @admin.display(description="Units left today")
    def quota_left(self, channel: Channel) -> int:
        """Show what remains of today's API budget."""
        return quota.remaining(channel)

    @admin.display(description="Refresh token")
    def token(self, channel: Channel) -> str:
        """Say whether a token is stored, never what it is."""
        return "stored (encrypted)" if channel.has_credentials else "none"

    @admin.action(description="Queue every catalogue song on the selected channels")
    def queue_catalogue(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Create the missing publications of every song on these channels."""
        created = sum(services.queue_song(song, queryset) for song in Song.objects.all())
        self.message_user(request, f"{created} publications queued.")

    @admin.action(
        description="Stop uploads on the selected channels until they are authorized again",
        permissions=["change"],
    )
    def block(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Mark them as needing authorization; `youtube_authorize` makes them active again."""

        def stop(channel: Channel) -> bool:
            if channel.status != Channel.Status.ACTIVE:
                return False
            message = (
                f"Stopped from the admin by {request.user.get_username()}; run "
                f"`manage.py youtube_authorize {channel.slug}` to resume."
            )
            services.block_channel(channel, message)
            return channel.status == Channel.Status.NEEDS_AUTHORIZATION

        report(
            self,
            request,
            (stop(channel) for channel in queryset),
            noun="channel",
            did="stopped",
            why="not active",
        )

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        """Write only the edited fields, never over the state the services keep changing."""
        if not change:
            super().save_model(request, obj, form, change)
        elif form.changed_data:
            obj.save(update_fields=form.changed_data)


@admin.register(Publication)
class PublicationAdmin(ServiceStateAdmin):
    list_display = (
        "song",
        "channel",
        "status",
        "alert",
        "parked_until",
        "watch",
        "takedown",
        "visits",
        "updated_at",
    )
    list_filter = ("status", "channel", "error_code", ("takedown_at", admin.EmptyFieldListFilter))
    search_fields = ("song__title", "song__artist", "video_id", "error_message")
    actions = ["requeue", "stop"]

    @admin.display(description="Problem")
    def alert(self, publication: Publication) -> str:
        """Show the reason a publication failed or is held back."""
        if not publication.error_message:
            return ""
        colour = "#b91c1c" if publication.status == Publication.Status.FAILED else "#b45309"
        return format_html('<span style="color:{}">{}</span>', colour, publication.error_message)

    @admin.display(description="Takedown", ordering="takedown_at")
    def takedown(self, publication: Publication) -> str:
        """Say where the removal of a taken-down video from YouTube stands."""
        if publication.takedown_at is None:
            return ""
        if publication.takedown_done_at is not None:
            return f"removed from YouTube {publication.takedown_done_at:%Y-%m-%d %H:%M}"
        if not publication.video_id:
            return "marked (never on YouTube)"
        if publication.takedown_error:
            return format_html(
                '<span style="color:#b91c1c">removal failed {} time(s), tried again: {}</span>',
                publication.takedown_attempts,
                publication.takedown_error,
            )
        return "to be removed from YouTube"

    @admin.display(description="Video")
    def watch(self, publication: Publication) -> str:
        """Link to the uploaded video."""
        if not publication.video_id:
            return ""
        return format_html('<a href="{}">{}</a>', publication.video_url, publication.video_id)

    @admin.action(
        description="Queue the selected failed publications again", permissions=["operate"]
    )
    def requeue(self, request: HttpRequest, queryset: QuerySet[Publication]) -> None:
        """Send failed publications back to the start."""
        report(
            self,
            request,
            (services.requeue(pk) for pk in queryset.values_list("pk", flat=True)),
            noun="publication",
            did="queued again",
            why="not failed",
        )

    @admin.action(description="Fail the selected open publications", permissions=["operate"])
    def stop(self, request: HttpRequest, queryset: QuerySet[Publication]) -> None:
        """Fail them with who stopped them; "Queue again" brings one back."""
        message = f"Stopped from the admin by {request.user.get_username()}."

        def stop(publication: Publication) -> bool:
            if publication.status not in Publication.OPEN_STATUSES:
                return False
            # fail() reports FAILED whatever it found: the row says whether this call moved it.
            services.fail(publication, "stopped", message)
            return Publication.objects.filter(
                pk=publication.pk, status=Publication.Status.FAILED, error_message=message
            ).exists()

        report(
            self,
            request,
            (stop(p) for p in queryset.select_related("song", "channel")),
            noun="publication",
            did="failed",
            why="not open",
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        """Show the total click-throughs above the list."""
        extra_context = extra_context or {}
        extra_context["title"] = "Publications ({} click-throughs in all)".format(
            Publication.objects.aggregate(n=Sum("visits"))["n"] or 0
        )
        return super().changelist_view(request, extra_context)
