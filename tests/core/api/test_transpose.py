"""A stem's download in a new key and tempo: `pitch` and `tempo` query parameters."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage

from core.jobs import deliveries
from core.jobs.models import Job
from tests.core.api.conftest import Account, assert_error, openapi
from tests.core.api.helpers import finish, song, upload

pytestmark = pytest.mark.django_db


def _stored(job: Job) -> list[str]:
    try:
        return sorted(default_storage.listdir(deliveries.folder(job.separation))[1])
    except FileNotFoundError:
        return []


def _frequency(data: bytes, tmp_path: Path) -> float:
    path = tmp_path / "got.wav"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout
    mono = np.frombuffer(out, dtype=np.float32)[4410:-4410]
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / 44100)[np.argmax(spectrum)])


def test_pitch_and_tempo_give_the_stem_shifted_and_stretched(
    account: Account, tmp_path: Path
) -> None:
    body = upload(account.client, song(tmp_path), stem="vocals").json()
    finish(Job.objects.get(), tmp_path)
    url = f"/api/v1/separations/{body['id']}/vocals.wav"
    response = account.client.get(url, {"pitch": "-5", "tempo": "1.25"})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "audio/wav"
    assert "Acapella, -5 semitones, 125 % tempo" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    # The 440 Hz vocals stem: five semitones down, 3 s played in 2.4 s.
    assert _frequency(data, tmp_path) == pytest.approx(440 * 2 ** (-5 / 12), abs=2)
    frames = (len(data) - 44) / 4  # 16-bit stereo after the 44-byte header
    assert abs(frames / 44100 - 3.0 / 1.25) <= 0.010
    # Asked again, served from storage: one render in the deliveries folder.
    again = account.client.get(url, {"pitch": "-5", "tempo": "1.25"})
    assert b"".join(again.streaming_content) == data
    assert [n for n in _stored(Job.objects.get()) if ".p-5.t125." in n] == ["vocals.p-5.t125.wav"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"pitch": "13"}, "pitch"),
        ({"pitch": "-7"}, "pitch"),
        ({"pitch": "high"}, "pitch"),
        ({"tempo": "0"}, "tempo"),
        ({"tempo": "2"}, "tempo"),
        ({"tempo": "quick"}, "tempo"),
    ],
)
def test_bad_values_are_a_400_and_nothing_is_encoded(
    account: Account, tmp_path: Path, query: dict[str, str], field: str
) -> None:
    body = upload(account.client, song(tmp_path), stem="vocals").json()
    job = Job.objects.get()
    finish(job, tmp_path)
    deliveries.delete_folder(job.separation_id)  # what finishing may have prepared
    response = account.client.get(f"/api/v1/separations/{body['id']}/vocals.mp3", query)
    error = assert_error(response, 400, "invalid_request")["error"]
    assert list(error["fields"]) == [field]
    assert field in error["message"]
    assert _stored(job) == []


def test_the_schema_documents_pitch_and_tempo() -> None:
    operation = openapi()["paths"]["/api/v1/separations/{id}/{stem}.{fmt}"]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert {"pitch", "tempo"} <= names
