"""Uploads of a logged-in visitor: paid in credits; too few credits is a 402 with the balance,
and nothing reserved or stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from core.billing import selectors
from core.billing.models import CreditEntry
from core.jobs.models import AudioSource, Job
from tests.audio import make_song
from tests.core.billing.helpers import user_with
from tests.core.web.conftest import VR_HOST, stored_files

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def long_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A song of a little over two minutes: three credits."""
    return make_song(tmp_path_factory.mktemp("songs") / "Long Song.mp3", 121)


def _upload(client: Client, path: Path, *, json_reply: bool = False) -> _MonkeyPatchedWSGIResponse:
    data = SimpleUploadedFile(path.name, path.read_bytes())
    headers = {"accept": "application/json"} if json_reply else {}
    return client.post("/", {"file": data}, headers=headers)


def test_a_logged_in_upload_reserves_its_credits(long_song: Path) -> None:
    user = user_with(5)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    response = _upload(client, long_song)
    assert response.status_code == 303
    job = Job.objects.get()
    assert job.owner == user
    reserve = CreditEntry.objects.get(job=job)
    assert (reserve.kind, reserve.amount) == ("reserve", -3)
    assert (selectors.balance(user), selectors.reserved(user)) == (2, 3)


@pytest.mark.parametrize("json_reply", [False, True])
def test_too_few_credits_is_a_402_with_the_balance(long_song: Path, json_reply: bool) -> None:
    user = user_with(2)
    client = Client(HTTP_HOST=VR_HOST)
    client.force_login(user)
    before = stored_files()
    response = _upload(client, long_song, json_reply=json_reply)
    assert response.status_code == 402
    body = response.content.decode()
    if json_reply:
        assert json.loads(body)["balance"] == 2 and json.loads(body)["needed"] == 3
    else:
        assert "Not enough credits" in body and "your balance is 2 credits" in body
        assert "Vocals Remover" in body
    assert not Job.objects.exists()
    assert not AudioSource.objects.exists()
    assert stored_files() == before
    assert list(CreditEntry.objects.values_list("kind", flat=True)) == ["grant"]
    assert (selectors.balance(user), selectors.reserved(user)) == (2, 0)


def test_anonymous_uploads_stay_free(long_song: Path, settings: Settings) -> None:
    settings.ANON_MAX_DURATION = 300.0
    response = _upload(Client(HTTP_HOST=VR_HOST), long_song)
    assert response.status_code == 303
    assert Job.objects.get().owner is None
    assert not CreditEntry.objects.exists()
