"""The instrumental in a new key and tempo on the Vocals Remover: form, preview, downloads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import Client

from core.billing import services as billing
from core.jobs import deliveries
from core.jobs.models import Job, Separation
from tests.core.web.conftest import VR_HOST, finished_job

pytestmark = pytest.mark.django_db

# What the light task stores for a song in A minor at 120 BPM (its own tests measure real audio).
A_MINOR = {
    "bpm": 120.0,
    "bpm_confidence": 0.8,
    "key": "A minor",
    "tonic": "A",
    "mode": "minor",
    "camelot": "8A",
    "key_confidence": 0.8,
}


def _stored(job: Job) -> list[str]:
    try:
        return sorted(default_storage.listdir(deliveries.folder(job.separation))[1])
    except FileNotFoundError:
        return []


def _duration(data: bytes, tmp_path: Path, suffix: str) -> float:
    path = tmp_path / f"got.{suffix}"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return float(out.stdout)


def _analysed_job(tmp_path: Path) -> Job:
    job = finished_job(tmp_path)
    Separation.objects.filter(pk=job.separation_id).update(analysis=A_MINOR)
    deliveries.delete_folder(job.separation_id)  # whatever finishing prepared
    return Job.objects.get(pk=job.pk)


def test_the_result_page_offers_a_labelled_form_that_works_without_javascript(
    vr: Client, tmp_path: Path
) -> None:
    job = _analysed_job(tmp_path)
    page = vr.get(f"/jobs/{job.pk}/").content.decode()
    assert f'action="/jobs/{job.pk}/key-and-tempo/"' in page and 'method="get"' in page
    assert '<label for="transpose-pitch">' in page and '<label for="transpose-tempo">' in page
    assert 'min="70" max="130"' in page
    assert "+1 semitone (B♭ minor)</option>" in page
    assert "/static/web/transpose.js" in page
    assert _stored(job) == []  # showing the form renders nothing


def test_asking_names_the_new_key_and_offers_a_preview_and_mp3_for_free(
    vr: Client, tmp_path: Path
) -> None:
    job = _analysed_job(tmp_path)
    response = vr.get(f"/jobs/{job.pk}/key-and-tempo/", {"pitch": "1", "tempo": "110"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Now in B♭ minor at 132 BPM." in page
    assert '<option value="1" data-key="B♭ minor" selected>' in page
    assert 'value="110"' in page
    preview_url = f"/jobs/{job.pk}/key-and-tempo/preview.mp3?pitch=1&amp;tempo=110"
    assert preview_url in page
    assert f"/jobs/{job.pk}/key-and-tempo/download/?pitch=1&amp;tempo=110" in page
    assert "format=wav" not in page and "come with" in page  # the free tier: MP3 only
    assert _stored(job) == []  # nothing rendered until it is played or downloaded

    preview = vr.get(preview_url.replace("&amp;", "&"))
    assert preview.status_code == 200 and preview["Content-Type"] == "audio/mpeg"
    data = b"".join(preview.streaming_content)  # type: ignore[attr-defined]
    # The 3 s test stem at 110 %: shorter than 30 s, so the preview is all of it.
    assert _duration(data, tmp_path, "mp3") == pytest.approx(3.0 / 1.1, abs=0.06)
    assert _stored(job) == ["accompaniment.p+1.t110.preview.mp3"]

    download = vr.get(f"/jobs/{job.pk}/key-and-tempo/download/", {"pitch": "1", "tempo": "110"})
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        'attachment; filename="My Song (Instrumental, +1 semitone, 110 % tempo).mp3"'
    )
    assert "accompaniment.p+1.t110.mp3" in _stored(job)
    wav = vr.get(f"/jobs/{job.pk}/key-and-tempo/download/?pitch=1&tempo=110&format=wav")
    assert wav.status_code == 403 and b"Pro" in wav.content
    assert "accompaniment.p+1.t110.wav" not in _stored(job)


def test_a_paying_owner_gets_lossless_in_the_new_key(tmp_path: Path) -> None:
    job = _analysed_job(tmp_path)
    owner = User.objects.create_user("payer", "payer@example.com", "pw-long-enough-1")
    billing.purchase(owner, 10, key="test-pack", note="test pack")
    Job.objects.filter(pk=job.pk).update(owner=owner)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/key-and-tempo/?pitch=-2&tempo=80").content.decode()
    assert "Now in G minor at 96 BPM." in page
    assert "pitch=-2&amp;tempo=80&amp;format=flac" in page
    flac = client.get(f"/jobs/{job.pk}/key-and-tempo/download/?pitch=-2&tempo=80&format=flac")
    data = b"".join(flac.streaming_content)  # type: ignore[attr-defined]
    assert data[:4] == b"fLaC"
    assert abs(_duration(data, tmp_path, "flac") - 3.0 / 0.8) <= 0.010


@pytest.mark.parametrize(
    "query",
    [{"pitch": "13"}, {"pitch": "-7"}, {"pitch": "up"}, {"tempo": "0"}, {"tempo": "131"},
     {"tempo": "fast"}, {"tempo": "1.1"}],
)  # fmt: skip
def test_bad_values_are_a_clear_400_and_nothing_is_rendered(
    vr: Client, tmp_path: Path, query: dict[str, str]
) -> None:
    job = _analysed_job(tmp_path)
    page = vr.get(f"/jobs/{job.pk}/key-and-tempo/", query)
    assert page.status_code == 400
    text = page.content.decode()
    assert 'role="alert"' in text and 'aria-invalid="true"' in text
    assert ("Key: from 6 semitones down" in text) or ("Tempo: a whole percentage" in text)
    for url in ("preview.mp3", "download/"):
        response = vr.get(f"/jobs/{job.pk}/key-and-tempo/{url}", query)
        assert response.status_code == 400
    assert _stored(job) == []


def test_only_the_instrumental_changes_key(ae: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path, brand="acapella-extractor", stem="vocals")
    assert "transpose-form" not in ae.get(f"/jobs/{job.pk}/").content.decode()
    assert ae.get(f"/jobs/{job.pk}/key-and-tempo/?pitch=1").status_code == 404
