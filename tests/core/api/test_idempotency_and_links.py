"""Idempotency-Key (same request: same job; another request: 422), links, callback addresses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.api.models import ApiJob
from core.billing import plans
from core.jobs.models import Job, LinkImport
from core.jobs.services import Refusal, check_format
from tests.core.api.conftest import Account, assert_error, assert_matches, client_for, make_user
from tests.core.api.helpers import song, upload

pytestmark = pytest.mark.django_db

LINK_PORT = int(os.environ["STEMSPLIT_TEST_LINK_PORT"])


def test_a_retry_with_the_same_key_and_body_gets_the_same_job(
    account: Account, tmp_path: Path
) -> None:
    path = song(tmp_path)
    first = upload(account.client, path, {"Idempotency-Key": "order-42"}, format="wav")
    again = upload(account.client, path, {"Idempotency-Key": "order-42"}, format="wav")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1 and ApiJob.objects.count() == 1


def test_the_same_key_with_another_body_is_422(account: Account, tmp_path: Path) -> None:
    path = song(tmp_path)
    assert upload(account.client, path, {"Idempotency-Key": "k1"}).status_code == 202
    other_format = upload(account.client, path, {"Idempotency-Key": "k1"}, format="flac")
    assert_error(other_format, 422, "idempotency_mismatch")
    other_file = upload(account.client, song(tmp_path, seed=5), {"Idempotency-Key": "k1"})
    assert_error(other_file, 422, "idempotency_mismatch")
    link = account.client.post(
        "/api/v1/separations",
        {"url": "http://203.0.113.9/song"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert_error(link, 422, "idempotency_mismatch")
    assert Job.objects.count() == 1


def test_keys_are_per_account_and_requests_without_one_are_new_jobs(
    account: Account, other: Account, tmp_path: Path
) -> None:
    path = song(tmp_path)
    mine = upload(account.client, path, {"Idempotency-Key": "same"}).json()
    theirs = upload(other.client, path, {"Idempotency-Key": "same"}).json()
    assert mine["id"] != theirs["id"]
    upload(account.client, path)
    upload(account.client, path)
    assert Job.objects.count() == 4
    # One audio: one separation, however many jobs ask for it.
    assert len({j.separation_id for j in Job.objects.all()}) == 1


def test_a_refused_request_does_not_burn_its_key(tmp_path: Path) -> None:
    from core.api import services
    from core.billing import services as billing

    user = make_user(credits=1)
    _, key = services.create_key(user, "k")
    client = client_for(key)
    path = song(tmp_path, 70)
    assert_error(upload(client, path, {"Idempotency-Key": "p"}), 402, "insufficient_credits")
    billing.purchase(user, 10, key="more")
    assert upload(client, path, {"Idempotency-Key": "p"}).status_code == 202


def test_a_link_is_accepted_and_fetching(account: Account) -> None:
    url = f"http://127.0.0.1:{LINK_PORT}/song"
    response = account.client.post(
        "/api/v1/separations", {"url": url, "stem": "vocals"}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert_matches("Separation", body)
    assert body["status"] == "fetching" and body["source"] == "link" and body["link"] == url
    link = LinkImport.objects.get()
    assert (link.owner, link.stem, link.brand) == (account.user, "vocals", "vocals-remover")


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("http://127.0.0.1:6379/", 422, "private_address"),
        ("http://169.254.169.254/latest/meta-data/", 422, "private_address"),
        ("http://[::1]/x", 422, "private_address"),
        ("file:///etc/passwd", 400, "invalid_url"),
        ("ftp://example.com/a.mp3", 400, "invalid_url"),
        ("http://example.com:99999/a.mp3", 400, "invalid_url"),
        ("http://example.com:http/a.mp3", 400, "invalid_url"),
        ("http://[::1/a.mp3", 400, "invalid_url"),
        ("http://example.com:\uff18\uff10/a.mp3", 400, "invalid_url"),
        ("http://example.com\uff1a80/a.mp3", 400, "invalid_url"),
    ],
)
def test_links_to_private_or_odd_addresses_are_refused(
    account: Account, url: str, status: int, code: str
) -> None:
    response = account.client.post("/api/v1/separations", {"url": url}, format="json")
    assert_error(response, status, code)
    assert not LinkImport.objects.exists() and not ApiJob.objects.exists()


def test_a_link_needs_at_least_one_credit(tmp_path: Path) -> None:
    from core.api import services

    user = make_user(credits=1)
    _, key = services.create_key(user, "k")
    client = client_for(key)
    assert upload(client, song(tmp_path)).status_code == 202  # holds the last credit
    response = client.post(
        "/api/v1/separations", {"url": f"http://127.0.0.1:{LINK_PORT}/s"}, format="json"
    )
    body = assert_error(response, 402, "insufficient_credits")
    assert body["error"]["balance"] == 0
    assert not LinkImport.objects.exists()


@pytest.mark.parametrize(
    "callback",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.1/hook",
        "gopher://example.com/",
        "http://u:p@x/",
    ],
)
def test_a_private_callback_address_is_422(account: Account, tmp_path: Path, callback: str) -> None:
    response = upload(account.client, song(tmp_path), callback_url=callback)
    assert_error(response, 422, "invalid_callback_url")
    assert not Job.objects.exists()


def test_a_format_outside_the_plan_names_the_plan_that_has_it() -> None:
    with pytest.raises(Refusal) as refused:
        check_format(plans.free_plan(), "flac")
    assert refused.value.status == 403
    assert refused.value.code == "plan_required"
    assert "Pro plan" in refused.value.message and "FLAC" in refused.value.message
