"""The disk fills up while a worker encodes the stems: the job fails, nothing corrupt is served."""

from __future__ import annotations

import html
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from core.billing.models import CreditAccount
from core.jobs.models import Job, Separation
from tests.audio import make_song
from tests.faults.conftest import Stack, ledger, paying_user, ready, submit_song, wait_finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SECONDS = 30.0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB file system (tmpfs): room for the input, not for two lossless stems."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=1777", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"a small file system needs root to mount: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        # Lazily: a worker still holding a file there must not fail the teardown.
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_during_the_encode_fails_the_job_cleanly(
    stack: Stack, small_disk: Path, tmp_path: Path
) -> None:
    # The worker separates in its temporary folder, on the small disk; storage is elsewhere.
    worker = stack.separation_worker(TMPDIR=str(small_disk))
    ready(worker)
    owner = paying_user(credits=5)
    # An MP3 of 30 s is about 0.5 MB; its two FLAC stems need about 6 MB.
    path = make_song(tmp_path / "full-disk.mp3", SECONDS, seed=41)
    job = submit_song(path, SECONDS, owner)

    wait_finished([job], timeout=180, stack=stack)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "encode_failed", (job.error_code, job.error_message)
    assert "failed" in job.error_message and ".flac" in job.error_message
    assert "disk is full" in job.error_message
    separation = Separation.objects.get(pk=job.separation_id)
    assert separation.status == Separation.Status.FAILED
    assert not separation.vocals and not separation.accompaniment
    # Nothing half-written was stored, nor left on the full disk.
    assert not default_storage.exists(f"separations/{separation.pk}")
    # (pymp-* is the pool's own folder, there from the start.)
    assert [p.name for p in small_disk.iterdir() if not p.name.startswith("pymp-")] == []

    # The credits come back.
    assert ledger(job) == ["reserve", "release"]
    account = CreditAccount.objects.get(user=owner)
    assert (account.balance, account.reserved) == (5, 0)

    # The page says so, and there is nothing to download.
    client = Client(HTTP_HOST="vocals-remover.localhost")
    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200
    assert html.escape(job.error_message) in page.content.decode()
    download = client.get(f"/jobs/{job.pk}/download/")
    assert download.status_code in (404, 409, 410)
    assert not download.get("Content-Type", "").startswith("audio/")
