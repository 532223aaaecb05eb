"""Load test of the running stack with locust, and a report of what the system did.

    .venv/bin/python bench/load.py --users 90 --fans 50 --minutes 10

The stack must already run (scripts/run.sh, with ANON_SUBMISSIONS_PER_HOUR=0: every simulated
visitor comes from one address). Prints: requests per second held, p50/p95 latency of pages
while the workers were busy, jobs finished, errors, and how many separations the popular song
got (one, whatever the number of fans: the content hash joins them).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _song(path: Path, seconds: float, seed: int) -> None:
    """Write a distinct synthetic clip (tones and seeded noise) as MP3."""
    freq = 110 + 7 * seed
    graph = (
        f"aevalsrc='0.3*sin(2*PI*{freq}*t)*(1+0.5*sin(2*PI*3*t))|0.3*sin(2*PI*{freq * 1.5}*t)'"
        f":s=44100:d={seconds}[a];anoisesrc=d={seconds}:a=0.05:seed={seed}:r=44100,"
        "aformat=channel_layouts=stereo[n];[a][n]amix=inputs=2:normalize=0"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-filter_complex", graph, "-c:a", "libmp3lame",
         "-b:a", "192k", str(path)],
        check=True,
    )  # fmt: skip


def _clips(folder: Path, count: int, seconds: float, popular_seconds: float) -> Path:
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        target = folder / "clips" / f"clip-{i:03d}-{seconds:g}s.mp3"
        if not target.exists():
            _song(target, seconds, seed=1000 + i)
    popular = folder / f"popular-{popular_seconds:g}s.mp3"
    if not popular.exists():
        _song(popular, popular_seconds, seed=1)
    return popular


def _stats(prefix: Path) -> list[dict[str, str]]:
    with (prefix.parent / f"{prefix.name}_stats.csv").open() as fh:
        return list(csv.DictReader(fh))


def _separations_of(path: Path) -> tuple[int, int]:
    """Return (separations, jobs) recorded for one file's audio, from the stack's database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from core.jobs.models import Job, Separation

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return (
        Separation.objects.filter(source__sha256=sha).count(),
        Job.objects.filter(separation__source__sha256=sha).count(),
    )


def _finished_jobs_since(start: datetime) -> tuple[int, int]:
    from core.jobs.models import Job

    done = Job.objects.filter(created_at__gte=start, status=Job.Status.SUCCEEDED).count()
    failed = Job.objects.filter(created_at__gte=start, status=Job.Status.FAILED).count()
    return done, failed


def main() -> None:
    """Generate clips, run locust headless, print the report as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=90, help="visitors and fans together")
    parser.add_argument("--fans", type=int, default=50, help="who upload the popular song at once")
    parser.add_argument("--viral-after", type=float, default=120.0, help="seconds into the run")
    parser.add_argument("--popular-seconds", type=float, default=180.0)
    parser.add_argument("--spawn-rate", type=float, default=2.0)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8000)
    # Enough distinct clips that a visitor's upload is new audio for the whole run.
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "load")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    if args.fans >= args.users:
        parser.error("--fans must leave room for visitors in --users")
    popular = _clips(args.out, args.clips, args.clip_seconds, args.popular_seconds)
    prefix = args.out / "locust"
    env = {
        **os.environ,
        "LOAD_CLIPS": str(args.out / "clips"),
        "LOAD_POPULAR": str(popular),
        "LOAD_PORT": str(args.port),
        "LOAD_FANS": str(args.fans),
        "LOAD_VIRAL_AFTER": str(args.viral_after),
    }
    started = datetime.now(UTC)
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
         "--headless", "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
         "--run-time", f"{int(args.minutes * 60)}s", "--host", f"http://127.0.0.1:{args.port}",
         "--csv", str(prefix), "--only-summary", "--stop-timeout", "30"],
        env=env,
        check=False,
    )  # fmt: skip
    rows = {row["Name"]: row for row in _stats(prefix)}
    total = rows["Aggregated"]
    separations, fan_jobs = _separations_of(popular)
    done, failed = _finished_jobs_since(started)
    print()
    print(
        f"Load test on {platform.node()} ({os.cpu_count()} cores), {started:%Y-%m-%d %H:%M} UTC: "
        f"{args.users - args.fans} visitors and {args.fans} fans for {args.minutes:g} min "
        f"(the fans upload one {args.popular_seconds:g} s song at the same moment, "
        f"{args.viral_after:g} s in)"
    )
    print()
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| requests per second held | {float(total['Requests/s']):.1f} |")
    print(f"| requests, failures | {total['Request Count']}, {total['Failure Count']} |")
    names = ("page: home", "page: job", "poll: status.json", "upload", "upload: popular song")
    for name in (*names, "download: mp3"):
        if name in rows:
            row = rows[name]
            print(
                f"| {name}: p50 / p95 | {row['50%']} ms / {row['95%']} ms "
                f"({row['Request Count']} requests) |"
            )
    print(f"| jobs finished / failed (database) | {done} / {failed} |")
    print(f"| popular song: jobs / separations run | {fan_jobs} / {separations} |")


if __name__ == "__main__":
    main()
