"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Configure the jobs app."""

    name = "core.jobs"
    label = "jobs"
    verbose_name = "Jobs"
