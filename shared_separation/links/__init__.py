"""Import audio from a link: yt-dlp, audio only, one item, checked before downloading.

Each import runs in its own process with an address guard that refuses connections to
loopback, private, link-local, CGNAT, multicast and reserved addresses (IPv4 and IPv6,
IPv4-mapped too), at connect time and so on every redirect.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shared_separation.engine import SeparationError, media
from shared_separation.links.fetch import too_long_message
from shared_separation.links.guard import is_public, parse_allow

MAX_URL_LENGTH = 2048


class LinkError(Exception):
    """A link could not be imported; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImportedAudio:
    """A downloaded file and what the site said about it."""

    path: Path
    title: str
    artist: str
    duration: float | None
    extractor: str
    webpage_url: str


def check_url(url: str, *, allow: Iterable[str] = ()) -> str:
    """Refuse what is not an http(s) link to a public host; return the cleaned URL."""
    url = url.strip()
    if not url:
        raise LinkError("invalid_url", "Paste a link to a song.")
    if len(url) > MAX_URL_LENGTH:
        raise LinkError("invalid_url", "That link is too long.")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise LinkError("invalid_url", "Only http:// and https:// links are accepted.")
    if not parts.hostname:
        raise LinkError("invalid_url", "That link has no host name.")
    if parts.username or parts.password:
        raise LinkError("invalid_url", "Links with a user name or password are not accepted.")
    allowed = parse_allow(allow)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise LinkError("invalid_url", f"The host {parts.hostname} could not be found.") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not is_public(ip) and (str(ip), port) not in allowed:
            raise LinkError(
                "private_address",
                "That link points to a private or local address, which is not allowed.",
            )
    return url


def import_link(
    url: str,
    dest: Path,
    *,
    max_duration: float,
    max_bytes: int,
    allow_generic: bool = False,
    allow: Iterable[str] = (),
    socket_timeout: float = 15.0,
    timeout: float = 600.0,
) -> ImportedAudio:
    """Download a link's audio into the empty folder `dest`, or raise LinkError."""
    allow = list(allow)
    url = check_url(url, allow=allow)
    dest.mkdir(parents=True, exist_ok=True)
    request = {
        "url": url,
        "dest": str(dest),
        "max_duration": max_duration,
        "max_bytes": max_bytes,
        "allow_generic": allow_generic,
        "allow": allow,
        "socket_timeout": socket_timeout,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shared_separation.links.fetch"],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
        )
    except subprocess.TimeoutExpired as exc:
        _empty(dest)
        raise LinkError("timeout", "Fetching the link took too long.") from exc
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        _empty(dest)
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise LinkError("internal", "Fetching the link failed unexpectedly. " + " ".join(detail))
    if not result.get("ok"):
        _empty(dest)
        raise LinkError(str(result.get("code", "download_failed")), str(result.get("message")))
    path = Path(result["path"])
    # Many sites (and direct file links) give no duration before the download: probe the file.
    try:
        info = media.probe(path)
    except SeparationError as exc:
        _empty(dest)
        raise LinkError(exc.code, exc.message) from exc
    if info.duration > max_duration:
        _empty(dest)
        raise LinkError(
            "too_long",
            too_long_message(info.duration, max_duration),
        )
    return ImportedAudio(
        path=path,
        title=str(result.get("title") or ""),
        artist=str(result.get("artist") or ""),
        duration=info.duration,
        extractor=str(result.get("extractor") or ""),
        webpage_url=str(result.get("webpage_url") or url),
    )


def _empty(dest: Path) -> None:
    if dest.is_dir():
        for leftover in dest.iterdir():
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
