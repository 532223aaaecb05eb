"""Download one link's audio with yt-dlp behind the address guard; run as its own process.

Usage: python -m shared_separation.links.fetch < request.json > result.json
The process is dedicated to one download because the guard patches its whole socket layer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared_separation.links import runtime
from shared_separation.links.guard import AddressGuard, parse_allow

# The format must come over plain HTTP(S): no HLS/DASH manifests, which could point anywhere
# and would be fetched by ffmpeg outside this process's guard.
AUDIO_FORMAT = (
    "bestaudio[protocol=https]/bestaudio[protocol=http]/best[protocol=https]/best[protocol=http]"
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


def _options(req: dict[str, Any], dest: Path, guard_hook: Any, log: _Log) -> dict[str, Any]:
    extractors = ["default"] if req["allow_generic"] else ["default", "-generic"]
    return {
        "format": AUDIO_FORMAT,
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
        "postprocessors": [],
        "check_formats": False,
        "lazy_playlist": False,
        "http_headers": {"Accept-Language": "en"},
        # Last, so that it wins: our deno by its path or no runtime, never one from PATH.
        **runtime.ytdlp_options(),
    }


def fetch(req: dict[str, Any]) -> dict[str, Any]:
    """Inspect, check and download; return a result or a refusal as a dict."""
    import yt_dlp
    from yt_dlp.utils import DownloadError

    dest = Path(req["dest"])
    guard = AddressGuard(parse_allow(req.get("allow", [])))
    guard.install()
    too_large = {"hit": False}
    log = _Log()

    def byte_cap(progress: dict[str, Any]) -> None:
        # yt-dlp's own max_filesize is skipped when a server sends no length: count ourselves.
        if (progress.get("downloaded_bytes") or 0) > req["max_bytes"]:
            too_large["hit"] = True
            raise _Refusal("too_large", "The file behind the link is larger than the limit.")

    try:
        with yt_dlp.YoutubeDL(_options(req, dest, byte_cap, log)) as ydl:
            try:
                info = ydl.extract_info(req["url"], download=False, process=False)
            except DownloadError as exc:
                raise _classify(exc, guard.refused) from exc
            if info is None:
                raise _Refusal("no_media", "No audio or video was found at that link.")
            if info.get("_type") in ("playlist", "multi_video") or info.get("entries"):
                raise _Refusal(
                    "playlist", "That link is a playlist; paste the link of a single song."
                )
            try:
                info = ydl.process_ie_result(info, download=False)
            except DownloadError as exc:
                raise _classify(exc, guard.refused) from exc
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
            except DownloadError as exc:
                if too_large["hit"]:
                    raise _Refusal(
                        "too_large", "The file behind the link is larger than the limit."
                    ) from exc
                raise _classify(exc, guard.refused) from exc
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
        guard.uninstall()


def too_long_message(duration: float, limit: float) -> str:
    """Say that a song is over the length limit, both as m:ss."""
    return (
        f"That song lasts {int(duration) // 60}:{int(duration) % 60:02d}, over the limit of "
        f"{int(limit) // 60}:{int(limit) % 60:02d}."
    )


def _classify(exc: Exception, refused: list[str]) -> _Refusal:
    text = str(exc)
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
    if "HTTP Error 403" in text or "Private video" in text or "Sign in" in text:
        return _Refusal("forbidden", "That media is private or not available to us.")
    return _Refusal("download_failed", "The media at that link could not be downloaded.")


def main() -> None:
    """Read the request from stdin and print the result as one JSON line."""
    req = json.loads(sys.stdin.read())
    try:
        result = fetch(req)
    except Exception as exc:  # the parent turns this into a clear, logged failure
        result = {"ok": False, "code": "internal", "message": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
