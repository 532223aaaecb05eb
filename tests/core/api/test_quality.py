"""The `quality` field: one separation per song and quality, shown in the detail, idempotent."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from pytest_django.fixtures import Settings

from core.api import services
from core.jobs.models import Job, LinkImport, Separation
from shared_separation import worker
from shared_separation.engine import Output
from shared_separation.tasks import import_link_task
from tests.conftest import WorkerProcess
from tests.core.api.conftest import Account, assert_error, assert_matches, client_for, make_user
from tests.core.api.helpers import song, upload
from tests.httpsite import Site
from tests.shared_separation.audio import decode_with_ffmpeg, sdr

LINK_PORT = int(os.environ["STEMSPLIT_TEST_LINK_PORT"])


@pytest.mark.django_db
def test_two_qualities_make_two_separations_and_the_same_quality_shares_one(
    account: Account, tmp_path: Path, settings: Settings
) -> None:
    settings.SEPARATION_DEFAULT_QUALITY = "high"
    path = song(tmp_path)
    standard = upload(account.client, path, quality="standard")
    assert standard.status_code == 202, standard.content
    assert_matches("Separation", standard.json())
    assert standard.json()["quality"] == "standard"
    default = upload(account.client, path).json()
    assert default["quality"] == "high"  # none named: the setting's
    high = upload(account.client, path, quality="high").json()
    again = upload(account.client, path, quality="standard").json()

    jobs = {j.api_job.pk: j for j in Job.objects.select_related("separation", "api_job")}
    separation = {str(k): j.separation for k, j in jobs.items()}
    assert separation[standard.json()["id"]].quality == "standard"
    assert separation[default["id"]] == separation[high["id"]]
    assert separation[again["id"]] == separation[standard.json()["id"]]
    assert Separation.objects.count() == 2
    detail = account.client.get(f"/api/v1/separations/{high['id']}").json()
    assert detail["quality"] == "high"


@pytest.mark.django_db
def test_an_unknown_quality_is_400(account: Account, tmp_path: Path) -> None:
    response = upload(account.client, song(tmp_path), quality="ultra")
    body = assert_error(response, 400, "invalid_request")
    assert "quality" in body["error"]["fields"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_another_quality_with_the_same_key_is_another_request(
    account: Account, tmp_path: Path
) -> None:
    path = song(tmp_path)
    first = upload(account.client, path, {"Idempotency-Key": "q1"}, quality="standard")
    assert first.status_code == 202
    same = upload(account.client, path, {"Idempotency-Key": "q1"}, quality="standard")
    assert same.json()["id"] == first.json()["id"] and same["Idempotent-Replayed"] == "true"
    other = upload(account.client, path, {"Idempotency-Key": "q1"}, quality="high")
    assert_error(other, 422, "idempotency_mismatch")
    unnamed = upload(account.client, path, {"Idempotency-Key": "q1"})
    assert_error(unnamed, 422, "idempotency_mismatch")
    # A key used without a quality keeps matching the same request without one.
    plain = upload(account.client, path, {"Idempotency-Key": "q2"})
    assert (
        upload(account.client, path, {"Idempotency-Key": "q2"}).json()["id"] == plain.json()["id"]
    )
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_a_links_quality_reaches_its_separation(account: Account, tmp_path: Path) -> None:
    data = song(tmp_path, 3).read_bytes()
    site = Site({"/song.mp3": (200, {"Content-Type": "audio/mpeg"}, data)}, port=LINK_PORT)
    try:
        url = f"http://127.0.0.1:{LINK_PORT}/song.mp3"
        response = account.client.post(
            "/api/v1/separations", {"url": url, "quality": "standard"}, format="json"
        )
        assert response.status_code == 202, response.content
        body = response.json()
        assert body["status"] == "fetching" and body["quality"] == "standard"
        link = LinkImport.objects.get()
        assert link.quality == "standard"
        assert import_link_task(str(link.pk)) == "succeeded"
    finally:
        site.close()
    detail = account.client.get(body["url"]).json()
    assert_matches("Separation", detail)
    assert detail["quality"] == "standard"
    assert Job.objects.get().separation.quality == "standard"


def _stems(separation: Separation) -> dict[str, np.ndarray]:
    out = {}
    for stem in ("vocals", "accompaniment"):
        with default_storage.open(getattr(separation, stem).name, "rb") as fh:
            data = fh.read()
        path = Path(f"/tmp/{separation.pk}-{stem}.flac")
        path.write_bytes(data)
        out[stem] = decode_with_ffmpeg(path)
        path.unlink()
    return out


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_standard_job_through_the_worker_stores_the_official_equal_stems(
    celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    user = make_user(credits=10)
    _, key = services.create_key(user, "quality")
    client = client_for(key)
    path = song(tmp_path, 6, seed=41)
    ids = {q: upload(client, path, quality=q).json()["id"] for q in ("standard", "high")}
    shared = upload(client, path, quality="standard").json()["id"]
    deadline = time.monotonic() + 300
    while Separation.objects.exclude(status="succeeded").exists():
        failed = Separation.objects.filter(status="failed").first()
        assert failed is None, failed.error_message if failed else ""
        assert time.monotonic() < deadline, celery_worker.log()[-3000:]
        time.sleep(0.5)
    separations = {q: Job.objects.get(api_job__pk=pk).separation for q, pk in ids.items()}
    assert Separation.objects.count() == 2
    assert Job.objects.get(api_job__pk=shared).separation == separations["standard"]
    assert separations["standard"].quality == "standard"
    assert separations["high"].quality == "high"
    for pk in (*ids.values(), shared):
        assert client.get(f"/api/v1/separations/{pk}").json()["status"] == "succeeded"

    # The stored stems are the engine's standard mode (the official output), not the high one:
    # computed again here by an engine set up as the worker's (same settings, same precision).
    engine = worker.get_engine()
    expected = {s: Output.lossless(tmp_path / f"{s}.flac") for s in ("vocals", "accompaniment")}
    engine.separate_file(path, expected, quality="standard")
    reference = {s: decode_with_ffmpeg(o.path) for s, o in expected.items()}
    standard, high = _stems(separations["standard"]), _stems(separations["high"])
    scores = {
        stem: (sdr(ref, standard[stem]), sdr(ref, high[stem])) for stem, ref in reference.items()
    }
    print(f"SDR of the stored stems vs the standard mode (standard, high): {scores}")
    for stem, (same, other) in scores.items():
        assert same > 100.0, (stem, scores)  # measured: over 300 dB, the same samples
        assert other < 60.0, (stem, scores)  # measured: 31 to 46 dB
