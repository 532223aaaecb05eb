"""A signed download URL serves its file until it expires, then the bucket answers 403.

These run against s3rver (tests/integration/s3rver.py), which, unlike moto, checks SigV4
signatures and the expiry of presigned URLs, as S3 does.
"""

from __future__ import annotations

import calendar
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client, RequestFactory
from pytest_django.fixtures import Settings

from core import storage
from core.env import env_storages
from core.http import files
from tests.factories import finished_job
from tests.integration.s3rver import S3rverServer

VR_HOST = "vocals-remover.localhost:8000"
# Short, so the test waits little; at least 2 s of life remain after signing, as X-Amz-Date
# drops the fraction of the second.
EXPIRY = 3


@pytest.fixture(scope="session")
def s3rver_server() -> Iterator[S3rverServer]:
    """Start s3rver for the session."""
    server = S3rverServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def signing_bucket(
    s3rver_server: S3rverServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Make a fresh s3rver bucket the default storage, set as an operator sets it."""
    bucket = s3rver_server.new_bucket()
    for name, value in s3rver_server.env(bucket).items():
        monkeypatch.setenv(name, value)
    settings.DOWNLOAD_URL_EXPIRY = EXPIRY
    settings.STORAGES = env_storages(settings.MEDIA_ROOT, url_expiry=EXPIRY)
    return bucket


def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    """GET a URL; return the status, the body and the headers, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as got:
            return got.status, got.read(), dict(got.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(), dict(error.headers)


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def with_query(url: str, **changes: str) -> str:
    """Return the URL with some query parameters replaced, the rest (and the order) kept."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    params = [(key, changes.get(key, value)) for key, value in params]
    return urlunsplit(parts._replace(query=urlencode(params, quote_via=quote)))


def signed_at(url: str) -> int:
    """Return the URL's X-Amz-Date, in seconds since the epoch."""
    return calendar.timegm(time.strptime(query(url)["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))


def wait_past_expiry(url: str) -> None:
    """Sleep until the URL's X-Amz-Date + X-Amz-Expires is a second behind."""
    expires_at = signed_at(url) + int(query(url)["X-Amz-Expires"])
    time.sleep(max(0.0, expires_at + 1.0 - time.time()))


def refused(status: int, body: bytes, code: str) -> None:
    assert status == 403, body[:500]
    assert f"<Code>{code}</Code>".encode() in body, body[:500]


@pytest.mark.slow
@pytest.mark.django_db
def test_a_download_url_serves_the_file_until_it_expires_then_answers_403(
    signing_bucket: str, tmp_path: Path
) -> None:
    job = finished_job(tmp_path, name="Night Drive.mp3")
    response = Client(HTTP_HOST=VR_HOST).get(f"/jobs/{job.pk}/download/")
    assert response.status_code == 302
    url = response["Location"]
    assert query(url)["X-Amz-Expires"] == str(EXPIRY)
    key = urlsplit(url).path.removeprefix(f"/{signing_bucket}/")
    with default_storage.open(key, "rb") as fh:
        stored = fh.read()
    assert len(stored) > 1000

    status, body, headers = fetch(url)
    assert status == 200, body[:500]
    assert body == stored
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Content-Disposition"] == (
        'attachment; filename="Night Drive (Instrumental).mp3"'
    )

    wait_past_expiry(url)
    status, body, _ = fetch(url)
    refused(status, body, "AccessDenied")
    assert b"Request has expired" in body
    assert stored not in body and len(body) < 2000
    # Nor can its life be stretched by editing the URL: the signature covers X-Amz-Expires.
    status, body, _ = fetch(with_query(url, **{"X-Amz-Expires": "3600"}))
    refused(status, body, "SignatureDoesNotMatch")
    # A new visit to the download page hands out a new URL, which works again.
    again = Client(HTTP_HOST=VR_HOST).get(f"/jobs/{job.pk}/download/")["Location"]
    assert fetch(again)[:2] == (200, stored)


@pytest.mark.django_db
def test_a_signed_url_altered_in_any_part_answers_403(
    signing_bucket: str, settings: Settings
) -> None:
    # Long enough that no refusal below can be the expiry's.
    settings.DOWNLOAD_URL_EXPIRY = 600
    mine = default_storage.save("deliveries/mine/song.mp3", ContentFile(b"MINE" * 4096))
    other = default_storage.save("deliveries/other/song.mp3", ContentFile(b"OTHER" * 4096))
    request = RequestFactory().get("/", HTTP_HOST=VR_HOST)
    response = files.serve(
        request, mine, content_type="audio/mpeg", filename="Song (Vocals).mp3", as_attachment=True
    )
    assert response.status_code == 302
    url = response["Location"]
    assert storage.offers_signed_urls()
    assert query(url)["X-Amz-Expires"] == "600"
    # The URL as handed out works.
    assert fetch(url)[:2] == (200, b"MINE" * 4096)

    signature = query(url)["X-Amz-Signature"]
    flipped = signature[:-1] + ("1" if signature.endswith("0") else "0")
    later = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed_at(url) + 60))
    altered = {
        "signature": with_query(url, **{"X-Amz-Signature": flipped}),
        "another file": url.replace(f"/{mine}?", f"/{other}?"),
        "another name": with_query(
            url, **{"response-content-disposition": 'attachment; filename="x.exe"'}
        ),
        "another type": with_query(url, **{"response-content-type": "text/html"}),
        "longer life": with_query(url, **{"X-Amz-Expires": "604800"}),
        "later date": with_query(url, **{"X-Amz-Date": later}),
    }
    for what, bad in altered.items():
        assert bad != url, what
        status, body, _ = fetch(bad)
        assert status == 403, (what, body[:500])
        assert b"<Code>SignatureDoesNotMatch</Code>" in body, (what, body[:500])
        assert b"MINE" not in body and b"OTHER" not in body, what
