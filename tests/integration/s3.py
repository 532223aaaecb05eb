"""A local S3-compatible server (moto's standalone server) and the settings that point at it."""

from __future__ import annotations

import logging
import socket
import uuid
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

# moto accepts any keys; these are not secrets of anything.
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    """moto's S3 server on a free port of 127.0.0.1, in a thread of the test process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> None:
        """Start answering."""
        # Its request log would drown the test output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()

    def stop(self) -> None:
        """Stop answering."""
        self._server.stop()

    def client(self) -> Any:
        """Return a boto3 S3 client of this server."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        """Create an empty bucket and return its name."""
        name = f"stemsplit-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> set[str]:
        """Return every key in the bucket under a prefix."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return {item["Key"] for page in pages for item in page.get("Contents", [])}


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    """Return the environment that selects this bucket, as an operator would set it."""
    return {
        "STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_ADDRESSING_STYLE": "path",
    }
