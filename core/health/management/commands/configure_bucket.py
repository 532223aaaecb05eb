"""Give the S3 bucket the CORS rules the sites' players need (once per deployment)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError


def cors_rules(origins: list[str]) -> dict[str, Any]:
    """Return the bucket's CORS configuration: the sites may read media, nothing else."""
    return {
        "CORSRules": [
            {
                "AllowedOrigins": origins,
                "AllowedMethods": ["GET", "HEAD"],
                # Players ask for byte ranges; the response's length and range stay readable.
                "AllowedHeaders": ["Range"],
                "ExposeHeaders": ["Content-Length", "Content-Range", "Accept-Ranges"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }


class Command(BaseCommand):
    """Put the CORS rules on the bucket of STORAGE_BACKEND=s3; nothing to do for local files."""

    help = "Let the sites' origins (STORAGE_CORS_ORIGINS) read the bucket's media with CORS."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        """Apply the rules and say which origins they name."""
        # django-storages' S3 backend holds a boto3 resource; the local folder has none.
        resource = getattr(default_storage, "connection", None)
        if resource is None:
            self.stdout.write("Local storage: the media are same-origin, nothing to configure.")
            return
        origins = list(settings.STORAGE_CORS_ORIGINS)
        if not origins:
            raise CommandError("STORAGE_CORS_ORIGINS is empty: no site could read the media.")
        bucket = default_storage.bucket_name  # type: ignore[attr-defined]
        resource.meta.client.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_rules(origins))
        self.stdout.write(f"Bucket {bucket!r}: CORS for {', '.join(origins)}")
