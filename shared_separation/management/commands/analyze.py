"""Print the tempo and key of audio files, one JSON object a line, with the workers' analysis."""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shared_separation.engine import SeparationError
from shared_separation.engine.analysis import MAX_SECONDS, analyze_file


class Command(BaseCommand):
    help = (
        "Estimate the tempo (BPM) and key (with its Camelot code) of audio files: one JSON "
        "object a line on stdout, progress on stderr."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, help="Audio or video files.")
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=MAX_SECONDS,
            help="Read at most this much of each file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        files: list[Path] = options["files"]
        failures = 0
        for src in files:
            self.stderr.write(f"{src.name}: analysing…")
            started = time.monotonic()
            try:
                analysis = analyze_file(src, max_seconds=options["max_seconds"])
            except SeparationError as exc:
                failures += 1
                line = {"file": str(src), "error": exc.message, "code": str(exc.code)}
                self.stdout.write(json.dumps(line))
                self.stderr.write(f"{src}: {exc.message}")
                continue
            self.stdout.write(json.dumps({"file": str(src), **analysis.as_dict()}))
            self.stderr.write(f"{src.name}: done in {time.monotonic() - started:.1f} s")
        if failures:
            raise CommandError(f"{failures} of {len(files)} file(s) could not be analysed.")
