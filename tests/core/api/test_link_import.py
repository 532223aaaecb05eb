"""A link sent to the API is fetched (real yt-dlp, a local site) and becomes the account's job."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from core.api import services
from core.billing import selectors as billing
from core.jobs.models import Job, LinkImport
from shared_separation.tasks import import_link_task
from tests.audio import make_song
from tests.core.api.conftest import Account, assert_matches, client_for, make_user
from tests.httpsite import Site

pytestmark = pytest.mark.django_db

LINK_PORT = int(os.environ["STEMSPLIT_TEST_LINK_PORT"])


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A song of 70 s: two credits."""
    return make_song(tmp_path_factory.mktemp("link") / "song.mp3", 70).read_bytes()


@pytest.fixture
def site(song: bytes) -> Iterator[Site]:
    """The song on the one local address links may reach here."""
    s = Site({"/song.mp3": (200, {"Content-Type": "audio/mpeg"}, song)}, port=LINK_PORT)
    yield s
    s.close()


def _submit(client: object, url: str) -> dict[str, object]:
    response = client.post(  # type: ignore[attr-defined]
        "/api/v1/separations", {"url": url, "format": "flac"}, format="json"
    )
    assert response.status_code == 202, response.content
    body: dict[str, object] = response.json()
    return body


def test_a_fetched_link_becomes_a_paid_job_of_the_account(account: Account, site: Site) -> None:
    body = _submit(account.client, f"{site.base}/song.mp3")
    assert body["status"] == "fetching"
    assert import_link_task(str(LinkImport.objects.get().pk)) == "succeeded"
    status = account.client.get(f"/api/v1/separations/{body['id']}").json()
    assert_matches("Separation", status)
    assert status["status"] == "queued" and status["name"] == "song.mp3"
    assert status["format"] == "flac" and status["credits_held"] == 2
    assert billing.balance(account.user) == 98


def test_a_link_longer_than_the_balance_fails_with_the_reason(site: Site) -> None:
    user = make_user(credits=1)
    _, key = services.create_key(user, "k")
    client = client_for(key)
    body = _submit(client, f"{site.base}/song.mp3")
    import_link_task(str(LinkImport.objects.get().pk))
    status = client.get(f"/api/v1/separations/{body['id']}").json()
    assert_matches("Separation", status)
    assert status["status"] == "failed"
    assert "balance is 1" in status["error"]["message"]
    assert not Job.objects.exists()
    assert billing.balance(user) == 1
