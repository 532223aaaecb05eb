"""Download one link's audio with yt-dlp behind the address guard; run as its own process.

Usage: python -m shared_separation.links.fetch < request.json > result.json
The process is dedicated to one download because the guard patches its whole socket layer.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared_separation.links import runtime
from shared_separation.links.guard import AddressGuard, ProcessGuard, parse_allow
from shared_separation.links.messages import too_long_message

# The format must come over plain HTTP(S), fetched by yt-dlp's own downloader in this guarded
# process: HLS/DASH manifests could point anywhere and are fetched segment by segment.
PLAIN_PROTOCOLS = frozenset({"https", "http"})
STREAM_ONLY_MESSAGE = (
    "That page offers the song only as a stream (HLS or DASH), which we do not fetch; "
    "download the song and upload the file instead."
)
BOT_CHECK_MESSAGE = (
    "YouTube asked our server to sign in to prove it is not a bot, so this video cannot be "
    "fetched right now. Download the song and upload the file instead."
)


class _Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Log:
    """Collect yt-dlp's messages; some outcomes (a file over max-filesize) are only said there."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, msg: str) -> None:
        self.lines.append(msg)

    info = warning = error = debug

    def said(self, words: str) -> bool:
        return any(words in line for line in self.lines)


def _options(
    req: dict[str, Any], dest: Path, guard_hook: Any, log: _Log, seen: _Formats, work: Path
) -> dict[str, Any]:
    extractors = ["default"] if req["allow_generic"] else ["default", "-generic"]
    options: dict[str, Any] = {
        "format": seen.select,
        "outtmpl": {"default": str(dest / "download.%(ext)s")},
        "noplaylist": True,
        "playlist_items": "1",
        "allowed_extractors": extractors,
        "socket_timeout": req["socket_timeout"],
        "retries": 2,
        "fragment_retries": 2,
        "extractor_retries": 1,
        "max_filesize": req["max_bytes"],
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "cachedir": False,
        "color": {"stderr": "no_color", "stdout": "no_color"},
        "progress_hooks": [guard_hook],
        "logger": log,
        # Nothing that runs ffmpeg: no post-processors, no fixups, native downloaders only, and
        # an ffmpeg location with no ffmpeg in it (the process guard refuses one anyway).
        "postprocessors": [],
        "fixup": "never",
        "external_downloader": {"default": "native"},
        "hls_prefer_native": True,
        "ffmpeg_location": str(work / "no-ffmpeg"),
        "check_formats": False,
        "lazy_playlist": False,
        "http_headers": {"Accept-Language": "en"},
        # Last, so that it wins: our deno by its path or no runtime, never one from PATH.
        **runtime.ytdlp_options(),
    }
    if req.get("proxy"):
        options["proxy"] = req["proxy"]
    if req.get("cookies_file"):
        # yt-dlp writes its cookie jar back when it closes: it gets a copy, never the file.
        copy = work / "cookies.txt"
        shutil.copyfile(req["cookies_file"], copy)
        options["cookiefile"] = str(copy)
    return options


class _Formats:
    """Pick the best audio that comes over plain HTTP(S); remember what else was offered."""

    def __init__(self) -> None:
        self.protocols: set[str] = set()

    def select(self, ctx: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield one format (yt-dlp lists them worst first): audio alone, else any with audio."""
        formats = list(ctx.get("formats") or [])
        self.protocols.update(str(f.get("protocol") or "") for f in formats)
        plain = [f for f in formats if str(f.get("protocol") or "") in PLAIN_PROTOCOLS]
        audio_only = [f for f in plain if f.get("vcodec") == "none"]
        with_audio = [f for f in plain if f.get("acodec") != "none"]
        for group in (audio_only, with_audio):
            if group:
                yield group[-1]
                return

    @property
    def stream_only(self) -> bool:
        """Return whether formats were offered, none of them over plain HTTP(S)."""
        return bool(self.protocols - {""}) and not (self.protocols & PLAIN_PROTOCOLS)


def _proxy_exception(proxy: str) -> set[tuple[str, int]]:
    """Return the addresses of the configured proxy, the one exception the guard makes for it."""
    parts = urlsplit(proxy)
    if not parts.hostname:
        return set()
    port = parts.port or (
        443 if parts.scheme == "https" else 1080 if "socks" in parts.scheme else 80
    )
    infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    return {(str(ipaddress.ip_address(str(i[4][0]).split("%")[0])), port) for i in infos}


def fetch(req: dict[str, Any]) -> dict[str, Any]:
    """Inspect, check and download; return a result or a refusal as a dict."""
    import yt_dlp
    from yt_dlp.utils import YoutubeDLError

    dest = Path(req["dest"])
    allow = parse_allow(req.get("allow", []))
    if req.get("proxy"):
        allow |= _proxy_exception(req["proxy"])
    guard = AddressGuard(allow)
    # The JavaScript runtime of YouTube's challenges is the one program yt-dlp may start.
    deno = runtime.deno_path()
    processes = ProcessGuard([deno] if deno is not None else [])
    work = Path(tempfile.mkdtemp(prefix="fetch-"))
    guard.install()
    processes.install()
    too_large = {"hit": False}
    log = _Log()
    seen = _Formats()

    def byte_cap(progress: dict[str, Any]) -> None:
        # yt-dlp's own max_filesize is skipped when a server sends no length: count ourselves.
        if (progress.get("downloaded_bytes") or 0) > req["max_bytes"]:
            too_large["hit"] = True
            raise _Refusal("too_large", "The file behind the link is larger than the limit.")

    try:
        with yt_dlp.YoutubeDL(_options(req, dest, byte_cap, log, seen, work)) as ydl:
            try:
                info = ydl.extract_info(req["url"], download=False, process=False)
            except YoutubeDLError as exc:
                raise _classify(exc, guard.refused, processes.refused) from exc
            if info is None:
                raise _Refusal("no_media", "No audio or video was found at that link.")
            if info.get("_type") in ("playlist", "multi_video") or info.get("entries"):
                raise _Refusal(
                    "playlist", "That link is a playlist; paste the link of a single song."
                )
            try:
                info = ydl.process_ie_result(info, download=False)
            except YoutubeDLError as exc:
                if seen.stream_only:
                    raise _Refusal("stream_only", STREAM_ONLY_MESSAGE) from exc
                raise _classify(exc, guard.refused, processes.refused) from exc
            if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
                raise _Refusal("live", "Live streams cannot be separated; wait for the replay.")
            duration = info.get("duration")
            if duration is not None and duration > req["max_duration"]:
                raise _Refusal("too_long", too_long_message(duration, req["max_duration"]))
            size = info.get("filesize") or info.get("filesize_approx")
            if size is not None and size > req["max_bytes"]:
                raise _Refusal("too_large", "The file behind the link is larger than the limit.")
            try:
                ydl.process_info(info)
            except YoutubeDLError as exc:
                if too_large["hit"]:
                    raise _Refusal(
                        "too_large", "The file behind the link is larger than the limit."
                    ) from exc
                raise _classify(exc, guard.refused, processes.refused) from exc
            files = [p for p in dest.iterdir() if p.is_file() and not p.name.endswith(".part")]
            if not files:
                if too_large["hit"] or log.said("larger than max-filesize"):
                    raise _Refusal(
                        "too_large", "The file behind the link is larger than the limit."
                    )
                raise _Refusal("download_failed", "The download did not produce a file.")
            if files[0].stat().st_size > req["max_bytes"]:
                files[0].unlink()
                raise _Refusal("too_large", "The file behind the link is larger than the limit.")
            return {
                "ok": True,
                "path": str(files[0]),
                "title": info.get("track") or info.get("title") or "",
                "artist": info.get("artist") or info.get("uploader") or "",
                "duration": duration,
                "extractor": info.get("extractor_key") or info.get("extractor") or "",
                "webpage_url": info.get("webpage_url") or req["url"],
            }
    except _Refusal as refusal:
        for leftover in dest.iterdir():
            leftover.unlink(missing_ok=True)
        return {"ok": False, "code": refusal.code, "message": refusal.message}
    finally:
        processes.uninstall()
        guard.uninstall()
        shutil.rmtree(work, ignore_errors=True)


def _classify(exc: Exception, refused: list[str], programs: list[str]) -> _Refusal:
    text = str(exc)
    if programs:
        return _Refusal(
            "unsafe_media",
            "The media at that link needs processing that we do not run; "
            "download the song and upload the file instead.",
        )
    if refused or "refused: " in text:
        return _Refusal(
            "private_address",
            "That link points to a private or local address, which is not allowed.",
        )
    if "No suitable extractor" in text:
        return _Refusal(
            "unsupported_site",
            "Links from that site are not supported; download the song and upload the file.",
        )
    if "Unsupported URL" in text or "No video formats found" in text:
        return _Refusal("no_media", "No audio or video was found at that link.")
    if "Requested format is not available" in text:
        return _Refusal("no_media", "No downloadable audio was found at that link.")
    if "timed out" in text.lower():
        return _Refusal("timeout", "The site behind the link did not answer in time.")
    if "HTTP Error 404" in text or "HTTP Error 410" in text:
        return _Refusal("not_found", "Nothing was found at that link (it may have been removed).")
    if "confirm you" in text and "not a bot" in text:
        return _Refusal("bot_check", BOT_CHECK_MESSAGE)
    if "HTTP Error 403" in text or "Private video" in text or "Sign in" in text:
        return _Refusal("forbidden", "That media is private or not available to us.")
    return _Refusal("download_failed", "The media at that link could not be downloaded.")


def main() -> None:
    """Read the request from stdin and print the result as one JSON line."""
    req = json.loads(sys.stdin.read())
    try:
        result = fetch(req)
    except Exception:
        # The details are for the operator's log (the parent logs stderr), never for visitors.
        traceback.print_exc(file=sys.stderr)
        result = {
            "ok": False,
            "code": "internal",
            "message": "Fetching the link failed unexpectedly. Please try again later.",
        }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
