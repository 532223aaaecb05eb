"""The link importer as the site's settings configure it, for every caller alike."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from shared_separation.links import ImportedAudio, import_link


def import_configured(
    url: str, dest: Path, *, max_duration: float, max_bytes: int
) -> ImportedAudio:
    """Download a link's audio under the LINK_* settings (generic sites, proxy, cookies)."""
    return import_link(
        url,
        dest,
        max_duration=max_duration,
        max_bytes=max_bytes,
        allow_generic=settings.LINK_ALLOW_GENERIC,
        allow=settings.LINK_ALLOWED_PRIVATE,
        socket_timeout=settings.LINK_SOCKET_TIMEOUT,
        timeout=settings.LINK_TIMEOUT,
        proxy=settings.LINK_PROXY,
        cookies_file=settings.LINK_COOKIES_FILE,
    )
