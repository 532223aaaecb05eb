"""Run one separation: claim it, fetch its input from storage, separate, store the stems."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from core.health import recorder
from core.health.transient import is_transient
from core.jobs import live_streams, media, progress, services
from core.jobs.models import Job, Separation
from shared_separation.engine import ErrorCode, Output, SeparationError
from shared_separation.worker import get_engine

logger = logging.getLogger(__name__)

STEM_FILE_FORMAT = "flac"


def stem_name(separation_id: uuid.UUID | str, attempt: int, stem: str) -> str:
    """Return the storage name of one attempt's lossless stem (attempts never share files)."""
    return f"separations/{separation_id}/{attempt}/{stem}.{STEM_FILE_FORMAT}"


def run_separation(separation_id: uuid.UUID | str, worker: str) -> str:
    """Do one separation end to end; return what happened (for logs and tests)."""
    claim, separation = services.claim_separation(separation_id, worker)
    if separation is None:
        logger.info("separation %s not claimed: %s", separation_id, claim)
        return str(claim)
    attempt = separation.attempts
    try:
        return _run_claimed(separation, attempt)
    except Exception as exc:
        if is_transient(exc):
            # The database or the bucket is unreachable: give the work back to the queue, so
            # the retry (or another worker) starts at once; if even that fails, the sweep
            # finds the silent heartbeat later. Either way the job is not lost.
            logger.warning("separation %s: a service is unreachable: %s", separation_id, exc)
            with contextlib.suppress(Exception):
                services.release_separation(separation_id, attempt=attempt)
        raise


def _run_claimed(separation: Separation, attempt: int) -> str:
    """Fetch the input, separate it and store the stems, as the attempt `attempt`."""
    separation_id = separation.pk
    claimed_at = time.monotonic()
    reporter = progress.Reporter(separation_id, attempt)
    with tempfile.TemporaryDirectory(prefix="separation-") as tmp:
        folder = Path(tmp)
        src = media.copy_stored(separation.source.file.name, folder / "input")
        engine = get_engine()
        outputs = {stem: Output.lossless(folder / f"{stem}.flac") for stem in engine.stems}
        live = _live_writers(separation, attempt, engine.stems)
        logger.info(
            "separation %s: input fetched, separating (%.2f s after the claim)",
            separation_id,
            time.monotonic() - claimed_at,
        )
        separating_since = time.monotonic()
        try:
            result = engine.separate_file(
                src,
                outputs,
                max_duration=settings.SEPARATION_MAX_DURATION,
                progress=reporter,
                cancelled=reporter.cancelled,
                quality=separation.quality,
                live=live,
            )
        except SeparationError as exc:
            for writer in live.values():
                writer.end(exc.message)
            if exc.code == ErrorCode.CANCELLED:
                logger.info("separation %s was cancelled while running", separation_id)
                return "cancelled"
            logger.warning("separation %s failed: %s (%s)", separation_id, exc.message, exc.code)
            services.fail_separation(
                separation_id, code=exc.code, message=exc.message, attempt=attempt
            )
            return "failed"
        except BaseException:
            for writer in live.values():
                writer.end("The separation stopped before the end.")
            raise
        separating = time.monotonic() - separating_since
        for writer in live.values():
            writer.end()
            if writer.first_at is not None:
                # The figure live listeners care about (README, bench/first_audio.py).
                logger.info(
                    "separation %s: first live %s audio %.2f s after the claim",
                    separation_id,
                    writer.stem,
                    writer.first_at - claimed_at,
                )
        names = {}
        for stem, out in outputs.items():
            name = stem_name(separation_id, attempt, stem)
            with out.path.open("rb") as fh:
                names[stem] = default_storage.save(name, File(fh))
    if not services.complete_separation(
        separation_id,
        vocals=names["vocals"],
        accompaniment=names["accompaniment"],
        attempt=attempt,
    ):
        # Taken away while we worked (cancelled, or taken over): keep nothing we no longer own.
        for name in names.values():
            default_storage.delete(name)
        return "discarded"
    logger.info("separation %s succeeded", separation_id)
    if result.duration > 0 and separating > 0:
        # The engine's own speed (decode, network, encode) over the audio it decoded, not the
        # copies to and from storage, nor a probed length that a caller may not have given.
        factor = result.duration / separating
        recorder.record([(recorder.REALTIME_FACTOR, (str(separation.quality),), factor)])
    return "succeeded"


def _live_writers(
    separation: Separation, attempt: int, stems: tuple[str, ...]
) -> dict[str, live_streams.Writer]:
    """Return a live stream writer for each stem that a waiting person's job asks for."""
    wanted: set[str] = set()
    asked = (
        Job.objects.filter(separation_id=separation.pk, status__in=Job.ACTIVE_STATUSES)
        # The bot and the shell wait for the files; nobody listens to them live.
        .exclude(origin__in=(Job.Origin.BOT, Job.Origin.SHELL))
        .values_list("stem", flat=True)
    )
    for stem in asked:
        wanted.update(stems if stem == Job.Stem.BOTH else (stem,))
    chosen = [stem for stem in stems if stem in wanted] if settings.LIVE_STREAMS else []
    live_streams.announce(separation.pk, attempt, chosen)
    return {stem: live_streams.Writer(separation.pk, attempt, stem) for stem in chosen}
