"""s3rver, a local S3 server that checks signatures and the expiry of presigned URLs.

moto (tests/integration/s3.py) accepts any signature and never lets a presigned URL expire, so a
test of what a bucket refuses needs another server. s3rver (the npm package @20minutes/s3rver,
installed by `scripts/install.sh --dev` under .venv-tools/node) verifies SigV4 query signatures
against its fixed key pair S3RVER/S3RVER and answers 403 AccessDenied "Request has expired" to a
presigned URL past X-Amz-Date + X-Amz-Expires.
"""

from __future__ import annotations

import selectors
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.integration.s3 import REGION, s3_env

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / ".venv-tools" / "node" / "node_modules" / "@20minutes" / "s3rver"
INSTALL_HINT = "scripts/install.sh --dev (npm install --prefix .venv-tools/node @20minutes/s3rver)"

# s3rver's one account; not a secret of anything.
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"

# Runs under `node -e`: argv is [node, package folder, data folder]. Prints the port it got.
# s3rver's SigV4 check encodes query values with encodeURIComponent, which leaves !'()* as they
# are where S3 (and boto3's signer) encode them per RFC 3986: a download name such as
# "Song (Instrumental).mp3" would fail a valid signature. The shim makes it encode as S3 does.
_LAUNCHER = """
const plain = globalThis.encodeURIComponent;
globalThis.encodeURIComponent = (s) =>
  plain(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const S3rver = require(process.argv[1]);
new S3rver({ address: '127.0.0.1', port: 0, directory: process.argv[2], silent: true })
  .run()
  .then(({ port }) => console.log(`listening ${port}`))
  .catch((err) => { console.error(err); process.exit(1); });
"""


class S3rverServer:
    """An s3rver child process on a free port of 127.0.0.1, with its data in a temp folder."""

    def __init__(self) -> None:
        self.node = shutil.which("node")
        if self.node is None:
            pytest.fail(f"node is not installed (apt-get install nodejs npm; {INSTALL_HINT})")
        if not (PACKAGE / "package.json").is_file():
            pytest.fail(f"s3rver is not installed at {PACKAGE}: run {INSTALL_HINT}")
        self.directory = Path(tempfile.mkdtemp(prefix="s3rver-test-"))
        self.endpoint = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it listens."""
        assert self.node is not None
        proc = subprocess.Popen(
            [self.node, "-e", _LAUNCHER, str(PACKAGE), str(self.directory)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._proc = proc
        assert proc.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=0.2):
                    if proc.poll() is not None:
                        break
                    continue
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
                if line.startswith("listening "):
                    self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
                    return
        self.stop()
        pytest.fail(f"s3rver did not start:\n{''.join(seen)[-4000:]}")

    def stop(self) -> None:
        """Stop the server and remove its data."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def client(self) -> Any:
        """Return a boto3 S3 client of this server."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        """Create an empty bucket and return its name."""
        name = f"stemsplit-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str) -> dict[str, str]:
        """Return the environment that selects this bucket, as an operator would set it."""
        return s3_env(self.endpoint, bucket) | {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
