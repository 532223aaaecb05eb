"""The system check of the link importer's JavaScript runtime and challenge solver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from shared_separation.checks import check_link_runtime
from shared_separation.links import runtime


def _links(messages: list[checks.CheckMessage]) -> dict[str, checks.CheckMessage]:
    return {m.id: m for m in messages if m.id and m.id.startswith("links.")}


def test_the_check_is_registered_and_clean_on_this_install() -> None:
    assert check_link_runtime in checks.registry.registry.get_checks()
    assert _links(checks.run_checks()) == {}


def test_manage_py_check_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "links." not in done.stdout + done.stderr


def test_it_warns_without_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "deno_path", lambda: None)
    found = _links(checks.run_checks())
    assert set(found) == {"links.W001"}
    assert found["links.W001"].level == checks.WARNING
    assert "deno" in found["links.W001"].msg
    assert "scripts/install.sh" in str(found["links.W001"].hint)
    assert "uv sync --frozen" in str(found["links.W001"].hint)


def test_it_warns_without_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    real = runtime._version
    monkeypatch.setattr(runtime, "_version", lambda d: None if d == "yt-dlp-ejs" else real(d))
    found = _links(checks.run_checks())
    assert set(found) == {"links.W002"}
    assert "yt-dlp-ejs" in found["links.W002"].msg
    assert "uv sync --frozen" in str(found["links.W002"].hint)


def test_it_warns_when_the_solver_is_not_the_one_yt_dlp_pins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = runtime._version
    monkeypatch.setattr(runtime, "_version", lambda d: "0.1.0" if d == "yt-dlp-ejs" else real(d))
    found = _links(checks.run_checks())
    assert set(found) == {"links.W002"}
    assert "yt-dlp-ejs 0.1.0" in found["links.W002"].msg
    assert "--upgrade-package yt-dlp-ejs" in str(found["links.W002"].hint)


def test_it_warns_when_deno_is_not_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "deno"
    binary.write_text("#!/bin/sh\necho deno 2.9.8\n")  # it would run, but mode 0644
    monkeypatch.setattr(runtime, "deno_path", lambda: binary)
    found = _links(checks.run_checks())
    assert set(found) == {"links.W003"}
    assert "not executable" in found["links.W003"].msg
    assert "--reinstall-package deno" in str(found["links.W003"].hint)
    assert runtime.ytdlp_options()["js_runtimes"] == {}


def test_it_warns_when_deno_does_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "deno"
    binary.write_text("#!/bin/sh\nexit 1\n")
    binary.chmod(0o755)
    monkeypatch.setattr(runtime, "deno_path", lambda: binary)
    found = _links(checks.run_checks())
    assert set(found) == {"links.W003"}
    assert "--version failed" in found["links.W003"].msg
