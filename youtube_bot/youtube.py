"""The YouTube Data API v3 through google-api-python-client: credentials, uploads, errors."""

from __future__ import annotations

import json
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
from django.conf import settings
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from youtube_bot import crypto
from youtube_bot.models import Channel

logger = logging.getLogger(__name__)

# "youtube" covers playlists and thumbnails; "youtube.upload" is what videos.insert names.
SCOPES = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube",
]
TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address, not a secret)
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Dropped connections and timeouts: the request may be sent again (resumable uploads resume).
RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httplib2.HttpLib2Error,
    ConnectionError,
    socket.timeout,
    TransportError,
)
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded"})
AUTH_REASONS = frozenset({"authError", "unauthorized", "youtubeSignupRequired"})


class Kind(StrEnum):
    """What an API failure means for the bot."""

    QUOTA = "quota"  # park until the next quota day
    AUTH = "auth"  # the channel must be authorized again
    TRANSIENT = "transient"  # try again later
    PERMANENT = "permanent"  # this request will never succeed


class YouTubeError(Exception):
    """A classified API failure with a stable code and a message for people."""

    def __init__(self, kind: Kind, code: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message


def _reason(exc: HttpError) -> tuple[str, str]:
    """Return the first error reason and message of an API error response."""
    try:
        data = json.loads(exc.content or b"{}")
    except (ValueError, TypeError):
        return "", str(exc.content[:200] if exc.content else "")
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):  # the OAuth token endpoint answers {"error": "invalid_grant"}
        return error, str(data.get("error_description", ""))
    if not isinstance(error, dict):
        return "", ""
    errors = error.get("errors") or [{}]
    return str(errors[0].get("reason", "")), str(error.get("message", ""))


def classify(exc: BaseException, what: str) -> YouTubeError:
    """Turn a client library exception into a YouTubeError."""
    if isinstance(exc, YouTubeError):
        return exc
    if isinstance(exc, RefreshError):
        detail = str(exc.args[0]) if exc.args else str(exc)
        return YouTubeError(
            Kind.AUTH,
            "invalid_grant" if "invalid_grant" in str(exc) else "refresh_failed",
            f"Google refused the channel's refresh token ({detail}); "
            "run `manage.py youtube_authorize <channel>` again.",
        )
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason, message = _reason(exc)
        text = f"{what}: HTTP {status} {reason or ''} {message}".strip()
        if reason in QUOTA_REASONS:
            return YouTubeError(Kind.QUOTA, reason, text)
        if status == 401 or reason in AUTH_REASONS:
            return YouTubeError(Kind.AUTH, reason or "unauthorized", text)
        if status in RETRY_STATUSES or status == 429 or reason == "rateLimitExceeded":
            return YouTubeError(Kind.TRANSIENT, f"http_{status}", text)
        return YouTubeError(Kind.PERMANENT, reason or f"http_{status}", text)
    if isinstance(exc, (*RETRY_EXCEPTIONS, OSError)):
        return YouTubeError(Kind.TRANSIENT, "connection", f"{what}: {type(exc).__name__}: {exc}")
    raise exc


def client_config(path: Path | None = None) -> dict[str, Any]:
    """Read the OAuth client (type "installed") downloaded from the Google Cloud console."""
    path = path or Path(settings.YOUTUBE_CLIENT_SECRETS_FILE)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise YouTubeError(
            Kind.AUTH, "no_client", f"The OAuth client file {path} cannot be read: {exc}"
        ) from exc
    if "installed" not in data:
        raise YouTubeError(
            Kind.AUTH, "no_client", f"{path} is not an OAuth client of type Desktop app."
        )
    return dict(data)


def credentials_for(channel: Channel) -> Credentials:
    """Return refreshable credentials from the channel's encrypted refresh token."""
    if not channel.refresh_token_encrypted:
        raise YouTubeError(
            Kind.AUTH, "not_authorized", f"Channel {channel.slug} is not authorized."
        )
    try:
        refresh_token = crypto.decrypt(channel.refresh_token_encrypted)
    except crypto.TokenDecryptionError as exc:
        raise YouTubeError(Kind.AUTH, "undecryptable", str(exc)) from exc
    installed = client_config()["installed"]
    return Credentials(
        token=None,
        refresh_token=refresh_token,
        client_id=installed["client_id"],
        client_secret=installed.get("client_secret"),
        token_uri=installed.get("token_uri", TOKEN_URI),
        scopes=SCOPES,
    )


def build_client(channel: Channel, http: Any | None = None) -> Any:
    """Return a youtube v3 resource acting as the channel, over `http` (tests pass a mock)."""
    credentials = credentials_for(channel)
    transport = http if http is not None else httplib2.Http(timeout=120)
    authorized = google_auth_httplib2.AuthorizedHttp(credentials, http=transport)
    # The discovery document ships in the package: no request before the first real call.
    return build("youtube", "v3", http=authorized, static_discovery=True, cache_discovery=False)


@dataclass
class Backoff:
    """Exponential backoff with full jitter; `sleep` and `rand` are swappable for tests."""

    max_retries: int
    cap: float
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    base: float = 1.0

    def wait(self, attempt: int, error: YouTubeError) -> None:
        """Sleep before retry number `attempt`, or raise the error when retries are spent."""
        if attempt > self.max_retries:
            raise error
        delay = min(self.cap, self.base * 2**attempt) * self.rand()
        logger.warning("retry %d in %.1f s after %s", attempt, delay, error.message)
        self.sleep(delay)


def call(request: Any, what: str, backoff: Backoff) -> Any:
    """Execute a small API request, retrying 5xx answers and dropped connections."""
    attempt = 0
    while True:
        try:
            return request.execute(num_retries=0)
        except Exception as exc:  # classified below; anything unknown is raised again
            error = classify(exc, what)
            if error.kind is not Kind.TRANSIENT:
                raise error from exc
            attempt += 1
            backoff.wait(attempt, error)


class _SessionRecorder:
    """Pass requests through, reporting a new resumable session before any byte is sent."""

    def __init__(self, http: Any, on_session: Callable[[str], None]) -> None:
        self._http = http
        self._on_session = on_session

    def request(
        self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any
    ) -> Any:
        """Send one request; after a session start that succeeded, report its address."""
        resp, content = self._http.request(uri, method, body=body, headers=headers, **kw)
        starting = bool(headers) and "X-Upload-Content-Type" in headers
        if starting and resp.status == 200 and "location" in resp:
            self._on_session(resp["location"])
        return resp, content


def _query_session(http: Any, session_uri: str, size: int) -> tuple[int, dict[str, Any] | int]:
    """Ask a resumable session how far it got: (200, video) when done, (308, next byte)."""
    resp, content = http.request(
        session_uri, "PUT", headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"}
    )
    status = int(resp.status)
    if status in (200, 201):
        return status, json.loads(content)
    if status == 308:
        received = resp.get("range")
        return status, int(received.rsplit("-", 1)[1]) + 1 if received else 0
    raise HttpError(resp, content, uri=session_uri)


def upload_video(
    youtube: Any,
    path: Path,
    body: dict[str, Any],
    *,
    session_uri: str,
    on_session: Callable[[str], None],
    find_existing: Callable[[], str | None],
    backoff: Backoff,
    chunk_size: int,
) -> str:
    """Upload a video once and return its id, resuming `session_uri` when there is one.

    A stored session is asked how far it got first: a finished one gives the video without
    sending anything; an expired one (404/410) makes `find_existing` look for the video on the
    channel before a new session is started.
    """
    media = MediaFileUpload(str(path), mimetype="video/mp4", chunksize=chunk_size, resumable=True)
    request = youtube.videos().insert(
        part="snippet,status", body=body, media_body=media, notifySubscribers=False
    )
    http = _SessionRecorder(request.http, on_session)
    size = media.size()
    attempt = 0
    if session_uri:
        while True:
            try:
                status, state = _query_session(request.http, session_uri, size)
                break
            except HttpError as exc:
                if int(exc.resp.status) in (404, 410):
                    status, state = 404, 0
                    break
                error = classify(exc, "Resuming the upload")
                if error.kind is not Kind.TRANSIENT:
                    raise error from exc
            except RETRY_EXCEPTIONS as exc:
                error = classify(exc, "Resuming the upload")
            attempt += 1
            backoff.wait(attempt, error)
        if status in (200, 201):
            assert isinstance(state, dict)
            logger.info("upload session %s had finished: video %s", session_uri, state["id"])
            return str(state["id"])
        if status == 308:
            assert isinstance(state, int)
            request.resumable_uri = session_uri
            request.resumable_progress = state
            logger.info("resuming upload session at byte %d of %d", state, size)
        else:
            existing = find_existing()
            if existing:
                return existing
            logger.info("upload session expired before the video was made: starting again")
    attempt = 0
    response = None
    while response is None:
        try:
            progress, response = request.next_chunk(http=http, num_retries=0)
            attempt = 0
            if progress is not None:
                logger.info("uploaded %d of %d bytes", progress.resumable_progress, size)
        except Exception as exc:  # classified below; anything unknown is raised again
            error = classify(exc, "Uploading the video")
            if error.kind is not Kind.TRANSIENT:
                raise error from exc
            attempt += 1
            backoff.wait(attempt, error)
    return str(response["id"])


def uploads_playlist(youtube: Any, channel: Channel, backoff: Backoff) -> str:
    """Return the id of the playlist of the channel's own uploads."""
    if channel.youtube_channel_id.startswith("UC"):
        return "UU" + channel.youtube_channel_id[2:]
    found = call(youtube.channels().list(part="contentDetails", mine=True), "Channel", backoff)
    return str(found["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"])


def find_upload(youtube: Any, playlist_id: str, marker: str, backoff: Backoff) -> str | None:
    """Return the id of the newest upload whose description holds the marker, if any."""
    found = call(
        youtube.playlistItems().list(part="snippet", playlistId=playlist_id, maxResults=50),
        "Looking for the video among the channel's uploads",
        backoff,
    )
    for item in found.get("items", []):
        snippet = item.get("snippet", {})
        if marker in snippet.get("description", ""):
            return str(snippet["resourceId"]["videoId"])
    return None


def set_thumbnail(youtube: Any, video_id: str, path: Path, backoff: Backoff) -> None:
    """Set a video's custom thumbnail."""
    media = MediaFileUpload(str(path), mimetype="image/jpeg", resumable=False)
    call(youtube.thumbnails().set(videoId=video_id, media_body=media), "Thumbnail", backoff)


def add_to_playlist(youtube: Any, playlist_id: str, video_id: str, backoff: Backoff) -> str:
    """Add a video to a playlist and return the playlist item's id."""
    body = {
        "snippet": {
            "playlistId": playlist_id,
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
        }
    }
    item = call(youtube.playlistItems().insert(part="snippet", body=body), "Playlist", backoff)
    return str(item["id"])


def own_channel(youtube: Any, backoff: Backoff) -> tuple[str, str]:
    """Return (channel id, title) of the authorized account's channel."""
    found = call(youtube.channels().list(part="snippet", mine=True), "Channel", backoff)
    items = found.get("items") or []
    if not items:
        raise YouTubeError(Kind.PERMANENT, "no_channel", "The Google account has no channel.")
    return str(items[0]["id"]), str(items[0]["snippet"]["title"])
