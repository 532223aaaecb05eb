"""Submitting songs through the API and finishing their jobs without the model."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from core.jobs import services
from core.jobs.models import Job
from tests.audio import make_song


def song(tmp_path: Path, seconds: float = 3, *, seed: int = 1, name: str = "Song.mp3") -> Path:
    """Write a short song of its own (the seed makes its bytes, and so its hash, distinct)."""
    folder = tmp_path / f"seed-{seed}"
    folder.mkdir(exist_ok=True)
    return make_song(folder / name, seconds, seed=seed)


def upload(
    client: APIClient, path: Path, headers: dict[str, str] | None = None, **data: Any
) -> Any:
    """POST a file to /api/v1/separations as multipart, with optional fields and headers."""
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    with path.open("rb") as fh:
        return client.post("/api/v1/separations", {"file": fh, **data}, format="multipart", **extra)


def _tone(path: Path, hz: int, seconds: float) -> bytes:
    expr = f"0.3*sin(2*PI*{hz}*t)"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i"),
            *(f"aevalsrc='{expr}|{expr}':s=44100:d={seconds}", "-c:a", "flac", str(path)),
        ],
        check=True,
    )
    return path.read_bytes()


def finish(job: Job, tmp_path: Path) -> None:
    """Claim the job's separation and complete it with two distinct tones, as a worker would."""
    claim, separation = services.claim_separation(job.separation_id, "test-worker")
    assert separation is not None, claim
    names = {
        stem: default_storage.save(
            f"separations/{separation.pk}/1/{stem}.flac",
            ContentFile(_tone(tmp_path / f"{stem}-{separation.pk}.flac", hz, 3)),
        )
        for stem, hz in (("vocals", 440), ("accompaniment", 110))
    }
    assert services.complete_separation(separation.pk, attempt=separation.attempts, **names)
