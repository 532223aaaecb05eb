"""deploy/: every unit and compose file starts a role that deploy/bin/stemsplit knows."""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.stack import ROOT, SCRIPT

DEPLOY = ROOT / "deploy"
ROLES = {"web", "separation-worker", "light-worker", "bot", "beat"}


def _script_roles() -> set[str]:
    text = SCRIPT.read_text()
    case = text[text.index('case "$role" in') :]
    return set(re.findall(r"^  ([a-z-]+)\)$", case, flags=re.MULTILINE))


def test_the_script_knows_every_role() -> None:
    assert _script_roles() == ROLES | {"migrate", "backup", "restore", "collectstatic", "check"}
    assert os.access(SCRIPT, os.X_OK)


def test_an_unknown_role_is_refused_with_the_list() -> None:
    done = subprocess.run([str(SCRIPT), "worker"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "web|separation-worker|light-worker|bot|beat" in done.stderr


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("*.service")), ids=str)
def test_each_systemd_unit_runs_the_script(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    service = parser["Service"]
    program, role = service["ExecStart"].split()
    assert program == "/opt/stemsplit/deploy/bin/stemsplit"
    assert role in _script_roles()
    assert service["EnvironmentFile"] == "/etc/stemsplit/stemsplit.env"
    # Each role on its own folder: nothing on disk is shared between roles.
    assert service["WorkingDirectory"] == f"/var/lib/{service['StateDirectory']}"


def test_a_unit_and_a_compose_file_per_role() -> None:
    started = set()
    for unit in (DEPLOY / "systemd").glob("*.service"):
        exec_start = re.search(r"^ExecStart=(.+)$", unit.read_text(), flags=re.MULTILINE)
        assert exec_start is not None
        started.add(exec_start.group(1).split()[1])
    assert started >= ROLES
    for role in ROLES:
        compose = yaml.safe_load((DEPLOY / "compose" / f"{role}.yml").read_text())
        (service,) = compose["services"].values()
        assert service["command"] == [role]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/opt/stemsplit/deploy/bin/stemsplit"]' in dockerfile


def _docker_ignored(rules: list[tuple[bool, str]], path: str) -> bool:
    """Return whether Docker leaves a path out of the build context (the last match decides)."""
    parts = path.split("/")
    ignored = False
    for negated, pattern in rules:
        # A pattern that matches a folder takes everything under it.
        if any(
            fnmatch.fnmatchcase("/".join(parts[:n]), pattern)
            or (pattern.startswith("**/") and fnmatch.fnmatchcase(parts[n - 1], pattern[3:]))
            for n in range(1, len(parts) + 1)
        ):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_venvs_data_history_secrets_and_tests_out_of_the_image() -> None:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.removeprefix("!")))
    left_out = [
        ".venv/bin/python",
        ".venv-tools/bin/uv",
        ".venv-tools/node/node_modules/@20minutes/s3rver/package.json",
        "var/db.sqlite3",
        "var/secret_key",
        "var/models/2stems/checkpoint",
        "var/youtube_client_secret.json",
        ".git/HEAD",
        "tests/conftest.py",
        "tests/integration/test_multihost.py",
        "stemsplit.env",
        "deploy/stemsplit.env",
        ".env",
        "core/__pycache__/settings.cpython-311.pyc",
        "youtube_client_secret.json",
    ]
    kept = [
        "manage.py",
        "pyproject.toml",
        "uv.lock",
        "core/settings.py",
        "core/web/static/web/site.css",
        "templates/base.html",
        "deploy/bin/stemsplit",
        "deploy/gunicorn.conf.py",
        "deploy/stemsplit.env.example",
        "shared_separation/engine/engine.py",
    ]
    assert [p for p in left_out if not _docker_ignored(rules, p)] == []
    assert [p for p in kept if _docker_ignored(rules, p)] == []
    # What the build needs is in the checkout, so the image is made from these files alone.
    assert all((ROOT / p).exists() for p in kept)
