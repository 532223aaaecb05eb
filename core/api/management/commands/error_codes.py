"""Print every error code with its HTTP status and meaning: docs/api.md's table of codes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from shared_separation.errors import markdown_table


class Command(BaseCommand):
    help = "Print the catalogue of error codes as the Markdown table of docs/api.md."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(markdown_table(), ending="")
