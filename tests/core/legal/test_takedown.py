"""Takedown notices: the form stores one and mails the sender; the admin's action removes and
blocks the audio on both sites and mails the sender again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.jobs import services
from core.jobs.models import Block, Job
from core.legal.models import TakedownNotice
from tests.core.web.conftest import AE_HOST, VR_HOST
from tests.factories import finished_job, stored_files

if TYPE_CHECKING:
    from pytest_django import DjangoCaptureOnCommitCallbacks

pytestmark = pytest.mark.django_db

VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def _notice(client: Client, location: str, **extra: str) -> object:
    data = {
        "work": "Song of Songs by The Owners",
        "location": location,
        "name": "Rita Rights",
        "email": "rita@label.example",
        "good_faith": "on",
        **extra,
    }
    return client.post("/copyright/", data)


def test_the_form_stores_the_notice_and_mails_the_sender(
    ae: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    page = ae.get("/copyright/").content.decode()
    assert 'name="good_faith"' in page and 'name="csrfmiddlewaretoken"' in page
    with django_capture_on_commit_callbacks(execute=True):
        answer = _notice(ae, VIDEO)
    assert answer.status_code == 201  # type: ignore[attr-defined]
    notice = TakedownNotice.objects.get()
    assert (notice.brand, notice.location, notice.email, notice.good_faith) == (
        "acapella-extractor",
        VIDEO,
        "rita@label.example",
        True,
    )
    assert notice.status == TakedownNotice.Status.RECEIVED
    assert len(mail.outbox) == 2
    sent, operator = mail.outbox
    assert sent.to == ["rita@label.example"]
    assert sent.subject == "Acapella Extractor: notice received"
    assert str(notice.pk) in sent.body and "Song of Songs by The Owners" in sent.body
    assert sent.reply_to == ["contact@acapella-extractor.localhost"]
    # The site's contact address hears of it, with the admin page to act on it.
    assert operator.to == ["contact@acapella-extractor.localhost"]
    assert operator.reply_to == ["rita@label.example"]
    assert f"/admin/legal/takedownnotice/{notice.pk}/change/" in operator.body


@pytest.mark.parametrize(
    ("change", "field"),
    [({"good_faith": ""}, "good_faith"), ({"email": "nope"}, "email"), ({"work": ""}, "work")],
)
def test_an_incomplete_notice_is_refused_and_nothing_is_stored(
    vr: Client, change: dict[str, str], field: str
) -> None:
    data = {"work": "W", "location": VIDEO, "name": "R", "email": "r@x.example", "good_faith": "on"}
    data.update(change)
    if not data["good_faith"]:
        del data["good_faith"]
    answer = vr.post("/copyright/", data)
    assert answer.status_code == 400
    assert 'role="alert"' in answer.content.decode()
    assert TakedownNotice.objects.count() == 0 and not mail.outbox


def test_the_admin_action_removes_the_audio_on_both_sites_and_blocks_it(
    tmp_path: Path,
    admin_client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job = finished_job(tmp_path)  # on Vocals Remover
    other = services.derive_job(job, brand="acapella-extractor", stem="vocals")
    source = job.separation.source
    with source.file.open("rb") as fh:
        data = fh.read()
    files = {source.file.name, job.separation.vocals.name, job.separation.accompaniment.name}
    # The notice names the Acapella Extractor's job page; the Vocals Remover's job shares it.
    with django_capture_on_commit_callbacks(execute=True):
        _notice(Client(HTTP_HOST=AE_HOST), f"https://acapella-extractor.localhost/jobs/{other.pk}/")
    notice = TakedownNotice.objects.get()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            "/admin/legal/takedownnotice/",
            {"action": "remove_and_block", "_selected_action": [str(notice.pk)]},
            headers={"host": VR_HOST},
            follow=True,
        )
    assert "1 notice acted upon." in answer.content.decode()
    notice.refresh_from_db()
    assert notice.status == TakedownNotice.Status.REMOVED and notice.source == source
    assert notice.acted_at is not None and "1 result(s) deleted" in notice.outcome
    assert not files & stored_files()
    assert set(Job.objects.values_list("status", flat=True)) == {Job.Status.EXPIRED}
    assert Block.objects.filter(sha256=source.sha256).exists()
    assert [m.subject for m in mail.outbox] == ["Acapella Extractor: content removed"]
    assert mail.outbox[0].to == ["rita@label.example"]

    for host in (VR_HOST, AE_HOST):
        again = Client(HTTP_HOST=host).post("/", {"file": SimpleUploadedFile("a.wav", data)})
        assert again.status_code == 451
        assert "removed after a copyright notice" in again.content.decode()

    # Acting twice does nothing more.
    answer = admin_client.post(
        "/admin/legal/takedownnotice/",
        {"action": "remove_and_block", "_selected_action": [str(notice.pk)]},
        headers={"host": VR_HOST},
        follow=True,
    )
    assert "0 notices acted upon; 1 skipped (not open)." in answer.content.decode()


def test_a_notice_naming_a_video_never_fetched_blocks_its_link(vr: Client) -> None:
    from core.legal import services as legal

    notice = legal.receive_notice(
        brand="vocals-remover", work="W", location=VIDEO, name="R", email="r@x.example",
        good_faith=True,
    )  # fmt: skip
    assert legal.act_on_notice(notice.pk)
    notice.refresh_from_db()
    assert "Youtube:dQw4w9WgXcQ" in notice.outcome  # yt-dlp's extractor key
    answer = vr.post("/links/", {"url": "https://youtu.be/dQw4w9WgXcQ?t=3"})
    assert answer.status_code == 451
    assert not legal.act_on_notice(notice.pk)
