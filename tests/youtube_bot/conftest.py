"""Channels, songs at any state, and a recording HttpMockSequence speaking YouTube's protocol."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from googleapiclient.http import HttpMockSequence

from core.jobs.models import AudioSource, Job, Separation
from shared_separation.engine import ENGINE_VERSION
from tests.audio import make_song
from youtube_bot import services
from youtube_bot.models import Channel, Publication, Song

UPLOAD_URL = "https://youtube.googleapis.com/upload/youtube/v3/videos"
SESSION = UPLOAD_URL + "?uploadType=resumable&upload_id=ADPycdtest-session"
TOKEN_URL = "https://oauth2.googleapis.com/token"
CHUNK = 256 * 1024


class Crash(BaseException):
    """Stands for the worker process dying: nothing in the bot may catch it."""


class Recording(HttpMockSequence):
    """HttpMockSequence whose script may also raise (a dropped connection, a crash)."""

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = 1, connection_type: Any = None) -> Any:  # fmt: skip
        """Answer the next scripted response, or raise the scripted exception."""
        if self._iterable and isinstance(self._iterable[0], BaseException):
            self.request_sequence.append((uri, method, body, headers))
            raise self._iterable.pop(0)
        return super().request(uri, method, body, headers, redirections, connection_type)

    def calls(self) -> list[tuple[str, str]]:
        """Return (method, uri without query) of every request, in order."""
        return [(m, u.split("?")[0]) for u, m, _b, _h in self.request_sequence]

    def inserts(self) -> int:
        """Return how many resumable upload sessions were started (videos.insert)."""
        return sum(
            1
            for u, m, _b, h in self.request_sequence
            if m == "POST" and u.startswith(UPLOAD_URL) and "X-Upload-Content-Type" in (h or {})
        )


def token_ok() -> tuple[dict[str, str], str]:
    """The token endpoint's answer to a valid refresh token."""
    body = {"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"}
    return {"status": "200", "content-type": "application/json"}, json.dumps(body)


def token_revoked() -> tuple[dict[str, str], str]:
    """The token endpoint's answer to a revoked refresh token."""
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    return {"status": "400", "content-type": "application/json"}, json.dumps(body)


def session_started() -> tuple[dict[str, str], str]:
    """The answer to a resumable session's start."""
    return {"status": "200", "location": SESSION}, ""


def resume_incomplete(last_byte: int) -> tuple[dict[str, str], str]:
    """A 308 saying which bytes the server holds."""
    return {"status": "308", "range": f"bytes=0-{last_byte}"}, ""


def video(video_id: str = "dQw4w9WgXcQ") -> tuple[dict[str, str], str]:
    """The video resource videos.insert answers when the last byte arrived."""
    body = {
        "kind": "youtube#video",
        "id": video_id,
        "snippet": {"title": "t"},
        "status": {"uploadStatus": "uploaded", "privacyStatus": "private"},
    }
    return {"status": "200", "content-type": "application/json"}, json.dumps(body)


def api_error(status: int, reason: str, message: str = "") -> tuple[dict[str, str], str]:
    """A Data API error body as Google sends it."""
    body = {
        "error": {
            "code": status,
            "message": message or reason,
            "errors": [{"message": message or reason, "domain": "youtube", "reason": reason}],
        }
    }
    return {"status": str(status), "content-type": "application/json"}, json.dumps(body)


def ok(body: dict[str, Any]) -> tuple[dict[str, str], str]:
    """A 200 with a JSON body."""
    return {"status": "200", "content-type": "application/json"}, json.dumps(body)


@pytest.fixture
def client_secrets(tmp_path: Path) -> Iterator[Path]:
    """An OAuth client of type Desktop app, as downloaded from the Cloud console."""
    path = tmp_path / "client_secret.json"
    path.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": "123-test.apps.googleusercontent.com",
                    "client_secret": "GOCSPX-test",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": TOKEN_URL,
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    with override_settings(YOUTUBE_CLIENT_SECRETS_FILE=path, YOUTUBE_CHUNK_SIZE=CHUNK):
        yield path


@pytest.fixture
def channels(db: None, client_secrets: Path) -> tuple[Channel, Channel]:
    """The two channels, authorized (each with its own encrypted refresh token)."""
    vr = Channel.objects.create(
        slug="vocals-remover", brand="vocals-remover", stem="accompaniment",
        title="Vocals Remover", youtube_channel_id="UCvocalsremover0000000000",
        playlist_id="PLinstrumentals",
    )  # fmt: skip
    ae = Channel.objects.create(
        slug="acapella-extractor", brand="acapella-extractor", stem="vocals",
        title="Acapella Extractor", youtube_channel_id="UCacapella000000000000000",
    )  # fmt: skip
    services.store_refresh_token(vr, "1//refresh-vr")
    services.store_refresh_token(ae, "1//refresh-ae")
    return vr, ae


def silence(path: Path, seconds: float) -> Path:
    """Write digital silence as FLAC."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"anullsrc=r=44100:cl=stereo:d={seconds}", "-c:a", "flac", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture
def separated(
    channels: tuple[Channel, Channel], tmp_path: Path
) -> Callable[..., tuple[Song, list[Publication]]]:
    """Make a song whose separation succeeded, with real FLAC stems in storage."""

    def make(seconds: float = 4.0, *, silent_vocals: bool = False, title: str = "Song") -> Any:
        song_path = make_song(tmp_path / f"{title}.flac", seconds)
        with song_path.open("rb") as fh:
            song = services.add_song(
                title=title, artist="The Testers", audio=File(fh, name="song.flac")
            )
        digest = hashlib.sha256(song_path.read_bytes()).hexdigest()
        source = AudioSource.objects.create(
            sha256=digest, file=song.audio.name, original_name=str(song), size=1, duration=seconds
        )
        stems = {}
        for stem in ("vocals", "accompaniment"):
            path = tmp_path / f"{title}-{stem}.flac"
            if stem == "vocals" and silent_vocals:
                silence(path, seconds)
            else:
                make_song(path, seconds, seed=2 if stem == "vocals" else 3)
            with path.open("rb") as fh:
                stems[stem] = default_storage.save(f"test-stems/{digest}/{stem}.flac", File(fh))
        separation = Separation.objects.create(
            source=source, engine_version=ENGINE_VERSION,
            status=Separation.Status.SUCCEEDED, progress=1.0, **stems,
        )  # fmt: skip
        publications = []
        for pub in song.publications.select_related("channel").order_by("channel__slug"):
            job = Job.objects.create(
                separation=separation, brand=pub.channel.brand, origin=Job.Origin.BOT,
                stem=pub.channel.stem, format=Job.Format.FLAC, original_name=str(song),
                status=Job.Status.SUCCEEDED,
            )  # fmt: skip
            Publication.objects.filter(pk=pub.pk).update(status="separated", job=job)
            pub.refresh_from_db()
            publications.append(pub)
        return song, publications

    return make


def rendered(song: Song, channel: Channel, size: int = 600 * 1024) -> Publication:
    """Put a song's publication at "rendered" with a stand-in video file of `size` bytes."""
    pub = Publication.objects.get(song=song, channel=channel)
    folder = f"youtube/renders/{pub.pk}"
    data = hashlib.shake_256(b"video").digest(size)
    name = default_storage.save(f"{folder}/video.mp4", ContentFile(data))
    thumb = default_storage.save(f"{folder}/thumbnail.jpg", ContentFile(data[:1000]))
    Publication.objects.filter(pk=pub.pk).update(status="rendered", video=name, thumbnail=thumb)
    pub.refresh_from_db()
    return pub
