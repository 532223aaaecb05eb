"""The Django project: settings, root urls, the Celery app and the shared domain apps."""

from __future__ import annotations

from core.celery import celery_app

__all__ = ("celery_app",)
