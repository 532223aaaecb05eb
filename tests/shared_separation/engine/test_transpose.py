"""A new key and tempo, checked as audio: length, pitch and peaks of real rubberband renders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import media
from tests.audio import make_song

RATE = 44100


def _tone(path: Path, freq: float, seconds: float, level: float = 0.5) -> Path:
    expr = f"{level}*sin(2*PI*{freq}*t)"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"aevalsrc='{expr}|{expr}':s={RATE}:d={seconds}", "-c:a", "flac", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return float(out.stdout)


def _samples(path: Path) -> np.ndarray:
    """Decode a file to float32 stereo, as a player would (no clipping of overshoots)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "2", "pipe:1"],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(out.stdout, dtype=np.float32).reshape(-1, 2)


def _main_frequency(samples: np.ndarray) -> float:
    mono = samples.mean(axis=1)
    mono = mono[RATE // 2 : -RATE // 2]  # away from the edges' onsets
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize("tempo", [0.7, 0.93, 1.0, 1.3])
def test_a_render_lasts_the_length_divided_by_the_tempo(tmp_path: Path, tempo: float) -> None:
    song = make_song(tmp_path / "song.flac", 7.3)
    length = _duration(song)
    for fmt in ("flac", "wav"):
        dest = tmp_path / f"out-{tempo}.{fmt}"
        media.transpose(song, dest, fmt, semitones=-3, tempo=tempo)
        assert abs(_duration(dest) - length / tempo) <= 0.010


def test_twelve_semitones_up_is_one_octave(tmp_path: Path) -> None:
    src = _tone(tmp_path / "a220.flac", 220.0, 4)
    dest = tmp_path / "up.wav"
    media.transpose(src, dest, "wav", semitones=12, tempo=1.0)
    assert _main_frequency(_samples(src)) == pytest.approx(220.0, abs=1)
    assert _main_frequency(_samples(dest)) == pytest.approx(440.0, abs=2)


def test_a_slower_tempo_keeps_the_pitch(tmp_path: Path) -> None:
    src = _tone(tmp_path / "a330.flac", 330.0, 4)
    dest = tmp_path / "slow.wav"
    media.transpose(src, dest, "wav", semitones=0, tempo=0.8)
    assert _main_frequency(_samples(dest)) == pytest.approx(330.0, abs=2)


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac"])
def test_nothing_clips_even_from_a_song_at_full_scale(tmp_path: Path, fmt: str) -> None:
    loud = tmp_path / "loud.flac"
    song = make_song(tmp_path / "song.wav", 5)
    # The song pushed to full scale (peak 0 dBFS): a new pitch adds peaks over the original's.
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(song), "-af", "loudnorm=I=-8:TP=0,volume=3dB",
         "-ar", str(RATE), "-c:a", "flac", str(loud)],
        check=True,
    )  # fmt: skip
    assert np.abs(_samples(loud)).max() >= 0.99
    dest = tmp_path / f"up.{fmt}"
    media.transpose(loud, dest, fmt, semitones=5, tempo=1.2)
    assert np.abs(_samples(dest)).max() <= 1.0
    assert np.abs(_samples(dest)).max() <= media.TRANSPOSE_CEILING * 1.06  # -1 dBFS, MP3's ripple


def test_a_preview_is_the_first_seconds_rendered_the_same_way(tmp_path: Path) -> None:
    song = make_song(tmp_path / "song.flac", 6)
    whole, preview = tmp_path / "whole.wav", tmp_path / "preview.wav"
    media.transpose(song, whole, "wav", semitones=2, tempo=0.9)
    media.transpose(song, preview, "wav", semitones=2, tempo=0.9, seconds=3)
    assert abs(_duration(preview) - 3.0) <= 0.010
    head = _samples(whole)[: 3 * RATE]
    assert np.abs(_samples(preview) - head).max() <= 2 / 32768  # same render, 16-bit rounding


def test_a_failed_render_raises_and_leaves_no_file(tmp_path: Path) -> None:
    song = make_song(tmp_path / "song.flac", 2)
    dest = tmp_path / "out.mp3"
    with pytest.raises(media.SeparationError) as caught:
        media.transpose(song, dest, "mp3", semitones=0, tempo=500.0)  # over rubberband's range
    assert caught.value.code == media.ErrorCode.ENCODE_FAILED
    assert not dest.exists() and not list(tmp_path.glob("*.part"))
