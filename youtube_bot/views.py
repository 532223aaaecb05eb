"""The song pages the videos link to: a preview of the stem and an invitation to try one's own."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from youtube_bot import services
from youtube_bot.models import Publication, Song

# A page exists once the video is rendered, so a reviewer can open it before the upload.
_SHOWN = (Publication.Status.RENDERED, Publication.Status.UPLOADING, Publication.Status.UPLOADED)


def _publication(request: HttpRequest, slug: str) -> tuple[Song, Publication]:
    """Return the song and its publication on the channel of the site that was asked."""
    brand = getattr(request, "brand", None)
    if brand is None:
        raise Http404("no brand")
    song = get_object_or_404(Song, slug=slug)
    publication = (
        Publication.objects.filter(
            song=song, channel__brand=brand.slug, status__in=_SHOWN, takedown_at__isnull=True
        )
        .select_related("channel")
        .first()
    )
    if publication is None:
        raise Http404("this song has no video on this site's channel")
    return song, publication


@require_safe
def song_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Show the song's stem preview; count the visit when it came from the video."""
    song, publication = _publication(request, slug)
    if request.method == "GET" and request.GET.get("utm_source"):
        services.record_visit(song, request.GET.dict())
    brand = request.brand  # type: ignore[attr-defined]
    stem = brand.stem_label
    context = {
        "page_title": f"{song.artist} - {song.title} ({stem}) | {brand.name}",
        "page_description": (
            f"Listen to the {stem.lower()} of {song.artist}, {song.title}, made with "
            f"{brand.name}, and make the {stem.lower()} of your own song for free."
        ),
        "song": song,
        "publication": publication,
        "has_preview": default_storage.exists(services.preview_name(publication)),
    }
    return render(request, "youtube_bot/song.html", context)


@require_safe
def song_preview(request: HttpRequest, slug: str) -> FileResponse:
    """Stream the stored preview MP3 of the stem."""
    _song, publication = _publication(request, slug)
    name = services.preview_name(publication)
    if not default_storage.exists(name):
        raise Http404("no preview")
    response = FileResponse(default_storage.open(name, "rb"), content_type="audio/mpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response
