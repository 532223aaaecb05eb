"""Capacity of the separation pool: jobs per hour and queue wait for 1, 2... worker processes.

    .venv/bin/python bench/capacity.py --workers 1,2 --songs 12 --seconds 180

For each worker count, on this machine: a fresh redis-server, a fresh SQLite database and
media folder, and that many separation workers started with the deployment's own command
(`deploy/bin/stemsplit separation-worker`, one model per process). Distinct generated songs
of `--seconds` (3 minutes by default) are then submitted through `core.jobs.services.submit`,
as the web does, in two phases:

1. **Capacity**: `--songs` songs at once; jobs per hour = songs finished / (last finish -
   first start), the pool never idle in between.
2. **Steady stream**: `--songs` songs at a fixed interval that loads the pool to `--load`
   (0.8) of the capacity just measured; queue wait = start - submission, per song.

The figures mean something only on an otherwise idle machine: `load before` is printed and
stored. The output ends with the README's sizing table, computed from the last worker count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "deploy" / "bin" / "stemsplit"
SIZING_SONGS_PER_HOUR = (60, 300, 1000, 5000)
# The pool is sized to run at this utilisation at most, so that the queue stays short.
TARGET_UTILISATION = 0.7


@dataclass
class Result:
    """What one worker count achieved."""

    workers: int
    song_seconds: float
    songs: int
    capacity_jobs_per_hour: float
    service_seconds_mean: float
    realtime_factor: float
    stream_interval_s: float
    stream_jobs_per_hour: float
    wait_mean_s: float
    wait_p95_s: float
    wait_max_s: float
    load_before: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _song(path: Path, seconds: float, seed: int) -> Path:
    """Write a distinct stereo song (a vibrato voice, a bass, seeded percussion) as FLAC."""
    voice = f"0.3*sin(2*PI*({200 + 3 * seed}+4*sin(2*PI*5*t))*t)*gt(sin(2*PI*0.4*t),-0.3)"
    bass = f"0.25*sin(2*PI*{50 + seed % 20}*t)*exp(-4*mod(t,0.5))"
    graph = (
        f"aevalsrc='{voice}|0.8*{voice}':s=44100:d={seconds}[v];"
        f"aevalsrc='{bass}|{bass}':s=44100:d={seconds}[b];"
        f"anoisesrc=d={seconds}:a=0.05:seed={seed}:r=44100,"
        "volume='exp(-12*mod(t,0.25))':eval=frame[n];[n]aformat=channel_layouts=stereo[ns];"
        "[v][b][ns]amix=inputs=3:normalize=0[out]"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-filter_complex", graph, "-map", "[out]", str(path)],
        check=True,
    )
    return path


class Stack:
    """A redis-server, a database and `count` separation workers, all in one folder."""

    def __init__(self, base: Path, count: int) -> None:
        self.base = base
        self.redis_port = _free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "core.settings",
            "DEBUG": "true",
            "DATA_DIR": str(base / "data"),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "MODEL_ROOT": os.environ.get("MODEL_ROOT", str(REPO / "var" / "models")),
            "STEMSPLIT_VENV": str(Path(sys.executable).parent.parent),
            "LOG_LEVEL": "WARNING",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.procs.append(
            subprocess.Popen(
                [
                    *("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(base)),
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        subprocess.run(
            [str(SCRIPT), "migrate", "-v0"], cwd=base, env=self.env, check=True, timeout=600
        )
        for n in range(1, count + 1):
            workdir = base / f"worker-{n}"
            workdir.mkdir()
            with (workdir / "worker.log").open("wb") as log:
                self.procs.append(
                    subprocess.Popen(
                        [str(SCRIPT), "separation-worker"],
                        cwd=workdir,
                        env={**self.env, "WORKER_NAME": f"capacity-{n}"},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def configure_django(self) -> None:
        """Point this process's Django at the stack (once: settings are read at setup)."""
        for key in ("DJANGO_SETTINGS_MODULE", "DEBUG", "DATA_DIR", "REDIS_URL", "MODEL_ROOT"):
            os.environ[key] = self.env[key]
        sys.path.insert(0, str(REPO))
        import django

        django.setup()

    def wait_ready(self, count: int, timeout: float = 600) -> None:
        """Wait until `count` workers beat in Redis."""
        from core.health import heartbeat

        deadline = time.monotonic() + timeout
        while len(heartbeat.alive()) < count:
            for proc in self.procs[1:]:
                if proc.poll() is not None:
                    raise SystemExit(f"a worker exited; see {self.base}/worker-*/worker.log")
            if time.monotonic() > deadline:
                raise SystemExit(f"workers not ready after {timeout}s")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the workers and Redis."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with_group = proc is not self.procs[0]
                if with_group:
                    os.killpg(proc.pid, signal.SIGTERM)
                else:
                    proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _submit(song: Path, seconds: float) -> str:
    from django.core.files import File

    from core.jobs import services

    with song.open("rb") as fh:
        job = services.submit(
            File(fh, name=song.name),
            services.Submission(original_name=song.name, stem="vocals", duration=seconds),
        )
    return str(job.separation_id)


def _wait_done(ids: list[str], timeout: float) -> list[Any]:
    from core.jobs.models import Separation

    deadline = time.monotonic() + timeout
    while True:
        rows = list(Separation.objects.filter(pk__in=ids))
        if rows and all(r.status not in ("queued", "running") for r in rows):
            failed = [r for r in rows if r.status != "succeeded"]
            if failed:
                raise SystemExit(f"{len(failed)} separations failed: {failed[0].error_message}")
            return rows
        if time.monotonic() > deadline:
            raise SystemExit(f"separations not done after {timeout}s")
        time.sleep(0.5)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def measure(count: int, songs: list[Path], seconds: float, load: float) -> Result:
    """Run both phases with `count` workers; return the figures."""
    load_before = os.getloadavg()[0]
    half = len(songs) // 2
    base = Path(tempfile.mkdtemp(prefix=f"capacity-{count}-"))
    stack = Stack(base, count)
    try:
        stack.configure_django()
        stack.wait_ready(count)
        # Phase 1: all at once, the pool never idle.
        burst = _wait_done([_submit(s, seconds) for s in songs[:half]], timeout=len(songs) * 900)
        first = min(r.started_at for r in burst)
        last = max(r.finished_at for r in burst)
        capacity = len(burst) / (last - first).total_seconds() * 3600
        service = statistics.mean((r.finished_at - r.started_at).total_seconds() for r in burst)
        # Phase 2: a steady stream at `load` of that capacity.
        interval = 3600 / (capacity * load)
        started = time.monotonic()
        ids = []
        for n, song in enumerate(songs[half:]):
            time.sleep(max(0.0, started + n * interval - time.monotonic()))
            ids.append(_submit(song, seconds))
        stream = _wait_done(ids, timeout=len(songs) * 900)
        waits = [(r.started_at - r.created_at).total_seconds() for r in stream]
        span = (
            max(r.finished_at for r in stream) - min(r.created_at for r in stream)
        ).total_seconds()
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)
    return Result(
        workers=count,
        song_seconds=seconds,
        songs=len(songs),
        capacity_jobs_per_hour=round(capacity, 1),
        service_seconds_mean=round(service, 2),
        realtime_factor=round(seconds / service, 1),
        stream_interval_s=round(interval, 2),
        stream_jobs_per_hour=round(len(stream) / span * 3600, 1),
        wait_mean_s=round(statistics.mean(waits), 2),
        wait_p95_s=round(_p95(waits), 2),
        wait_max_s=round(max(waits), 2),
        load_before=round(load_before, 2),
    )


def sizing_table(per_worker: float) -> str:
    """Return the README's table: worker processes needed for N songs an hour."""
    lines = [
        "| songs an hour | worker processes |",
        "| --- | --- |",
    ]
    for songs in SIZING_SONGS_PER_HOUR:
        lines.append(f"| {songs} | {math.ceil(songs / (per_worker * TARGET_UTILISATION))} |")
    return "\n".join(lines)


def main() -> None:
    """Measure each worker count in turn, in a fresh process for Django's settings."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--songs", type=int, default=12, help="songs per worker count (even)")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each song")
    parser.add_argument("--load", type=float, default=0.8, help="stream load vs capacity")
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--songs-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.songs < 2:
        parser.error("--songs must be at least 2 (one per phase)")
    if args.one is not None:
        # A child: one worker count, its songs already made; print the result as JSON.
        songs = sorted(args.songs_dir.glob("song-*.flac"))
        print(json.dumps(asdict(measure(args.one, songs, args.seconds, args.load))))
        return
    counts = [int(c) for c in args.workers.split(",")]
    if args.songs // 2 < max(counts):
        # The capacity phase must keep every worker busy, or it measures fewer workers.
        parser.error(f"--songs must be at least {2 * max(counts)} for {max(counts)} workers")
    results = []
    with tempfile.TemporaryDirectory(prefix="capacity-songs-") as tmp:
        for n in range(args.songs):
            _song(Path(tmp) / f"song-{n:03d}.flac", args.seconds, seed=n)
        for count in counts:
            # Distinct songs per count would be needed if results were kept between counts;
            # each count has its own fresh database, so the same files separate again.
            done = subprocess.run(
                [
                    *(sys.executable, __file__, "--one", str(count), "--songs-dir", tmp),
                    *("--seconds", str(args.seconds), "--load", str(args.load)),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"worker count {count} failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    report = {"date": datetime.now(UTC).isoformat(), "machine": machine, "results": results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(f"\n{machine}, {report['date'][:10]}\n")
    print(
        "| worker processes | jobs an hour (capacity) | per process | realtime factor "
        "| stream | queue wait mean / p95 / max | load before |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['workers']} | {r['capacity_jobs_per_hour']} "
            f"| {r['capacity_jobs_per_hour'] / r['workers']:.1f} | {r['realtime_factor']}x "
            f"| one every {r['stream_interval_s']} s ({r['stream_jobs_per_hour']}/h) "
            f"| {r['wait_mean_s']} / {r['wait_p95_s']} / {r['wait_max_s']} s "
            f"| {r['load_before']} |"
        )
    best = results[-1]
    per_worker = best["capacity_jobs_per_hour"] / best["workers"]
    print(
        f"\nSizing ({per_worker:.1f} songs an hour per worker process, "
        f"at most {TARGET_UTILISATION:.0%} busy): workers = ceil(N / "
        f"({per_worker:.1f} x {TARGET_UTILISATION}))\n"
    )
    print(sizing_table(per_worker))


if __name__ == "__main__":
    main()
