"""Tempo and key from generated audio of known tempo and key, with the real librosa and ffmpeg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import ErrorCode, SeparationError
from shared_separation.engine.analysis import NAMES, analyze, analyze_file, camelot
from tests.audio import make_keyed_song, make_song


@pytest.mark.parametrize(
    ("bpm", "tonic", "minor", "key", "code"),
    [
        (90.0, 9, True, "A minor", "8A"),
        (128.0, 0, False, "C major", "8B"),
        (110.0, 2, True, "D minor", "7A"),
        (140.0, 10, False, "Bb major", "6B"),
    ],
)
def test_reads_the_tempo_and_key_of_a_song(
    tmp_path: Path, bpm: float, tonic: int, minor: bool, key: str, code: str
) -> None:
    song = make_keyed_song(tmp_path / "song.mp3", 8, bpm=bpm, tonic=tonic, minor=minor)
    result = analyze_file(song)
    assert abs(result.bpm / bpm - 1) <= 0.02, result
    assert (result.key, result.camelot) == (key, code), result
    assert result.tonic == NAMES[tonic] and result.mode == ("minor" if minor else "major")
    assert 0 < result.bpm_confidence <= 1 and 0 < result.key_confidence <= 1
    stored = result.as_dict()
    assert stored["key"] == key and stored["camelot"] == code and stored["bpm"] == result.bpm


def test_camelot_codes_walk_the_circle_of_fifths() -> None:
    wheel_minor = ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"]
    wheel_major = ["B", "F#", "C#", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E"]
    for number, (m, major) in enumerate(zip(wheel_minor, wheel_major, strict=True), start=1):
        assert camelot(NAMES.index(m), minor=True) == f"{number}A"
        assert camelot(NAMES.index(major), minor=False) == f"{number}B"


def test_silence_and_tiny_clips_give_no_confidence() -> None:
    for audio in (np.zeros(44100 * 5, dtype=np.float32), np.ones(1000, dtype=np.float32)):
        result = analyze(audio, 44100)
        assert result.bpm_confidence == 0 and result.key_confidence == 0


def test_a_file_that_is_not_audio_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "song.mp3"
    bad.write_bytes(b"This is a text file pretending to be an MP3.\n" * 50)
    with pytest.raises(SeparationError) as caught:
        analyze_file(bad)
    assert caught.value.code == ErrorCode.NOT_AUDIO


def test_a_file_cut_inside_its_header_is_refused(tmp_path: Path) -> None:
    whole = make_song(tmp_path / "whole.flac", 6)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[:200])
    with pytest.raises(SeparationError):
        analyze_file(cut)
