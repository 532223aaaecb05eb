"""Import audio from a link: yt-dlp, audio only, one item, checked before downloading.

Each import runs in its own process with an address guard that refuses connections to
loopback, private, link-local, CGNAT, multicast and reserved addresses (IPv4 and IPv6,
IPv4-mapped too), at connect time and so on every redirect.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import subprocess
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from shared_separation.engine import SeparationError, media
from shared_separation.errors import Code
from shared_separation.links.guard import is_public, parse_allow
from shared_separation.links.messages import too_long_message

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048
# A DNS name in ASCII (IDNs arrive here in their xn-- form), or a dotted IPv4 literal.
_HOST = re.compile(
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?"
)


class LinkError(Exception):
    """A link could not be imported; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        # A code outside the catalogue is a bug here, not a client's problem: fail loudly.
        self.code = Code(code)
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


def _invalid(detail: str = "That link is not a valid web address.") -> LinkError:
    return LinkError("invalid_url", detail)


def _ascii_host(parts: SplitResult) -> str:
    """Return the link's host in ASCII (an IDN in its xn-- form), or refuse a malformed one."""
    host = parts.hostname or ""
    if not host:
        raise _invalid("That link has no host name.")
    if ":" in host:  # an IPv6 literal, from inside the brackets
        try:
            return str(ipaddress.IPv6Address(host.split("%")[0]))
        except ValueError as exc:
            raise _invalid() from exc
    if not host.isascii():
        # Letters and their marks only: no look-alike colons, dots, slashes or digits.
        if any(unicodedata.category(ch)[0] not in "LM" for ch in host if not ch.isascii()):
            raise _invalid()
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _invalid() from exc
    if not _HOST.fullmatch(host):
        raise _invalid()
    return host


def _port(parts: SplitResult) -> int:
    """Return the link's port: ASCII digits in range, or the scheme's."""
    hostinfo = parts.netloc.rpartition("@")[2]
    _, bracket, after = hostinfo.rpartition("]")
    if bracket and after and not after.startswith(":"):
        raise _invalid()
    tail = after if bracket else hostinfo
    digits = tail.rpartition(":")[2] if ":" in tail else ""
    if not digits:
        return 443 if parts.scheme.lower() == "https" else 80
    if not (digits.isascii() and digits.isdigit()) or not 0 < int(digits) < 65536:
        raise _invalid("That link's port is not a number from 1 to 65535.")
    return int(digits)


def check_syntax(url: str) -> tuple[str, str, int]:
    """Refuse a malformed or non-http(s) link, offline; return it cleaned, its host and port.

    Every malformed link (a port out of range, an unclosed IPv6 bracket, digits or colons
    that only look ASCII) is refused as invalid_url, never let through to raise later.
    """
    url = url.strip()
    if not url:
        raise LinkError("invalid_url", "Paste a link to a song.")
    if len(url) > MAX_URL_LENGTH:
        raise LinkError("invalid_url", "That link is too long.")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed [ or characters that NFKC turns into / ? # @ :
        raise _invalid() from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise LinkError("invalid_url", "Only http:// and https:// links are accepted.")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _invalid("That link contains spaces or control characters.")
    if "@" in parts.netloc:
        raise LinkError("invalid_url", "Links with a user name or password are not accepted.")
    return url, _ascii_host(parts), _port(parts)


def check_url(url: str, *, allow: Iterable[str] = ()) -> str:
    """Refuse what is not an http(s) link to a public host; return the cleaned URL."""
    url, host, port = check_syntax(url)
    allowed = parse_allow(allow)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise LinkError("invalid_url", f"The host {host} could not be found.") from exc
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
    proxy: str = "",
    cookies_file: str = "",
) -> ImportedAudio:
    """Download a link's audio into the empty folder `dest`, or raise LinkError.

    `proxy` carries every connection (the one address the guard lets through for it);
    `cookies_file` is read, never written.
    """
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
        "proxy": proxy,
        "cookies_file": cookies_file,
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
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if stderr:
        # yt-dlp's own words and tracebacks are for the operator, never shown to visitors.
        logger.warning("link fetch process (exit %s) said: %s", done.returncode, stderr[-4000:])
    if not isinstance(result, dict):
        _empty(dest)
        raise LinkError("internal", "Fetching the link failed unexpectedly. Please try again.")
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
