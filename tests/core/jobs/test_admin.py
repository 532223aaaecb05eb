"""The admin shows jobs, separations and links read-only; its actions go through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from core.billing import selectors
from core.jobs import services
from core.jobs.models import AudioSource, Job, LinkImport, RemoteMedia, Separation
from tests.core.billing.helpers import assert_consistent, kinds, submit, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(admin_client: Client) -> Client:
    """The admin on a host the brand middleware serves."""
    admin_client.defaults["HTTP_HOST"] = "localhost"
    return admin_client


def _act(admin: Client, model: str, action: str, *pks: object) -> str:
    """Run a changelist action on rows and return the page it leads to, with its message."""
    answer = admin.post(
        f"/admin/jobs/{model}/",
        {"action": action, "_selected_action": [str(pk) for pk in pks]},
        follow=True,
    )
    assert answer.status_code == 200
    return answer.content.decode()


def _running_job() -> Job:
    job = services.submit(
        ContentFile(b"some audio", name="song.mp3"),
        services.Submission(original_name="song.mp3", stem="vocals", brand="acapella-extractor"),
    )
    claim, _separation = services.claim_separation(job.separation_id, "gpu-1")
    assert claim == services.Claim.CLAIMED
    services.record_progress(job.separation_id, 0.4)
    job.refresh_from_db()
    return job


def test_the_change_pages_show_the_state_and_offer_nothing_to_edit(admin: Client) -> None:
    job = _running_job()
    media = RemoteMedia.objects.create(
        extractor="youtube", media_id="abc", url="https://www.youtube.com/watch?v=abc",
        lease_until=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    link = LinkImport.objects.create(
        url="https://www.youtube.com/watch?v=abc", stem="vocals", status="fetching", media=media
    )
    pages = {
        "job": (job.pk, ["Running", "song.mp3"]),
        "separation": (job.separation_id, ["Running", "gpu-1", "0.4"]),
        "audiosource": (job.separation.source_id, ["song.mp3"]),
        "linkimport": (link.pk, ["Fetching"]),
        "remotemedia": (media.pk, ["youtube", "abc"]),
    }
    for model, (pk, shown) in pages.items():
        page = admin.get(f"/admin/jobs/{model}/{pk}/change/")
        assert page.status_code == 200, model
        html = page.content.decode()
        for text in shown:
            assert f'<div class="readonly">{text}' in html, (model, text)
        for field in ("status", "progress", "worker", "attempts", "error_code", "lease_until"):
            assert f'name="{field}"' not in html, (model, field)
        assert 'name="_save"' not in html, model
        assert admin.get(f"/admin/jobs/{model}/add/").status_code == 403, model


def test_a_post_cannot_change_a_state_field(admin: Client) -> None:
    job = _running_job()
    link = LinkImport.objects.create(url="https://e.com/a.mp3", stem="vocals")
    forged = {"status": "succeeded", "progress": "1", "worker": "me", "attempts": "0"}
    for model, pk in (("job", job.pk), ("separation", job.separation_id), ("linkimport", link.pk)):
        answer = admin.post(f"/admin/jobs/{model}/{pk}/change/", forged)
        assert answer.status_code == 403, model
    job.refresh_from_db()
    separation = Separation.objects.get(pk=job.separation_id)
    link.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    assert (separation.status, separation.progress, separation.worker, separation.attempts) == (
        Separation.Status.RUNNING, 0.4, "gpu-1", 1,
    )  # fmt: skip
    assert link.status == LinkImport.Status.QUEUED


def test_cancel_gives_the_credits_back_once(admin: Client) -> None:
    user = user_with(5)
    job = submit(user)
    assert selectors.balance(user) == 3
    page = _act(admin, "job", "cancel", job.pk)
    assert "1 job cancelled." in page
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert Separation.objects.get(pk=job.separation_id).status == Separation.Status.CANCELLED
    assert kinds(job) == ["reserve", "release"] and selectors.balance(user) == 5
    again = _act(admin, "job", "cancel", job.pk)
    assert "0 jobs cancelled; 1 skipped (not queued or running)." in again
    assert kinds(job) == ["reserve", "release"]
    assert_consistent(user)


def test_fail_stops_a_running_separation_and_releases_its_jobs(admin: Client) -> None:
    user = user_with(5)
    job = submit(user)
    services.claim_separation(job.separation_id, "gpu-1")
    page = _act(admin, "separation", "stop", job.separation_id)
    assert "1 separation failed." in page
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Job.Status.FAILED, "cancelled")
    assert "operators stopped" in job.error_message
    assert kinds(job) == ["reserve", "release"] and selectors.balance(user) == 5
    # The worker's next heartbeat finds it is no longer its to run.
    assert not services.record_progress(job.separation_id, 0.5)
    again = _act(admin, "separation", "stop", job.separation_id)
    assert "0 separations failed; 1 skipped (not queued or running)." in again


def test_expire_takes_only_separations_whose_retention_is_over(admin: Client) -> None:
    old, fresh = submit(None, b"old song"), submit(None, b"fresh song")
    for job in (old, fresh):
        services.claim_separation(job.separation_id, "gpu-1")
        services.complete_separation(job.separation_id, vocals="v.flac", accompaniment="a.flac")
    long_ago = timezone.now() - timedelta(days=30)
    Separation.objects.filter(pk=old.separation_id).update(finished_at=long_ago)
    Job.objects.filter(pk=old.pk).update(created_at=long_ago)
    page = _act(admin, "separation", "expire_now", old.separation_id, fresh.separation_id)
    assert "1 separation expired; 1 skipped (not finished, or their retention" in page
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (Job.Status.EXPIRED, Job.Status.SUCCEEDED)
    assert AudioSource.objects.get(pk=old.separation.source_id).file == ""


def test_fail_takes_queued_links_and_leaves_fetching_ones_to_their_worker(admin: Client) -> None:
    queued = LinkImport.objects.create(url="https://e.com/a.mp3", stem="vocals")
    fetching = LinkImport.objects.create(url="https://e.com/b.mp3", stem="vocals")
    assert services.claim_link(fetching.pk) is not None
    page = _act(admin, "linkimport", "stop", queued.pk, fetching.pk)
    assert "1 link failed; 1 skipped (not queued)." in page
    queued.refresh_from_db()
    fetching.refresh_from_db()
    assert (queued.status, queued.error_code) == (LinkImport.Status.FAILED, "cancelled")
    assert queued.finished_at is not None
    assert fetching.status == LinkImport.Status.FETCHING


def test_staff_who_may_only_look_get_no_actions(client: Client) -> None:
    viewer = User.objects.create_user("viewer", "viewer@example.com", "x-secret-1", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_job"]))
    client.force_login(viewer)
    client.defaults["HTTP_HOST"] = "localhost"
    job = submit(user_with(5))
    listing = client.get("/admin/jobs/job/").content.decode()
    assert "song.mp3" in listing and 'value="cancel"' not in listing
    client.post("/admin/jobs/job/", {"action": "cancel", "_selected_action": [str(job.pk)]})
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
