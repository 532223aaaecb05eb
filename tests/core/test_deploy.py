"""Production settings pass Django's deployment checks; HTTPS is enforced but for /healthz."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings",
        "DATA_DIR": str(tmp_path),
        "DEBUG": "false",
        **env,
    }
    if "SECRET_KEY" not in env:
        environment.pop("SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_has_no_warnings(tmp_path: Path) -> None:
    done = _manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING",
        SECRET_KEY=secrets.token_urlsafe(60),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    done = _manage(tmp_path, "check")
    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr


@pytest.mark.django_db
def test_plain_http_is_redirected_but_health_probes_are_not(
    client: Client, settings: Any, redis_server: str
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    page = client.get("/", headers={"host": "vocals-remover.localhost"})
    assert page.status_code == 301
    assert page["Location"] == "https://vocals-remover.localhost/"
    assert client.get("/healthz", headers={"host": "10.0.0.7"}).status_code == 200
