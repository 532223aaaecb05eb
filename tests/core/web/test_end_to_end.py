"""A visitor's whole way with the real worker and model: upload, wait, download, other stem."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.jobs.models import Job, Separation
from tests.audio import make_song
from tests.conftest import WorkerProcess

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _decode(path: Path) -> np.ndarray:
    """Decode any audio file to mono float32 at 44.1 kHz."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "44100", "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(out.stdout, dtype="<f4")


def _similarity(a: np.ndarray, b: np.ndarray, max_lag: int = 4096) -> float:
    """Return the peak normalised cross-correlation within ±max_lag samples (codec delays)."""
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    size = 1 << (2 * n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    window = np.concatenate([corr[: max_lag + 1], corr[-max_lag:]])
    return float(np.abs(window).max() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _stored(name: str, tmp_path: Path) -> Path:
    path = tmp_path / Path(name).name
    with default_storage.open(name, "rb") as fh:
        path.write_bytes(fh.read())
    return path


def test_upload_wait_and_download_the_instrumental(
    celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    vr = Client(HTTP_HOST="vocals-remover.localhost:8000")
    song = make_song(tmp_path / "Night Drive.mp3", 10)
    response = vr.post("/", {"file": SimpleUploadedFile(song.name, song.read_bytes())})
    assert response.status_code == 303
    job_url = response["Location"]

    deadline = time.monotonic() + 240
    seen_states = set()
    while True:
        status = vr.get(f"{job_url}status.json").json()
        seen_states.add(status["state"])
        if status["finished"]:
            break
        assert time.monotonic() < deadline, (
            f"not done in time; worker log:\n{celery_worker.log()[-3000:]}"
        )
        time.sleep(0.5)
    job = Job.objects.get()
    assert status["state"] == "done", job.error_message
    assert seen_states <= {"waiting", "running", "done"}

    page = vr.get(job_url).content.decode()
    assert 'download="Night Drive (Instrumental).mp3"' in page

    download = vr.get(f"{job_url}download/")
    assert download.status_code == 200
    assert (
        download["Content-Disposition"] == 'attachment; filename="Night Drive (Instrumental).mp3"'
    )
    mp3 = tmp_path / "download.mp3"
    mp3.write_bytes(b"".join(download.streaming_content))  # type: ignore[attr-defined]
    probe = json.loads(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=format_name,bit_rate:stream=codec_name",
                "-of",
                "json",
                str(mp3),
            ],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert probe["format"]["format_name"] == "mp3"
    assert probe["streams"][0]["codec_name"] == "mp3"
    assert int(probe["format"]["bit_rate"]) > 300_000

    # It is the accompaniment: it matches the stored accompaniment, not the vocals.
    separation = Separation.objects.get()
    delivered = _decode(mp3)
    accompaniment = _decode(_stored(separation.accompaniment.name, tmp_path))
    vocals = _decode(_stored(separation.vocals.name, tmp_path))
    to_accompaniment = _similarity(delivered, accompaniment)
    to_vocals = _similarity(delivered, vocals)
    assert to_accompaniment > 0.95, (to_accompaniment, to_vocals)
    assert to_accompaniment > to_vocals + 0.3, (to_accompaniment, to_vocals)

    # The other site gives the vocals of the same separation at once: no second job for the pool.
    ae = Client(HTTP_HOST="acapella-extractor.localhost:8000")
    other = ae.get(f"{job_url}other-stem/")
    assert other.status_code == 302
    assert Separation.objects.count() == 1
    derived = Job.objects.get(brand="acapella-extractor")
    assert derived.separation_id == separation.pk
    assert derived.status == Job.Status.SUCCEEDED
    acapella = ae.get(f"{other['Location']}download/")
    assert acapella["Content-Disposition"] == 'attachment; filename="Night Drive (Acapella).mp3"'
    acapella_mp3 = tmp_path / "acapella.mp3"
    acapella_mp3.write_bytes(b"".join(acapella.streaming_content))  # type: ignore[attr-defined]
    assert _similarity(_decode(acapella_mp3), vocals) > 0.95
