"""Run the deployment's roles as separate processes, as deploy/bin/stemsplit starts them."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "bin" / "stemsplit"


class Role:
    """One role in its own working directory ("host"), its output kept in a log."""

    def __init__(self, name: str, role: str, base: Path, env: dict[str, str]) -> None:
        self.name = name
        self.workdir = base / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "role.log"
        self.env = {**env, "DATA_DIR": str(self.workdir / "data")}
        self._log = self.log_path.open("w")
        # Its own session: kill() takes the whole process group, pool children included,
        # as when a host goes away.
        self.proc = subprocess.Popen(
            [str(SCRIPT), role],
            cwd=self.workdir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        """Return what the role printed so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        """Return whether the role's main process still runs."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the role and its children: no clean shutdown, no acknowledgement."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """Stop the role (SIGTERM, then SIGKILL)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def run_role(role: str, workdir: Path, env: dict[str, str], timeout: float = 300) -> str:
    """Run a one-shot role (migrate, check) to its end; return its output, failing on error."""
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(SCRIPT), role],
        cwd=workdir,
        env={**env, "DATA_DIR": str(workdir / "data")},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{role} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def workers(redis_url: str) -> dict[str, dict[str, Any]]:
    """Return the heartbeats in Redis, by worker name."""
    conn = redis.Redis.from_url(redis_url)
    found = {}
    for key in conn.scan_iter(match="stemsplit:worker:*"):
        raw: bytes | None = conn.get(key)  # type: ignore[assignment]
        if raw is not None:
            beat = json.loads(raw)
            found[beat["hostname"]] = beat
    return found


def until(predicate: Any, timeout: float, what: str, roles: list[Role], step: float = 0.2) -> Any:
    """Poll until predicate() is truthy; fail with every role's log tail if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {r.name}:\n{r.log()[-3000:]}" for r in roles)
            raise AssertionError(f"{what}: not within {timeout}s\n{tails}")
        time.sleep(step)


def role_env(**settings: str) -> dict[str, str]:
    """Return the environment of a role run as in production, plus these settings.

    Nothing of the test process's own Django, database or storage settings leaks in: a role
    sees only what an operator's environment file would give it.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "AWS_", "STORAGE_", "DATABASE_", "STEMSPLIT_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "core.settings",
            "STEMSPLIT_VENV": str(Path(sys.executable).parent.parent),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            # Plain HTTP on 127.0.0.1 here; production sits behind a TLS proxy.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "ANON_SUBMISSIONS_PER_HOUR": "0",
            "API_REQUESTS_PER_MINUTE": "0",
            "SEPARATION_THREADS": "1",
            "WEB_WORKERS": "1",
            **settings,
        }
    )
    return env


def run_script(
    role: str, workdir: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run deploy/bin/stemsplit with a role to its end, whatever its exit status."""
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(SCRIPT), role, *args],
        cwd=workdir,
        env={**env, "DATA_DIR": str(workdir / "data")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def serving(base: str) -> bool:
    """Return whether a web role at this address answers /healthz with 200."""
    try:
        return requests.get(f"{base}/healthz", timeout=30).status_code == 200
    except requests.RequestException:  # not listening yet, or busy starting
        return False
