"""Typed readers of environment variables that fail loudly on malformed values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str) -> str:
    """Return the variable as a string, or the default when unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean; accept 1/0, true/false, yes/no, on/off."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Return an integer, optionally with a lower bound."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    """Return a float, optionally with a lower bound."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Return one of a fixed set of words, compared without case."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated list with blanks dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    """Return an absolute path."""
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


_SQLITE_OPTIONS = {
    # Web and workers write concurrently: wait for locks instead of failing at once.
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL;",
}
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg", "pgsql"}


def env_database(name: str, sqlite_default: Path) -> dict[str, Any]:
    """Return a Django DATABASES entry from a URL such as postgres://u:p@host:5432/db.

    Unset: SQLite at `sqlite_default`. Query parameters of a PostgreSQL URL become connection
    options (sslmode=require, connect_timeout=5...), except conn_max_age.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_default,
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if not path or path == "/":
            raise ImproperlyConfigured(f"{name}: a SQLite URL needs a path (sqlite:////abs/db)")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(path),
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    if scheme not in _POSTGRES_SCHEMES:
        raise ImproperlyConfigured(f"{name}: unsupported database scheme {parts.scheme!r}")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(f"{name}: the URL names no database")
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    conn_max_age = options.pop("conn_max_age", "60")
    try:
        port = parts.port
        max_age = int(conn_max_age)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: malformed port or conn_max_age") from None
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(parts.hostname or ""),
        "PORT": str(port or ""),
        "CONN_MAX_AGE": max_age,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


_STATIC_STORAGE = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def _optional(name: str) -> str | None:
    """Return the variable, or None when unset or blank (the library's own default applies)."""
    return os.environ.get(name, "").strip() or None


def env_storages(media_root: Path, *, url_expiry: int) -> dict[str, dict[str, Any]]:
    """Return Django's STORAGES: the local folder, or an S3 bucket with STORAGE_BACKEND=s3.

    Setting AWS_STORAGE_BUCKET_NAME alone selects S3 too. Keys, region and endpoint come from
    the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_REGION_NAME,
    AWS_S3_ENDPOINT_URL for an S3-compatible server); unset keys leave boto3's own chain (an
    instance role, ~/.aws) to find them. Signed URLs live `url_expiry` seconds.
    """
    bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME", "").strip()
    backend = os.environ.get("STORAGE_BACKEND", "").strip().lower() or ("s3" if bucket else "local")
    if backend == "local":
        return {
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": media_root},
            },
            "staticfiles": dict(_STATIC_STORAGE),
        }
    if backend != "s3":
        raise ImproperlyConfigured(f"STORAGE_BACKEND must be local or s3, not {backend!r}")
    if not bucket:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME")
    style = _optional("AWS_S3_ADDRESSING_STYLE")
    if style not in (None, "auto", "path", "virtual"):
        raise ImproperlyConfigured(
            f"AWS_S3_ADDRESSING_STYLE must be auto, path or virtual: {style}"
        )
    from botocore.config import Config  # only when S3 is chosen: the local setup never loads it

    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": _optional("AWS_S3_ENDPOINT_URL"),
        "region_name": _optional("AWS_S3_REGION_NAME"),
        "access_key": _optional("AWS_ACCESS_KEY_ID"),
        "secret_key": _optional("AWS_SECRET_ACCESS_KEY"),
        "addressing_style": style,
        "location": os.environ.get("AWS_LOCATION", "").strip().strip("/"),
        "signature_version": "s3v4",
        # Private objects: every download is a presigned URL that expires.
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": url_expiry,
        # Like the local folder: a name taken gets another, so "stored first wins" holds.
        "file_overwrite": False,
        # Fail in seconds, not minutes, when the bucket is unreachable: a job is retried later
        # and /healthz must answer a load balancer in time.
        "client_config": Config(
            signature_version="s3v4",
            s3={"addressing_style": style} if style else None,
            connect_timeout=env_float("AWS_S3_CONNECT_TIMEOUT", 5.0, minimum=0.1),
            read_timeout=env_float("AWS_S3_READ_TIMEOUT", 60.0, minimum=0.1),
            retries={"mode": "standard", "max_attempts": 3},
        ),
    }
    return {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
        "staticfiles": dict(_STATIC_STORAGE),
    }
