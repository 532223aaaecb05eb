"""Time the YouTube bot's render of a generated song: card, video, thumbnail and the silence check.

Run from the repository root: ``.venv/bin/python bench/render.py --seconds 180 --repeat 2``.
Prints the wall time of each part, the realtime factor (render time / song length; under 1 is
faster than the song plays), the CPU time, and what the machine is and how busy it was.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.audio import make_song
from youtube_bot import render

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
CARD = render.Card(
    brand="Vocals Remover",
    title="A Three Minute Benchmark Song",
    artist="The Generated Band",
    label="Instrumental",
    site="vocals-remover.com",
    background="#3730a3",
    text="#ffffff",
    accent="#ffffff",
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.system()} {platform.machine()}, {model or 'unknown CPU'}, "
        f"{cores} cores usable, {ffmpeg.stdout.splitlines()[0]}"
    )


def main() -> None:
    """Render the song `repeat` times and print the figures of each run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--preset", default="superfast")
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    print(f"machine: {_machine()}")
    options = render.RenderOptions(font=FONT, fps=args.fps, preset=args.preset)
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        folder = Path(tmp)
        song = make_song(folder / "stem.flac", args.seconds)
        print(f"song: {args.seconds:.0f} s stereo FLAC; preset {args.preset}, {args.fps} fps")
        for run in range(1, args.repeat + 1):
            load = os.getloadavg()[0]
            cpu0 = _children_cpu()
            t0 = time.perf_counter()
            render.peak_db(song)
            t1 = time.perf_counter()
            card = render.render_card(CARD, folder / "card.png", options)
            t2 = time.perf_counter()
            video = render.render_video(song, card, folder / "video.mp4", options)
            t3 = time.perf_counter()
            thumb = render.render_thumbnail(song, card, folder / "thumbnail.jpg", options)
            t4 = time.perf_counter()
            cpu = _children_cpu() - cpu0
            total = t4 - t0
            print(
                f"run {run}: total {total:.1f} s wall = {total / args.seconds:.3f} x realtime "
                f"(silence check {t1 - t0:.1f} s, card {t2 - t1:.1f} s, video {t3 - t2:.1f} s, "
                f"thumbnail {t4 - t3:.1f} s); ffmpeg CPU {cpu:.1f} s; "
                f"video {video.stat().st_size / 1e6:.1f} MB, thumbnail "
                f"{thumb.stat().st_size / 1e3:.0f} kB; load average at start {load:.2f}"
            )


if __name__ == "__main__":
    main()
