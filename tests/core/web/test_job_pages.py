"""The job page while waiting, running, failed and done; downloads; the other brand's stem."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from core.billing import services as billing
from core.jobs import deliveries, services
from core.jobs.models import Job, Separation
from tests.core.web.conftest import AE_HOST, VR_HOST, finished_job

pytestmark = pytest.mark.django_db


def _queued_job(data: bytes = b"queued", brand: str = "vocals-remover") -> Job:
    return services.submit(
        ContentFile(data, name="Queued Song.mp3"),
        services.Submission(original_name="Queued Song.mp3", stem="accompaniment", brand=brand),
    )


def test_a_queued_job_shows_its_place_and_refreshes_without_javascript(vr: Client) -> None:
    _queued_job(b"first")
    job = _queued_job(b"second")
    page = vr.get(f"/jobs/{job.pk}/").content.decode()
    assert "Queued Song.mp3" in page
    assert 'position <strong id="queue-position">2</strong>' in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert '<progress id="job-progress" max="100">' in page  # indeterminate while waiting
    assert '<label for="job-progress"' in page
    assert "/static/web/job.js" in page
    status = vr.get(f"/jobs/{job.pk}/status.json").json()
    assert status == {
        "state": "waiting",
        "status": "queued",
        "queue_position": 2,
        "progress": None,
        "finished": False,
        "tempo_and_key": None,
    }


def test_a_running_job_shows_the_engines_progress(vr: Client) -> None:
    job = _queued_job()
    _claim, separation = services.claim_separation(job.separation_id, "w")
    assert separation is not None
    services.record_progress(separation.pk, 0.42, attempt=separation.attempts)
    page = vr.get(f"/jobs/{job.pk}/").content.decode()
    assert '<progress id="job-progress" max="100" value="42">42%</progress>' in page
    status = vr.get(f"/jobs/{job.pk}/status.json").json()
    assert (status["state"], status["progress"], status["queue_position"]) == (
        "running",
        0.42,
        None,
    )


def test_a_failed_job_says_why_and_what_to_do(vr: Client) -> None:
    job = _queued_job()
    services.fail_separation(
        job.separation_id, code="decode_failed", message="The audio could not be decoded."
    )
    response = vr.get(f"/jobs/{job.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "The audio could not be decoded." in page
    assert "Convert it to MP3 or WAV" in page
    assert "http-equiv" not in page
    assert vr.get(f"/jobs/{job.pk}/status.json").json()["finished"] is True


def test_a_job_is_only_shown_on_its_own_brand(ae: Client, vr: Client) -> None:
    job = _queued_job()
    assert vr.get(f"/jobs/{job.pk}/").status_code == 200
    assert ae.get(f"/jobs/{job.pk}/").status_code == 404
    assert ae.get(f"/jobs/{job.pk}/status.json").status_code == 404
    assert vr.get("/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_the_result_page_has_players_waveform_download_and_other_stem(
    vr: Client, tmp_path: Path
) -> None:
    job = finished_job(tmp_path)
    page = vr.get(f"/jobs/{job.pk}/").content.decode()
    assert f'src="/jobs/{job.pk}/audio/result.mp3"' in page
    assert f'src="/jobs/{job.pk}/audio/original.mp3"' in page
    assert f'data-peaks-url="/jobs/{job.pk}/peaks.json"' in page
    assert 'id="ab-toggle"' in page
    assert f'href="/jobs/{job.pk}/download/" download="My Song (Instrumental).mp3"' in page
    assert "Need the vocals instead?" in page
    assert f'href="http://acapella-extractor.localhost:8000/jobs/{job.pk}/other-stem/"' in page
    assert "http-equiv" not in page


def _ffprobe(data: bytes, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=format_name,bit_rate:stream=codec_name",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_the_download_is_an_mp3_named_after_the_song_and_cached(vr: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    response = vr.get(f"/jobs/{job.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Content-Disposition"] == 'attachment; filename="My Song (Instrumental).mp3"'
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    info = _ffprobe(data, tmp_path)
    assert info["format"]["format_name"] == "mp3"  # type: ignore[index]
    cached = f"deliveries/{job.separation_id}/accompaniment.mp3"
    assert default_storage.exists(cached)
    assert default_storage.size(cached) == len(data)


def test_lossless_downloads_come_with_pro_and_bad_formats_are_refused(
    vr: Client, tmp_path: Path
) -> None:
    job = finished_job(tmp_path)
    # The free tier gets MP3: the page offers Pro instead of lossless links, which answer 403.
    page = vr.get(f"/jobs/{job.pk}/").content.decode()
    assert "?format=wav" not in page and "come with" in page
    refused = vr.get(f"/jobs/{job.pk}/download/?format=wav")
    assert refused.status_code == 403
    assert b"Pro" in refused.content and b"RIFF" not in refused.content
    assert vr.get(f"/jobs/{job.pk}/download/?format=ogg").status_code == 400

    # Once its owner pays, the same job offers and serves WAV and FLAC.
    owner = User.objects.create_user("payer", "payer@example.com", "pw-long-enough-1")
    billing.purchase(owner, 10, key="test-pack", note="test pack")
    Job.objects.filter(pk=job.pk).update(owner=owner)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "?format=wav" in page and "?format=flac" in page
    wav = client.get(f"/jobs/{job.pk}/download/?format=wav")
    assert wav["Content-Disposition"] == 'attachment; filename="My Song (Instrumental).wav"'
    data = b"".join(wav.streaming_content)  # type: ignore[attr-defined]
    assert data[:4] == b"RIFF"


def test_a_non_ascii_song_name_uses_rfc_6266_filename_star(ae: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path, name='Café "Live".flac', brand="acapella-extractor", stem="vocals")
    response = ae.get(f"/jobs/{job.pk}/download/")
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Caf%C3%A9%20Live%20%28Acapella%29.mp3"
    )


def test_players_stream_with_byte_ranges(vr: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    whole = vr.get(f"/jobs/{job.pk}/audio/result.mp3")
    assert whole["Accept-Ranges"] == "bytes"
    body = b"".join(whole.streaming_content)  # type: ignore[attr-defined]
    part = vr.get(f"/jobs/{job.pk}/audio/result.mp3", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(body)}"
    assert b"".join(part.streaming_content) == body[100:200]  # type: ignore[attr-defined]
    tail = vr.get(f"/jobs/{job.pk}/audio/result.mp3", HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == body[-10:]  # type: ignore[attr-defined]
    bad = vr.get(f"/jobs/{job.pk}/audio/result.mp3", HTTP_RANGE=f"bytes={len(body) + 5}-")
    assert bad.status_code == 416
    original = vr.get(f"/jobs/{job.pk}/audio/original.mp3")
    assert original.status_code == 200
    assert vr.get(f"/jobs/{job.pk}/audio/other.mp3").status_code == 404


def test_the_waveform_peaks_are_served_as_json(vr: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    peaks = vr.get(f"/jobs/{job.pk}/peaks.json").json()["peaks"]
    assert len(peaks) == deliveries.PEAKS
    assert all(0.0 <= p <= 1.0 for p in peaks)
    assert max(peaks) == pytest.approx(0.3, abs=0.02)  # the test stems are 0.3 sines


def test_no_result_files_before_the_job_is_done(vr: Client) -> None:
    job = _queued_job()
    for url in ("download/", "audio/result.mp3", "peaks.json"):
        assert vr.get(f"/jobs/{job.pk}/{url}").status_code == 404


def test_the_other_stem_link_reuses_the_separation(ae: Client, vr: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    response = ae.get(f"/jobs/{job.pk}/other-stem/")
    derived = Job.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{derived.pk}/"
    assert (derived.brand, derived.stem, derived.status) == (
        "acapella-extractor",
        "vocals",
        "succeeded",
    )
    assert derived.separation_id == job.separation_id
    assert derived.derived_from_id == job.pk
    assert Separation.objects.count() == 1
    # Following the link again (or a crawler) makes no second job.
    assert ae.get(f"/jobs/{job.pk}/other-stem/")["Location"] == f"/jobs/{derived.pk}/"
    assert Job.objects.count() == 2
    page = ae.get(f"/jobs/{derived.pk}/").content.decode()
    assert 'download="My Song (Acapella).mp3"' in page
    assert "Need the instrumental instead?" in page
    download = ae.get(f"/jobs/{derived.pk}/download/")
    assert download["Content-Disposition"] == 'attachment; filename="My Song (Acapella).mp3"'
    # On its own brand the link just leads back to the job.
    assert vr.get(f"/jobs/{job.pk}/other-stem/")["Location"] == f"/jobs/{job.pk}/"


def test_the_other_stem_of_an_expired_separation_is_gone(ae: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    Separation.objects.filter(pk=job.separation_id).update(status=Separation.Status.EXPIRED)
    assert ae.get(f"/jobs/{job.pk}/other-stem/").status_code == 410
    assert Job.objects.count() == 1


def test_the_footer_links_to_the_other_brand_on_the_same_port(vr: Client) -> None:
    page = vr.get("/").content.decode()
    assert re.search(rf'href="http://{re.escape(AE_HOST)}/">Acapella Extractor</a>', page)
