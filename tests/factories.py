"""Ready-made jobs and a look into storage, shared by the tests of several packages."""

from __future__ import annotations

import subprocess
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from core.jobs import services
from core.jobs.models import Job
from tests.audio import make_song


def stored_files(folder: str = "") -> set[str]:
    """Return every file name in default storage, walking folders."""
    try:
        dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return set()
    names = {f"{folder}/{f}" if folder else f for f in files}
    for d in dirs:
        names |= stored_files(f"{folder}/{d}" if folder else d)
    return names


def _tone(path: Path, expr: str, seconds: float) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"aevalsrc='{expr}|{expr}':s=44100:d={seconds}",
            "-c:a",
            "flac",
            str(path),
        ],
        check=True,
    )
    return path


def finished_job(
    tmp_path: Path,
    *,
    name: str = "My Song.mp3",
    brand: str = "vocals-remover",
    stem: str = "accompaniment",
    seed: int = 7,
) -> Job:
    """Return a succeeded job with distinct FLAC stems in storage, without running the model."""
    song = make_song(tmp_path / f"song-{seed}.wav", 3, seed=seed)
    with song.open("rb") as fh:
        job = services.submit(
            File(fh, name=name),
            services.Submission(original_name=name, stem=stem, brand=brand, duration=3.0),
        )
    claim, separation = services.claim_separation(job.separation_id, "test-worker")
    assert separation is not None, claim
    names = {}
    for stem_name, expr in (
        ("vocals", "0.3*sin(2*PI*440*t)"),
        ("accompaniment", "0.3*sin(2*PI*110*t)"),
    ):
        flac = _tone(tmp_path / f"{stem_name}-{seed}.flac", expr, 3)
        names[stem_name] = default_storage.save(
            f"separations/{separation.pk}/1/{stem_name}.flac", ContentFile(flac.read_bytes())
        )
    assert services.complete_separation(separation.pk, attempt=separation.attempts, **names)
    job.refresh_from_db()
    return job
