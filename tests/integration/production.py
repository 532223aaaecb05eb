"""What an install makes, cached between runs: the runtime virtualenv and the static files.

The virtualenv is made exactly as scripts/install.sh and deploy/Dockerfile make it
(`uv sync --frozen --no-dev`), in a folder named by the hash of uv.lock, so a second run finds
it; `uv sync` runs every time anyway (about a second when nothing changed), so the folder
always holds exactly the lock's runtime set. The static files are collected by that
virtualenv's `deploy/bin/stemsplit collectstatic`, in a folder named by the hash of uv.lock and
of the project's own static files.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.stack import ROOT, run_role

CACHE = Path(os.environ.get("STEMSPLIT_PROD_CACHE", str(ROOT / "var" / "cache")))


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".venv-tools" / "bin" / "uv")
    assert Path(found).exists(), "uv not found: run scripts/install.sh --dev"
    return found


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """Hold a lock file, so that two test runs never build the same folder at once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:16]


def _drop_others(prefix: str, keep: Path) -> None:
    # Folders of older locks are never used again; each holds a few GB of links.
    for old in CACHE.glob(f"{prefix}-*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def runtime_venv() -> Path:
    """Return the runtime virtualenv of uv.lock, made or brought up to date by uv sync."""
    venv = CACHE / f"venv-prod-{_digest([ROOT / 'uv.lock'])}"
    with _locked("venv-prod"):
        _drop_others("venv-prod", venv)
        subprocess.run(
            [_uv(), "sync", "--frozen", "--no-dev", "--python", "python3.11", "--quiet"],
            cwd=ROOT,
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
            check=True,
            timeout=1800,
        )
    return venv


def collected_static(env: dict[str, str], workdir: Path) -> Path:
    """Return a STATIC_ROOT that `stemsplit collectstatic` filled for this code and lock."""
    sources = [ROOT / "uv.lock", ROOT / "core" / "settings.py"]
    sources += [p for p in ROOT.glob("*/**/static/**/*") if p.is_file() and ".venv" not in p.parts]
    sources = [p for p in sources if "var" not in p.relative_to(ROOT).parts[:1]]
    static = CACHE / f"static-{_digest(sources)}"
    with _locked("static"):
        if not (static / "staticfiles.json").is_file():
            _drop_others("static", static)
            shutil.rmtree(static, ignore_errors=True)
            run_role("collectstatic", workdir, {**env, "STATIC_ROOT": str(static)}, timeout=900)
    return static
