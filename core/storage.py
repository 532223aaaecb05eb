"""What the rest of the code asks of the configured storage beyond Django's API: signed URLs."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.utils.http import content_disposition_header


def default() -> Storage:
    """Return the configured default storage itself (not the lazy proxy)."""
    return storages["default"]


def offers_signed_urls(storage: Storage | None = None) -> bool:
    """Return whether the storage hands out expiring signed URLs (S3 presigned URLs)."""
    storage = storage or default()
    # django-storages' cloud backends sign their URLs when querystring_auth is on.
    return bool(getattr(storage, "querystring_auth", False))


def describe(storage: Storage | None = None) -> str:
    """Return a human description of the storage for error messages: the bucket or the folder."""
    storage = storage or default()
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        endpoint = getattr(storage, "endpoint_url", None) or "AWS"
        return f"S3 bucket {bucket!r} at {endpoint}"
    location = getattr(storage, "location", None)
    return f"folder {location}" if location else type(storage).__name__


def signed_url(
    name: str,
    *,
    content_type: str,
    filename: str | None = None,
    as_attachment: bool = False,
    expire: int | None = None,
) -> str | None:
    """Return a short-lived signed URL of a stored file, or None when the storage has none.

    The URL makes the storage answer with the given type and, for an attachment, the download
    name, as Django's own response would.
    """
    storage = default()
    if not offers_signed_urls(storage):
        return None
    parameters = {"ResponseContentType": content_type}
    disposition = content_disposition_header(as_attachment, filename or "")
    if disposition and (filename or as_attachment):
        parameters["ResponseContentDisposition"] = disposition
    seconds = expire if expire is not None else settings.DOWNLOAD_URL_EXPIRY
    url: str = storage.url(name, parameters=parameters, expire=seconds)  # type: ignore[call-arg]
    return url
