"""Uploads in flight have their own folder, and what a killed process left there goes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings

from core.web.tempfiles import prepare_upload_dir


def test_stale_uploads_are_removed_and_the_rest_kept(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    old = folder / "tmpa1b2.upload.mp3"
    fresh = folder / "tmpc3d4.upload.wav"
    other = folder / "notes.txt"
    for path in (old, fresh, other):
        path.write_bytes(b"x" * 10)
    week_ago = time.time() - 7 * 24 * 3600
    os.utime(old, (week_ago, week_ago))
    os.utime(other, (week_ago, week_ago))

    assert prepare_upload_dir(folder) == 1
    assert not old.exists()
    assert fresh.exists() and other.exists()


def test_the_folder_is_made_when_missing(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    assert prepare_upload_dir(folder) == 0
    assert folder.is_dir()


def test_the_site_uses_its_own_folder_under_the_data_dir() -> None:
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    assert folder.is_dir()
    assert folder.is_relative_to(settings.DATA_DIR)
