"""The Celery app of the worker pool, configured from Django settings under CELERY_."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging

from core import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

celery_app = Celery("core")
celery_app.config_from_object("django.conf:settings", namespace="CELERY")
celery_app.autodiscover_tasks()

# Workers and beat log through Django's LOGGING (LOG_FORMAT), not Celery's own handlers.
setup_logging.connect(observability.configure_celery_logging, weak=False)
