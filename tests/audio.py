"""Generate short songs with ffmpeg: a voice-like tone over a bass and percussive noise."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
