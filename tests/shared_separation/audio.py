"""Audio helpers for the separation tests: generated songs and tones, ffmpeg, SDR."""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SR = 44100


def run_ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly and fail the test with its message if it fails."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    result = subprocess.run(cmd, capture_output=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed: {result.stderr.decode(errors='replace')}")


def ffprobe_json(path: Path, entries: str) -> dict:
    """Return ffprobe's JSON for the given -show_entries."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(out)


def decode_with_ffmpeg(path: Path) -> np.ndarray:
    """Decode a file to float32 stereo 44.1 kHz with a plain ffmpeg call (the test's reference)."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path)]
    cmd += ["-f", "f32le", "-ac", "2", "-ar", str(SR), "pipe:1"]
    out = subprocess.run(
        cmd,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<f4").reshape(-1, 2).copy()


def write_wav_f32(path: Path, audio: np.ndarray, sample_rate: int = SR) -> Path:
    """Write a float32 WAV, which ffmpeg decodes back bit-exactly."""
    import scipy.io.wavfile

    scipy.io.wavfile.write(path, sample_rate, np.ascontiguousarray(audio, dtype=np.float32))
    return path


def encode(audio: np.ndarray, path: Path, codec_args: Sequence[str], sample_rate: int = SR) -> Path:
    """Encode a float array into any format through ffmpeg."""
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    raw = path.with_name(path.name + ".f32")
    raw.write_bytes(np.ascontiguousarray(audio, dtype="<f4").tobytes())
    try:
        run_ffmpeg(
            "-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", str(raw),
            *codec_args, str(path),
        )  # fmt: skip
    finally:
        raw.unlink()
    return path


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-distortion ratio of `estimate` against `reference`, in dB."""
    assert reference.shape == estimate.shape, (reference.shape, estimate.shape)
    ref = reference.astype(np.float64)
    err = ref - estimate.astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-30)))


def _harmonic(phase: np.ndarray, gains: Sequence[float]) -> np.ndarray:
    total: np.ndarray = sum(g * np.sin((k + 1) * phase) for k, g in enumerate(gains))
    return total


@functools.lru_cache(maxsize=8)
def synth_song(seconds: float, seed: int = 0) -> np.ndarray:
    """Make a stereo 44.1 kHz "song": chords, bass, drums and a sung, vowel-shaped melody.

    Deterministic for a given (seconds, seed); the result is read-only so the cache stays intact.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    beat = 0.5  # 120 bpm
    left = np.zeros(n)
    right = np.zeros(n)

    # Chords: one per bar, sawtooth-like pads with a slow attack, panned slightly apart.
    roots = [220.0, 174.61, 261.63, 196.0]
    bar = 4 * beat
    chord_index = (t // bar).astype(int) % len(roots)
    pad = np.zeros(n)
    for ratio in (1.0, 1.26, 1.5):
        freq = np.array(roots)[chord_index] * ratio
        phase = 2 * np.pi * np.cumsum(freq) / SR
        pad += _harmonic(phase, [0.5 / k for k in range(1, 9)])
    pad *= 0.05 * (1 - np.exp(-(t % bar) / 0.15))
    left += pad * 0.9
    right += pad * 0.6

    # Bass: the chord root an octave down, plucked on every beat.
    bass_phase = 2 * np.pi * np.cumsum(np.array(roots)[chord_index] / 2) / SR
    bass = _harmonic(bass_phase, [1.0, 0.4, 0.2]) * np.exp(-(t % beat) / 0.25) * 0.12
    left += bass
    right += bass

    # Drums: a kick on every beat, noise hats on the off-beats.
    since_beat = t % beat
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-since_beat / 0.03)) * since_beat)
    kick *= np.exp(-since_beat / 0.12) * 0.25
    since_off = (t + beat / 2) % beat
    hats = rng.standard_normal(n) * np.exp(-since_off / 0.02) * 0.04
    hats = np.diff(hats, prepend=0.0)  # brighter
    left += kick + hats * 0.7
    right += kick + hats

    # Voice: notes of a melody with vibrato, harmonics shaped by moving vowel formants,
    # syllable envelopes and breath noise; silent in some bars, as singers are.
    melody = [392.0, 440.0, 493.88, 440.0, 392.0, 329.63, 349.23, 392.0]
    note_len = beat
    note_index = (t // note_len).astype(int)
    f0 = np.array(melody)[note_index % len(melody)]
    f0 = f0 * (1 + 0.012 * np.sin(2 * np.pi * 5.5 * t)) * (1 + 0.003 * rng.standard_normal())
    phase = 2 * np.pi * np.cumsum(f0) / SR
    vowels = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480]])
    formants = vowels[(note_index // 2) % len(vowels)].astype(float)
    voice = np.zeros(n)
    for k in range(1, 30):
        freq = k * f0
        gain = sum(
            np.exp(-0.5 * ((freq - formants[:, j]) / (80 + 40 * j)) ** 2) * (1.0, 0.5, 0.3)[j]
            for j in range(3)
        )
        voice += gain * np.sin(k * phase) / np.sqrt(k)
    within = t % note_len
    envelope = np.minimum(within / 0.04, 1) * np.exp(-within / 0.9)
    sung = ((t // (4 * bar)) % 3 != 2).astype(float)  # two phrases sung, one instrumental
    voice = voice * envelope * sung * 0.1 + rng.standard_normal(n) * envelope * sung * 0.002
    left += voice
    right += voice * 0.95

    song = np.stack([left, right], axis=1)
    song *= 0.5 / np.max(np.abs(song))
    out = song.astype(np.float32)
    out.flags.writeable = False
    return out


def stereo_tones(seconds: float, sample_rate: int = SR) -> np.ndarray:
    """Return 440 Hz on the left and 660 Hz on the right, at 0.3 and 0.2."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], 1)
