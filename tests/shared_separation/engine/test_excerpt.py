"""media.excerpt: the first seconds of a song, lossless, the same bytes every time, never longer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import ErrorCode, SeparationError, media
from tests.shared_separation.audio import SR, decode_with_ffmpeg, encode, ffprobe_json, stereo_tones


def test_the_first_seconds_are_cut_losslessly_and_the_same_every_time(tmp_path: Path) -> None:
    reference = stereo_tones(40.0)
    src = encode(reference, tmp_path / "song.flac", ["-c:a", "flac", "-metadata", "title=Song"])
    first, second = tmp_path / "a.flac", tmp_path / "b.flac"
    media.excerpt(src, first, 30.0)
    media.excerpt(src, second, 30.0)
    decoded = decode_with_ffmpeg(first)
    assert len(decoded) == 30 * SR
    assert np.max(np.abs(decoded - reference[: 30 * SR])) < 1e-4  # 24-bit FLAC of the 16-bit
    assert first.read_bytes() == second.read_bytes()  # same song, same preview, same hash
    tags = ffprobe_json(first, "format_tags")["format"].get("tags", {})
    assert "title" not in {k.lower() for k in tags}  # no metadata, no encoder version
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "b.flac", "song.flac"]


def test_a_file_whose_header_lies_about_its_length_still_gives_30_seconds(
    tmp_path: Path,
) -> None:
    """A 50 s MP3 without its Xing header: its length is only guessed from the bit rate."""
    mp3 = tmp_path / "song.mp3"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=220:d=50:r=44100"),
            *("-c:a", "libmp3lame", "-q:a", "9", "-write_xing", "0", str(mp3)),
        ],
        check=True,
    )
    dest = tmp_path / "preview.flac"
    media.excerpt(mp3, dest, 30.0)
    assert media.probe(dest).duration <= 30.0
    assert 29 * SR < len(decode_with_ffmpeg(dest)) <= 30 * SR


def test_a_failed_cut_raises_and_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "song.mp3"
    src.write_text("not audio")
    with pytest.raises(SeparationError) as caught:
        media.excerpt(src, tmp_path / "preview.flac", 30.0)
    assert caught.value.code is ErrorCode.ENCODE_FAILED
    assert isinstance(caught.value.__cause__, media.ToolFailure)
    assert caught.value.__cause__.returncode != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mp3"]
