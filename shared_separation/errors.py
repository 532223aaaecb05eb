"""Every stable error code of the product, with its HTTP status and what it means.

One catalogue for the engine, the link importer, the intake, the pool, the API and the pages:
a code is defined here once and means the same wherever a client meets it (an API error, a
job's or a link's `error_code`, a page's advice). Pure Python: the engine imports it, so it
must never import Django. docs/api.md lists the codes; a test keeps the two equal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

logger = logging.getLogger(__name__)


class Code(StrEnum):
    """A stable, machine-readable reason; never renamed once clients have seen it."""

    # The song itself (the engine's probe and decode, the intake).
    REQUIRED = "required"
    EMPTY_FILE = "empty_file"
    NOT_AUDIO = "not_audio"
    NO_SAMPLES = "no_samples"
    DECODE_FAILED = "decode_failed"
    TOO_LONG = "too_long"
    TOO_LARGE = "too_large"
    TOO_MANY = "too_many"
    # The plan and the balance.
    PLAN_REQUIRED = "plan_required"
    NOT_ALLOWED = "not_allowed"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    NO_CREDITS = "no_credits"
    RATE_LIMITED = "rate_limited"
    # Links (shared_separation.links).
    INVALID_URL = "invalid_url"
    PRIVATE_ADDRESS = "private_address"
    UNSUPPORTED_SITE = "unsupported_site"
    NO_MEDIA = "no_media"
    PLAYLIST = "playlist"
    LIVE = "live"
    STREAM_ONLY = "stream_only"
    UNSAFE_MEDIA = "unsafe_media"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    BOT_CHECK = "bot_check"
    DOWNLOAD_FAILED = "download_failed"
    # The pool and the engine's own failures.
    ENCODE_FAILED = "encode_failed"
    MODEL_MISSING = "model_missing"
    MODEL_CORRUPT = "model_corrupt"
    FFMPEG_MISSING = "ffmpeg_missing"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    WORKER_LOST = "worker_lost"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    # The API's requests.
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_KEY = "invalid_key"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    MALFORMED_REQUEST = "malformed_request"
    INVALID_REQUEST = "invalid_request"
    INVALID_CALLBACK_URL = "invalid_callback_url"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    BUSY = "busy"
    NOT_READY = "not_ready"
    NOT_CANCELLABLE = "not_cancellable"
    GONE = "gone"
    # Copyright: a takedown notice removed this audio (core.legal).
    BLOCKED = "blocked"
    ERROR = "error"


@dataclass(frozen=True)
class Entry:
    """What a code means: the HTTP status when it refuses a request, and one line for docs."""

    status: int
    meaning: str


CATALOGUE: dict[Code, Entry] = {
    Code.REQUIRED: Entry(400, "no file was sent"),
    Code.EMPTY_FILE: Entry(400, "the file is empty"),
    Code.NOT_AUDIO: Entry(415, "not audio, or its length could not be read"),
    Code.NO_SAMPLES: Entry(415, "the file decodes to no sound"),
    Code.DECODE_FAILED: Entry(415, "the file is damaged past a point"),
    Code.TOO_LONG: Entry(422, "the song is over the length limit"),
    Code.TOO_LARGE: Entry(413, "the file is over the size limit"),
    Code.TOO_MANY: Entry(400, "more files at once than the plan takes"),
    Code.PLAN_REQUIRED: Entry(403, "a higher plan allows it; `required_plan` names it"),
    Code.NOT_ALLOWED: Entry(422, "no plan allows it"),
    Code.INSUFFICIENT_CREDITS: Entry(402, "the balance cannot pay (`balance`, `needed`)"),
    Code.NO_CREDITS: Entry(402, "a link's song, once fetched, was more than the balance"),
    Code.RATE_LIMITED: Entry(429, "too many requests; see Retry-After"),
    Code.INVALID_URL: Entry(400, "not an http(s) link, or malformed"),
    Code.PRIVATE_ADDRESS: Entry(422, "the link leads to a private, loopback or metadata address"),
    Code.UNSUPPORTED_SITE: Entry(400, "a site the importer does not read"),
    Code.NO_MEDIA: Entry(400, "nothing to fetch at that link"),
    Code.PLAYLIST: Entry(400, "the link names several songs"),
    Code.LIVE: Entry(400, "a live stream"),
    Code.STREAM_ONLY: Entry(400, "the page offers the song only as HLS or DASH"),
    Code.UNSAFE_MEDIA: Entry(400, "the download needed a program the fetch may not start"),
    Code.NOT_FOUND: Entry(404, "no such thing (a removed video, an unknown separation)"),
    Code.FORBIDDEN: Entry(403, "private, or not this key's to see"),
    Code.BOT_CHECK: Entry(400, "YouTube asked to confirm a person is there"),
    Code.DOWNLOAD_FAILED: Entry(502, "the site stopped sending the song"),
    Code.ENCODE_FAILED: Entry(500, "a stem or a cut could not be written"),
    Code.MODEL_MISSING: Entry(503, "the worker has no model"),
    Code.MODEL_CORRUPT: Entry(503, "the worker's model failed its checks"),
    Code.FFMPEG_MISSING: Entry(503, "the worker has no ffmpeg"),
    Code.CANCELLED: Entry(409, "cancelled"),
    Code.TIMEOUT: Entry(504, "it took longer than its time limit"),
    Code.WORKER_LOST: Entry(500, "the worker died too many times on this song"),
    Code.UNAVAILABLE: Entry(503, "a service it needs is down; try again later"),
    Code.INTERNAL: Entry(500, "anything unexpected (logged for the operator)"),
    Code.NOT_AUTHENTICATED: Entry(401, "no API key"),
    Code.INVALID_KEY: Entry(401, "a malformed or revoked API key"),
    Code.METHOD_NOT_ALLOWED: Entry(405, "the method is not allowed here"),
    Code.NOT_ACCEPTABLE: Entry(406, "no answer in the asked media type"),
    Code.UNSUPPORTED_MEDIA_TYPE: Entry(415, "a request body of an unknown type"),
    Code.MALFORMED_REQUEST: Entry(400, "the body could not be parsed"),
    Code.INVALID_REQUEST: Entry(400, "a field is missing or wrong (`fields`)"),
    Code.INVALID_CALLBACK_URL: Entry(422, "the callback_url is refused"),
    Code.IDEMPOTENCY_MISMATCH: Entry(422, "an Idempotency-Key reused with another request"),
    Code.BUSY: Entry(409, "not now: the link is being fetched"),
    Code.NOT_READY: Entry(409, "the result is not ready"),
    Code.NOT_CANCELLABLE: Entry(409, "it has already finished"),
    Code.GONE: Entry(410, "the files are gone (retention)"),
    Code.BLOCKED: Entry(451, "removed after a copyright notice; it cannot be separated here"),
    Code.ERROR: Entry(500, "an error without a more precise code"),
}


def markdown_table() -> str:
    """Return the catalogue as docs/api.md shows it: status, code and meaning, by status."""
    rows = ["| status | code | meaning |", "| --- | --- | --- |"]
    for code, entry in sorted(CATALOGUE.items(), key=lambda item: (item[1].status, item[0])):
        rows.append(f"| {entry.status} | `{code}` | {entry.meaning} |")
    return "\n".join(rows) + "\n"


def status_of(code: str) -> int:
    """Return the HTTP status of a refusal with this code (400 for an unknown one)."""
    try:
        return CATALOGUE[Code(code)].status
    except ValueError:
        return 400


def known(code: str) -> Code:
    """Return the catalogue's code; an unknown one is logged and stored as `error`.

    What a failure stores must be a code clients can look up; a failure is never lost to a code
    missing from the catalogue (a bug, reported here), it is only made less precise.
    """
    try:
        return Code(code)
    except ValueError:
        logger.error("error code %r is not in shared_separation/errors.py; stored as 'error'", code)
        return Code.ERROR
