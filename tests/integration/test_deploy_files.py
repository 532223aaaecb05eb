"""deploy/: every unit and compose file starts a role that deploy/bin/stemsplit knows."""

from __future__ import annotations

import configparser
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
