"""Separate files from the shell with the same engine the workers use."""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shared_separation.engine import (
    AudioFormat,
    Output,
    Quality,
    SeparationEngine,
    SeparationError,
)
from shared_separation.engine.network import use_bfloat16
from shared_separation.engine.runtime import RUNTIMES

STEM_CHOICES: dict[str, tuple[str, ...]] = {
    "vocals": ("vocals",),
    "accompaniment": ("accompaniment",),
    "both": ("vocals", "accompaniment"),
}
BAR_WIDTH = 30


class ProgressLine:
    """Draw one updating progress line per file on a terminal, plain lines elsewhere."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_percent = -1

    def __call__(self, fraction: float) -> None:
        percent = int(fraction * 100)
        if percent == self.last_percent:
            return
        self.last_percent = percent
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        elapsed = time.monotonic() - self.started
        line = f"{self.label} [{bar}] {percent:3d}% {elapsed:6.1f}s"
        if self.tty:
            self.stream.write("\r" + line)
        elif percent % 10 == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = "Separate audio files into vocals and accompaniment: DIR/<input name>/<stem>.<format>."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, help="Audio or video files.")
        parser.add_argument("--stem", choices=sorted(STEM_CHOICES), default="both")
        parser.add_argument("--format", choices=[f.value for f in AudioFormat], default="mp3")
        parser.add_argument("--out", type=Path, default=Path("separated"), help="Output folder.")
        parser.add_argument(
            "--quality",
            choices=[q.value for q in Quality],
            default=settings.SEPARATION_DEFAULT_QUALITY,
            help="standard: the official Spleeter output; high: better, about 1.2-1.3x the time.",
        )
        parser.add_argument(
            "--runtime",
            choices=RUNTIMES,
            default=settings.SEPARATION_RUNTIME,
            help="What runs the network (SEPARATION_RUNTIME): auto runs OpenVINO when provisioned.",
        )
        parser.add_argument(
            "--max-duration",
            type=float,
            default=settings.SEPARATION_MAX_DURATION,
            help="Refuse audio longer than this many seconds.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        files: list[Path] = options["files"]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise CommandError(f"No such file: {', '.join(missing)}")
        try:
            engine = SeparationEngine(
                settings.MODEL_ROOT,
                threads=settings.SEPARATION_THREADS or None,
                batch_segments=settings.SEPARATION_BATCH_SEGMENTS,
                bfloat16=use_bfloat16(settings.SEPARATION_PRECISION),
                runtime=options["runtime"],
            )
        except SeparationError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"network: {engine.runtime}, {engine.precision}")
        failures = 0
        err: TextIO = sys.stderr
        for src in files:
            folder = options["out"] / src.stem
            outputs = {
                stem: Output.for_format(folder / f"{stem}.{options['format']}", options["format"])
                for stem in STEM_CHOICES[options["stem"]]
            }
            progress = ProgressLine(err, src.name)
            try:
                result = engine.separate_file(
                    src,
                    outputs,
                    max_duration=options["max_duration"],
                    progress=progress,
                    quality=options["quality"],
                )
            except SeparationError as exc:
                progress.done()
                failures += 1
                self.stderr.write(f"{src}: {exc.message}")
                continue
            progress.done()
            took = time.monotonic() - progress.started
            for out in outputs.values():
                self.stdout.write(str(out.path))
            self.stderr.write(
                f"{src.name}: {result.duration:.1f} s of audio in {took:.1f} s "
                f"({result.duration / max(took, 1e-9):.1f}x realtime)"
            )
        if failures:
            raise CommandError(f"{failures} of {len(files)} file(s) could not be separated.")
