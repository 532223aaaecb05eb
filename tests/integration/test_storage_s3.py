"""An S3 bucket is one setting away: every file lives in it, and downloads are signed URLs."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from pytest_django.fixtures import Settings

from core import storage
from core.env import env_storages
from core.jobs import deliveries
from tests.factories import finished_job
from tests.integration.s3 import S3Server

VR_HOST = "vocals-remover.localhost:8000"


def test_the_local_folder_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("STORAGE_BACKEND", "AWS_STORAGE_BUCKET_NAME"):
        monkeypatch.delenv(name, raising=False)
    default = env_storages(tmp_path, url_expiry=60)["default"]
    assert default["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert default["OPTIONS"] == {"location": tmp_path}


def test_a_bucket_name_alone_selects_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STORAGE_BACKEND", raising=False)
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "media")
    monkeypatch.setenv("AWS_S3_REGION_NAME", "eu-west-3")
    default = env_storages(tmp_path, url_expiry=120)["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    options = default["OPTIONS"]
    assert options["bucket_name"] == "media"
    assert options["region_name"] == "eu-west-3"
    assert options["querystring_expire"] == 120
    assert options["querystring_auth"] is True
    assert options["file_overwrite"] is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME"),
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND must be local or s3, not 'ftp'"),
        (
            {"AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ADDRESSING_STYLE": "sideways"},
            "AWS_S3_ADDRESSING_STYLE must be auto, path or virtual",
        ),
    ],
)
def test_a_wrong_storage_setting_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    for name in ("STORAGE_BACKEND", "AWS_STORAGE_BUCKET_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_storages(tmp_path, url_expiry=60)


@pytest.mark.django_db
def test_sources_stems_and_deliveries_live_in_the_bucket(
    s3_bucket: str, s3_server: S3Server, tmp_path: Path, settings: Settings
) -> None:
    # A song no other test stores, so that the local media folder cannot hold it already.
    job = finished_job(tmp_path, seed=9173)
    separation = job.separation
    name = deliveries.encoded(separation, job.stem, "mp3")
    keys = s3_server.keys(s3_bucket)
    assert separation.source.file.name in keys
    assert {separation.vocals.name, separation.accompaniment.name} <= keys
    assert name in keys and name.startswith(f"deliveries/{separation.pk}/")
    # Nothing of it went to the local media folder.
    assert not list(Path(settings.MEDIA_ROOT).glob(f"**/{separation.source.sha256}*"))
    assert not (Path(settings.MEDIA_ROOT) / "deliveries" / str(separation.pk)).exists()


@pytest.mark.django_db
def test_a_download_is_a_short_lived_presigned_url_of_the_bucket(
    s3_bucket: str, s3_server: S3Server, tmp_path: Path, settings: Settings
) -> None:
    settings.ANON_SUBMISSIONS_PER_HOUR = 0
    job = finished_job(tmp_path, name="Night Drive.mp3")
    before = time.time()
    response = Client(HTTP_HOST=VR_HOST).get(f"/jobs/{job.pk}/download/")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    url = urlsplit(response["Location"])
    assert f"{url.scheme}://{url.netloc}" == s3_server.endpoint
    assert url.path == f"/{s3_bucket}/deliveries/{job.separation_id}/accompaniment.mp3"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == [str(settings.DOWNLOAD_URL_EXPIRY)]
    signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"))
    assert abs(signed_at - time.timezone - before) < 60
    assert query["X-Amz-Signature"][0]
    with urllib.request.urlopen(response["Location"], timeout=10) as got:
        body = got.read()
        assert got.headers["Content-Type"] == "audio/mpeg"
        assert got.headers["Content-Disposition"] == (
            'attachment; filename="Night Drive (Instrumental).mp3"'
        )
    assert body[:3] == b"ID3" or body[:2] in (b"\xff\xfb", b"\xff\xf3")
    # The player's audio is sent to the bucket the same way.
    audio = Client(HTTP_HOST=VR_HOST).get(f"/jobs/{job.pk}/audio/result.mp3")
    assert audio.status_code == 302
    assert "X-Amz-Signature=" in audio["Location"]


@pytest.mark.django_db
def test_the_url_lifetime_is_a_setting(s3_bucket: str, tmp_path: Path, settings: Settings) -> None:
    settings.DOWNLOAD_URL_EXPIRY = 45
    url = storage.signed_url("deliveries/x/vocals.mp3", content_type="audio/mpeg")
    assert url is not None
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["45"]


@pytest.mark.django_db
def test_local_storage_is_served_by_django(tmp_path: Path, settings: Settings) -> None:
    settings.ANON_SUBMISSIONS_PER_HOUR = 0
    assert storage.signed_url("any", content_type="audio/mpeg") is None
    job = finished_job(tmp_path, seed=11)
    response = Client(HTTP_HOST=VR_HOST).get(f"/jobs/{job.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
