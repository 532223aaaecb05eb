"""The media gateway: local copies for ffmpeg, and the engine's calls it passes on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from core.jobs import media
from tests.audio import make_song


def test_a_stored_file_is_copied_under_its_own_name_and_removed_after() -> None:
    name = default_storage.save("tests/gateway/song.mp3", ContentFile(b"ID3 some bytes"))
    try:
        with media.local_copy(name) as path:
            assert path.name == Path(name).name
            assert path.read_bytes() == b"ID3 some bytes"
        assert not path.exists()
    finally:
        default_storage.delete(name)


def test_an_upload_in_memory_is_copied_and_one_on_disk_is_read_in_place() -> None:
    small = SimpleUploadedFile("song.mp3", b"small upload")
    with media.local_path(small) as path:
        assert path.read_bytes() == b"small upload"
    assert not path.exists()
    assert small.tell() == 0  # read again by whoever stores it

    large = TemporaryUploadedFile("song.mp3", "audio/mpeg", 11, None)
    large.write(b"large bytes")
    large.flush()
    try:
        with media.local_path(large) as path:
            assert path == Path(large.temporary_file_path())
    finally:
        large.close()


def test_probe_excerpt_and_peak_levels_go_through_the_gateway(tmp_path: Path) -> None:
    song = make_song(tmp_path / "song.wav", 3.0)
    assert media.probe(song).duration == pytest.approx(3.0, abs=0.05)
    cut = tmp_path / "cut.flac"
    media.excerpt(song, cut, 1.0)
    assert media.probe(cut).duration == pytest.approx(1.0, abs=0.05)
    levels = media.peak_levels(cut, 1024)
    assert len(levels) == -(-44100 // 1024)  # every whole hop, and the shorter last one
    assert 0 < float(np.max(levels)) <= 1.0
    with pytest.raises(media.SeparationError) as refused:
        media.probe(tmp_path / "missing.mp3")
    assert refused.value.code == media.ErrorCode.NOT_AUDIO
