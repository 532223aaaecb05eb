"""Logs as text or one JSON object per line, and errors to Sentry without personal data.

Imported by core.settings (and gunicorn.conf.py) before Django is set up: nothing here reads
Django's settings at import time.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import current_task

# Set by core.health.middleware.RequestMetricsMiddleware for the request being served.
request_id: ContextVar[str] = ContextVar("request_id", default="")


class ContextFilter(logging.Filter):
    """Add the request id and the Celery task (name, id) being run, where there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drop it."""
        record.request_id = request_id.get()
        task = current_task
        task_id = getattr(getattr(task, "request", None), "id", None) if task else None
        record.task_id = str(task_id) if task_id else ""
        record.task_name = str(getattr(task, "name", "") or "") if task_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line (a traceback stays inside it)."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record's JSON line."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "task_id", "task_name"):
            value = getattr(record, key, "")
            if value:
                data[key] = value
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain line, with the request or task it belongs to at the end when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record's text, suffixed by its request or task id."""
        line = super().format(record)
        task_id, request = getattr(record, "task_id", ""), getattr(record, "request_id", "")
        if task_id:
            return f"{line} [task {getattr(record, 'task_name', '')} {task_id}]"
        return f"{line} [request {request}]" if request else line


_FORMATTERS = {
    "text": {
        "()": "core.observability.TextFormatter",
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
    },
    "json": {"()": "core.observability.JsonFormatter"},
}


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """Return Django's LOGGING: every record to stderr, as text or JSON lines (`fmt`)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "core.observability.ContextFilter"}},
        "formatters": {fmt: _FORMATTERS[fmt]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # TensorFlow's own chatter (checkpoint restores, deprecations) is not news.
        "loggers": {"tensorflow": {"level": "WARNING"}},
    }


def gunicorn_logconfig(fmt: str, level: str) -> dict[str, Any]:
    """Return gunicorn's logconfig_dict: its error and access logs in the same format."""
    config = logging_config(fmt, level)
    config["loggers"] = {
        "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    }
    return config


def configure_celery_logging(**_: Any) -> None:
    """Apply Django's LOGGING in a Celery worker or beat, instead of Celery's own handlers.

    Connected to Celery's setup_logging signal: with a receiver, Celery leaves the root logger
    alone (no hijacking), so workers log in LOG_FORMAT like the web, with the task's id.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# -- Sentry --------------------------------------------------------------------------------
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_MEDIA = (
    r"(?:mp3|wav|flac|ogg|oga|opus|m4a|aac|aif|aiff|wma|alac|ape|wv|mka|amr|webm|mp4|m4v|mkv"
    r"|mov|avi|3gp|part|ytdl)"
)
# A quoted name (as repr() and most exception texts show one, spaces and all), then a bare one.
_QUOTED_FILE = re.compile(rf"(['\"])[^'\"\n]*\.{_MEDIA}\1", re.IGNORECASE)
_BARE_FILE = re.compile(rf"[^\s'\"/\\]+\.{_MEDIA}\b", re.IGNORECASE)
# Code locations of a stack frame: the project's own files, not anybody's data.
_FRAME_KEYS = {
    "filename",
    "abs_path",
    "module",
    "function",
    "package",
    "context_line",
    "pre_context",
    "post_context",
}
_private_roots: tuple[re.Pattern[str], ...] = ()


def scrub_text(text: str) -> str:
    """Replace e-mail addresses, file names and paths under the data folders in a string."""
    for root in _private_roots:
        text = root.sub("[path]", text)
    text = _EMAIL.sub("[email]", text)
    text = _QUOTED_FILE.sub(lambda m: f"{m.group(1)}[file]{m.group(1)}", text)
    return _BARE_FILE.sub("[file]", text)


def _scrub(value: Any, *, frame: bool = False) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: (item if frame and key in _FRAME_KEYS else _scrub(item, frame=key == "frames"))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, frame=frame) for item in value]
    return value


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the event with every string scrubbed: messages, exceptions, breadcrumbs, request."""
    # Frames (the dicts in a "frames" list) keep their code locations: see _scrub.
    scrubbed: dict[str, Any] = _scrub(event)
    return scrubbed


def set_private_roots(private_roots: Iterable[Path | str]) -> None:
    """Name the folders whose paths (and whatever follows them) scrub_text replaces."""
    global _private_roots
    roots = sorted({str(Path(r)) for r in private_roots if str(r) not in ("", "/")}, key=len)
    # Longest first: a folder inside another is replaced whole.
    _private_roots = tuple(re.compile(re.escape(r) + r"[^'\"\n]*") for r in reversed(roots))


def init_sentry(dsn: str, *, environment: str, private_roots: Iterable[Path | str]) -> None:
    """Send errors of web processes and Celery tasks to Sentry, without personal data."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    set_private_roots(private_roots)
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # No user, IP, cookies or request bodies (an upload's name, a login's e-mail address).
        send_default_pii=False,
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        traces_sample_rate=0.0,
    )
