"""The JavaScript runtime and challenge solver yt-dlp needs for YouTube (yt-dlp issue 15012).

Both come locked from PyPI: the `deno` package ships the Deno binary, `yt-dlp-ejs` (pulled by
`yt-dlp[default]`) the solver scripts. yt-dlp starts deno itself, as
`deno run --ext=js --no-code-cache --no-prompt --no-remote --no-lock --node-modules-dir=none
--no-config --no-npm --cached-only -` with the solver on stdin (its DenoJCP provider, for a
solver from the Python package). No `--allow-*` flag is given and prompts are off, so the
script gets no network, file, environment, subprocess, FFI or system access, and deno neither
fetches remote nor npm modules: the address guard, which only sees this process's sockets, is
not needed there. Deno loads the modules a script names literally without read permission;
yt-dlp's script names none (the solver is bundled, the player is a JSON string it parses), and
the player's own code runs through `Function()`, where an import needs read permission.
tests/shared_separation/links/test_runtime.py runs it as yt-dlp does and checks all this.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

# Production hosts sync without the dev group, as scripts/install.sh does.
_RESTART = "(no --no-dev in a development checkout), then restart the light workers and the bot."
INSTALL_FIX = (
    "Run scripts/install.sh (uv sync --frozen), then restart the light workers and the bot."
)
UPGRADE_FIX = (
    "Run uv lock --upgrade-package yt-dlp --upgrade-package yt-dlp-ejs --upgrade-package deno"
    f" && uv sync --frozen --no-dev {_RESTART} See docs/links.md."
)
REINSTALL_FIX = f"Run uv sync --frozen --no-dev --reinstall-package deno {_RESTART}"
_MISSING_COST = "YouTube links will lack formats or fail."


@dataclass(frozen=True)
class Problem:
    """Something the importer lacks, what that costs, and the fix."""

    kind: Literal["no_runtime", "bad_runtime", "solver"]
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.message} {self.fix}"


@dataclass(frozen=True)
class RuntimeStatus:
    """What the link importer runs YouTube's challenges with, and what is wrong with it."""

    ytdlp_version: str
    ejs_version: str | None
    deno_path: Path | None
    deno_version: str | None
    problems: list[Problem] = field(default_factory=list)


def deno_path() -> Path | None:
    """Return the deno binary the `deno` package installed, or None (never one on PATH)."""
    try:
        dist = importlib.metadata.distribution("deno")
    except importlib.metadata.PackageNotFoundError:
        return None
    exe = "deno" + (sysconfig.get_config_var("EXE") or "")
    for file in dist.files or ():
        if file.name == exe and file.parent.name in ("bin", "Scripts"):
            path = Path(str(dist.locate_file(file))).resolve()
            if path.is_file():
                return path
    # An install without a file list (RECORD): ask the package, which looks only where Python
    # puts scripts.
    try:
        from deno import find_deno_bin

        return Path(find_deno_bin())
    except (ImportError, FileNotFoundError):
        return None


def ytdlp_options() -> dict[str, Any]:
    """Return the YoutubeDL params that run our deno by its path and fetch no solver code."""
    path = deno_path()
    usable = path is not None and os.access(path, os.X_OK)
    return {
        # Without this key yt-dlp looks for deno itself: in Python's scripts folder, then on
        # PATH. An empty dict turns JavaScript off rather than letting it search.
        "js_runtimes": {"deno": {"path": str(path)}} if usable else {},
        # The solver comes from yt-dlp-ejs; nothing from GitHub ("ejs:github") or npm
        # ("ejs:npm") is downloaded and run. This is yt-dlp's default, held here on purpose.
        "remote_components": [],
    }


def status() -> RuntimeStatus:
    """Describe the installed yt-dlp, solver and runtime, with each problem and its fix."""
    ytdlp = _version("yt-dlp") or "not installed"
    ejs = _version("yt-dlp-ejs")
    path = deno_path()
    deno: str | None = None
    problems: list[Problem] = []
    if path is None:
        problems.append(
            Problem(
                "no_runtime",
                f"The deno JavaScript runtime is not installed: {_MISSING_COST}",
                INSTALL_FIX,
            )
        )
    elif not os.access(path, os.X_OK):
        problems.append(Problem("bad_runtime", f"{path} is not executable.", REINSTALL_FIX))
    else:
        stat = path.stat()
        deno = _deno_version(str(path), stat.st_mtime_ns, stat.st_size)
        wanted = _wanted_by_ytdlp("deno", "deno")
        if deno is None:
            problems.append(
                Problem(
                    "bad_runtime", f"{path} --version failed: it does not run here.", REINSTALL_FIX
                )
            )
        elif wanted is not None and not _satisfies(wanted, deno):
            problems.append(
                Problem(
                    "bad_runtime",
                    f"deno {deno} is older than yt-dlp {ytdlp} asks for ({wanted.specifier}).",
                    UPGRADE_FIX,
                )
            )
    wanted = _wanted_by_ytdlp("yt-dlp-ejs", "default")
    if ejs is None:
        problems.append(
            Problem(
                "solver",
                f"yt-dlp's challenge solver (yt-dlp-ejs) is not installed: {_MISSING_COST}",
                INSTALL_FIX,
            )
        )
    elif wanted is not None and not _satisfies(wanted, ejs):
        # yt-dlp refuses a solver of another minor version, so YouTube breaks as if none were here.
        problems.append(
            Problem(
                "solver",
                f"yt-dlp-ejs {ejs} is not the solver yt-dlp {ytdlp} was made for "
                f"({wanted.specifier}): {_MISSING_COST}",
                UPGRADE_FIX,
            )
        )
    return RuntimeStatus(ytdlp, ejs, path, deno, problems)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _wanted_by_ytdlp(name: str, extra: str) -> Requirement | None:
    """Return yt-dlp's own requirement on `name` in one of its extras (yt-dlp-ejs: a pin)."""
    try:
        requires = importlib.metadata.requires("yt-dlp") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for line in requires:
        req = Requirement(line)
        if req.name == name and (req.marker is None or req.marker.evaluate({"extra": extra})):
            return req
    return None


def _satisfies(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


@functools.lru_cache(maxsize=4)
def _deno_version(path: str, mtime_ns: int, size: int) -> str | None:
    """Return what `deno --version` says, once per binary (a new one at the path asks again)."""
    try:
        done = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.match(r"deno (\S+)", done.stdout)
    return found.group(1) if done.returncode == 0 and found else None
