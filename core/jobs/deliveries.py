"""Files handed to visitors: stems encoded on demand from the stored FLAC, cached in storage.

The lossless stems are written once by the worker; each delivery format (and the original as
MP3, for the player's comparison) is encoded the first time someone asks and kept under
`deliveries/<separation id>/`, so retention can delete a separation's files in one place.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import numpy as np
import redis
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile

from core.jobs import media
from core.jobs.models import Job, Separation
from core.jobs.transposition import PREVIEW_SECONDS, Shift

logger = logging.getLogger(__name__)

PREFIX = "deliveries"
ORIGINAL = "original"
FORMATS = tuple(f.value for f in Job.Format)
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"}
PEAKS = 800  # bars drawn in the waveform; enough for a wide screen, a few kB of JSON
# One encode per file however many ask at once (fifty fans of a song download it together):
# the first request encodes under a Redis lock, the others wait for it and then serve its file.
ENCODE_LOCK_S = 600  # frees the lock of a request that died mid-encode
ENCODE_WAIT_S = 180  # after that a waiting request encodes by itself rather than fail


def folder(separation: Separation) -> str:
    """Return the storage folder of a separation's deliveries."""
    return f"{PREFIX}/{separation.pk}"


def _stored(separation: Separation, which: str) -> str:
    """Return the storage name of a separation's stem or original; raise if it is not stored."""
    if which == ORIGINAL:
        stored: FieldFile = separation.source.file
    elif which in (Job.Stem.VOCALS, Job.Stem.ACCOMPANIMENT):
        stored = getattr(separation, which)
    else:
        raise ValueError(f"unknown stem {which!r}")
    if not stored.name:
        raise FileNotFoundError(f"separation {separation.pk} has no {which} stem")
    return stored.name


def _save_once(name: str, path: Path) -> str:
    """Store a file under `name`; if another request stored it first, keep theirs."""
    with path.open("rb") as fh:
        saved = default_storage.save(name, File(fh))
    if saved != name:
        default_storage.delete(saved)
    return name


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


@contextlib.contextmanager
def _single_flight(name: str) -> Iterator[None]:
    """Hold the encode lock of `name`; without Redis, go on unlocked (serving beats waiting)."""
    lock = _redis().lock(f"encode:{name}", timeout=ENCODE_LOCK_S, blocking_timeout=ENCODE_WAIT_S)
    try:
        held = lock.acquire()
    except redis.RedisError as exc:
        logger.warning("encode lock for %s unavailable, encoding unlocked: %s", name, exc)
        held = False
    try:
        yield
    finally:
        if held:
            with contextlib.suppress(redis.RedisError):  # expired meanwhile: nothing to free
                lock.release()


def encoded(separation: Separation, which: str, fmt: str) -> str:
    """Return the storage name of a stem (or the original) in a format, encoding it once."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    name = f"{folder(separation)}/{which}.{fmt}"
    return _made_once(separation, which, name, lambda src, dest: media.transcode(src, dest, fmt))


def transposed(
    separation: Separation, which: str, fmt: str, shift: Shift, *, preview: bool = False
) -> str:
    """Return the storage name of a stem in a new key and tempo (or its first 30 s), once.

    Kept beside the other deliveries, so it expires with the separation; no shift at all is the
    plain delivery itself.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if shift.identity and not preview:
        return encoded(separation, which, fmt)
    cut = ".preview" if preview else ""
    name = f"{folder(separation)}/{which}.{shift.suffix()}{cut}.{fmt}"
    return _made_once(
        separation,
        which,
        name,
        lambda src, dest: media.transpose(
            src,
            dest,
            fmt,
            semitones=shift.semitones,
            tempo=shift.tempo,
            seconds=PREVIEW_SECONDS if preview else None,
        ),
    )


def _made_once(
    separation: Separation, which: str, name: str, make: Callable[[Path, Path], object]
) -> str:
    """Return `name`, made from the stored stem by `make(src, dest)` by one request only."""
    if default_storage.exists(name):
        return name
    with _single_flight(name):
        if default_storage.exists(name):  # made by the request we waited for
            return name
        with (
            media.local_copy(_stored(separation, which)) as src,
            tempfile.TemporaryDirectory(prefix="delivery-") as tmp,
        ):
            dest = Path(tmp) / f"out{Path(name).suffix}"
            make(src, dest)
            _save_once(name, dest)
    logger.info("made %s", name)
    return name


def peaks(separation: Separation, which: str, count: int = PEAKS) -> list[float]:
    """Return `count` peak levels (0..1) of a stem, for drawing its waveform; cached as JSON."""
    name = f"{folder(separation)}/{which}.peaks.json"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            cached: list[float] = json.load(fh)
        return cached
    hop = 1024  # ~23 ms: fine enough to reduce to any bar count a screen needs
    with media.local_copy(_stored(separation, which)) as src:
        levels = media.peak_levels(src, hop)
    result = _reduce(levels, count)
    with tempfile.TemporaryDirectory(prefix="peaks-") as tmp:
        path = Path(tmp) / "peaks.json"
        path.write_text(json.dumps(result))
        _save_once(name, path)
    return result


def _reduce(levels: np.ndarray, count: int) -> list[float]:
    """Return the maximum of `count` equal slices of `levels`, rounded, scaled to 0..1."""
    if len(levels) == 0:
        return [0.0] * count
    edges = np.linspace(0, len(levels), count + 1).astype(int)
    out = [
        float(levels[a : max(b, a + 1)].max()) if a < len(levels) else 0.0
        for a, b in itertools.pairwise(edges)
    ]
    return [round(min(1.0, v), 3) for v in out]


def delete_folder(separation_id: uuid.UUID | str) -> int:
    """Delete every cached delivery of a separation; return how many files went."""
    base = f"{PREFIX}/{separation_id}"
    try:
        _dirs, files = default_storage.listdir(base)
    except FileNotFoundError:
        return 0
    for file_name in files:
        default_storage.delete(f"{base}/{file_name}")
    return len(files)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def download_name(original_name: str, label: str, fmt: str) -> str:
    """Return `<original name without extension> (<label>).<fmt>`, safe on every OS."""
    base = Path(unicodedata.normalize("NFC", original_name).replace("\\", "/")).name
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = " ".join(_UNSAFE.sub(" ", stem).split()).strip(" .") or "song"
    return f"{stem[:150]} ({label}).{fmt}"
