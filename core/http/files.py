"""Stored files over HTTP, with Range support, so players can seek and downloads resume.

A storage that signs its own URLs (an S3 bucket) serves the bytes itself: the visitor is sent
there with a short-lived signed URL, and no web process carries the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.core.files import File
from django.core.files.storage import default_storage
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header

from core import storage

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def serve(
    request: HttpRequest,
    name: str,
    *,
    content_type: str,
    filename: str | None = None,
    as_attachment: bool = False,
) -> HttpResponseBase:
    """Return the stored file `name`, whole or the single byte range asked for.

    Or a redirect to the storage's own signed URL, when it has them.
    """
    url = storage.signed_url(
        name, content_type=content_type, filename=filename, as_attachment=as_attachment
    )
    if url is not None:
        redirect = HttpResponseRedirect(url)
        # The signed URL expires: a cached redirect would outlive it.
        redirect["Cache-Control"] = "private, no-store"
        return redirect
    size = default_storage.size(name)
    fh = default_storage.open(name, "rb")
    status = 200
    start, end = 0, size - 1
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if match and size:
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        elif last:  # "bytes=-500": the last 500 bytes
            start = max(0, size - int(last))
        if not (first or last) or start > end or start >= size:
            fh.close()
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        status = 206
    fh.seek(start)
    response = StreamingHttpResponse(
        _limited(fh, end - start + 1), status=status, content_type=content_type
    )
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    disposition = content_disposition_header(as_attachment, filename or "")
    if disposition and (filename or as_attachment):
        response["Content-Disposition"] = disposition
    # Deliveries never change under a name; the job id in the URL is the secret.
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _limited(fh: File, remaining: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """Yield at most `remaining` bytes of an open file, then close it."""
    try:
        while remaining > 0:
            data = fh.read(min(chunk, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        fh.close()
