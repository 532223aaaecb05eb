"""Generate short songs with ffmpeg: a voice-like tone over a bass and percussive noise."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

VOICE = "0.3*sin(2*PI*(220+4*sin(2*PI*5*t))*t)*gt(sin(2*PI*0.4*t),-0.3)"
BASS = "0.25*sin(2*PI*55*t)*exp(-4*mod(t,0.5))"


def make_song(path: Path, seconds: float, *, seed: int = 1) -> Path:
    """Write a stereo 44.1 kHz song of `seconds` to `path`, its format from the extension."""
    graph = (
        f"aevalsrc='{VOICE}|0.8*{VOICE}':s=44100:d={seconds}[v];"
        f"aevalsrc='{BASS}|{BASS}':s=44100:d={seconds}[b];"
        f"anoisesrc=d={seconds}:a=0.05:seed={seed}:r=44100,"
        f"volume='exp(-12*mod(t,0.25))':eval=frame[n];"
        "[n]aformat=channel_layouts=stereo[ns];"
        "[v][b][ns]amix=inputs=3:normalize=0[out]"
    )
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-filter_complex",
            graph,
            "-map",
            "[out]",
            "-ar",
            "44100",
            str(path),
        ],
        check=True,
    )
    return path


RATE = 44100
# Scale degrees of each bar's chord: I-IV-V-I in major, i-iv-V-i in minor (harmonic minor's V).
MAJOR_STEPS, MINOR_STEPS = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)


def make_keyed_song(
    path: Path, seconds: float, *, bpm: float, tonic: int, minor: bool, seed: int = 1
) -> Path:
    """Write a song of known tempo and key: drums on the beat, a bass and chords in the key.

    `tonic` is the key's pitch class (0 = C). Synthesized with numpy, written as 16-bit WAV
    and converted by ffmpeg when `path` names another format.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    out = np.zeros(n)
    beat = 60.0 / bpm
    steps = MINOR_STEPS if minor else MAJOR_STEPS

    def add(start_s: float, sound: np.ndarray) -> None:
        start = round(start_s * RATE)
        if start < n:
            piece = sound[: n - start]
            out[start : start + len(piece)] += piece

    def tone(freq: float, length_s: float, level: float) -> np.ndarray:
        t = np.arange(round(length_s * RATE)) / RATE
        wave_ = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3, 4))
        return level * wave_ * np.exp(-1.5 * t) * np.minimum(t / 0.01, 1)

    kick_t = np.arange(round(0.25 * RATE)) / RATE
    kick = 0.9 * np.sin(2 * np.pi * (50 * kick_t + 60 * (1 - np.exp(-30 * kick_t)) / 30))
    kick *= np.exp(-12 * kick_t)
    snare = (
        0.4 * rng.standard_normal(round(0.15 * RATE)) * np.exp(-25 * kick_t[: round(0.15 * RATE)])
    )
    hat = 0.04 * np.diff(rng.standard_normal(round(0.05 * RATE) + 1))
    hat *= np.exp(-80 * np.arange(len(hat)) / RATE)
    degrees = (0, 3, 4, 0)
    for b in range(int(seconds / beat) + 1):
        t0 = b * beat
        add(t0, kick if b % 2 == 0 else snare)
        add(t0, hat)
        add(t0 + beat / 2, hat)
        if b % 4 == 0:
            degree = degrees[(b // 4) % len(degrees)]
            chord = [steps[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
            if minor and degree == 4:
                chord[1] += 1  # the major dominant of harmonic minor
            root = 48 + tonic % 12  # C3 and up
            for k in range(4):
                add(t0 + k * beat, tone(440 * 2 ** ((root + chord[0] - 12 - 69) / 12), beat, 0.3))
            for key in chord:
                add(t0, tone(440 * 2 ** ((root + key + 12 - 69) / 12), 4 * beat, 0.12))
    out *= 0.8 / max(np.abs(out).max(), 1e-9)
    wav = path if path.suffix == ".wav" else path.with_suffix(".tmp.wav")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        pcm = (np.clip(out, -1, 1) * 32767).astype("<i2")
        w.writeframes(np.repeat(pcm[:, None], 2, axis=1).tobytes())
    if wav != path:
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ar", str(RATE), str(path)],
            check=True,
        )
        wav.unlink()
    return path
