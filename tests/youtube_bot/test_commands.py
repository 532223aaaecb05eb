"""The commands: the real loopback OAuth flow against a local token endpoint, playlist import."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httplib2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests.audio import make_song
from tests.youtube_bot.conftest import Recording, ok, token_ok
from youtube_bot import crypto, services
from youtube_bot.models import Channel, Publication, Song
from youtube_bot.youtube import SCOPES


class _TokenEndpoint:
    """A local stand-in for Google's token endpoint, recording the code exchanges."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                endpoint.requests.append(parse_qs(self.rfile.read(length).decode()))
                body = json.dumps(
                    {
                        "access_token": "ya29.fresh",
                        "refresh_token": "1//fresh-refresh-token",
                        "expires_in": 3599,
                        "token_type": "Bearer",
                        "scope": " ".join(SCOPES),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_endpoint(
    client_secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[_TokenEndpoint]:
    endpoint = _TokenEndpoint()
    data = json.loads(client_secrets.read_text())
    data["installed"]["token_uri"] = endpoint.url
    client_secrets.write_text(json.dumps(data))
    # oauthlib insists on https; the stand-in endpoint is plain http on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    yield endpoint
    endpoint.close()


def test_authorize_runs_the_loopback_flow_and_stores_the_token_encrypted(
    db: None, token_endpoint: _TokenEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = Channel.objects.create(
        slug="vocals-remover", brand="vocals-remover", stem="accompaniment", title="VR"
    )
    seen: list[str] = []

    def browser(url: str, **_kw: Any) -> bool:
        """Play the user: consent on Google's page, which redirects to the loopback address."""
        seen.append(url)
        query = parse_qs(urlsplit(url).query)
        redirect = query["redirect_uri"][0]
        params = urlencode(
            {"state": query["state"][0], "code": "4/0Acode", "scope": " ".join(SCOPES)}
        )

        def follow() -> None:
            with urllib.request.urlopen(f"{redirect}?{params}", timeout=10) as answer:
                assert answer.status == 200

        threading.Thread(target=follow, daemon=True).start()
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    # After the exchange the command asks YouTube which channel the token belongs to.
    youtube = Recording(
        [
            token_ok(),
            ok({"items": [{"id": "UCrealchannel", "snippet": {"title": "Vocals Remover"}}]}),
        ]
    )
    monkeypatch.setattr(httplib2, "Http", lambda *a, **kw: youtube)
    out = StringIO()
    call_command(
        "youtube_authorize", "vocals-remover", "--port", "0", "--timeout", "20", stdout=out
    )

    auth = parse_qs(urlsplit(seen[0]).query)
    assert urlsplit(seen[0]).netloc == "accounts.google.com"
    assert auth["redirect_uri"][0].startswith("http://localhost:")  # loopback, not copy-paste
    assert auth["access_type"] == ["offline"] and auth["prompt"] == ["consent"]
    assert set(auth["scope"][0].split()) == set(SCOPES)
    exchange = token_endpoint.requests[0]
    assert exchange["grant_type"] == ["authorization_code"] and exchange["code"] == ["4/0Acode"]
    assert exchange["redirect_uri"] == auth["redirect_uri"]

    channel.refresh_from_db()
    assert channel.status == Channel.Status.ACTIVE
    assert channel.youtube_channel_id == "UCrealchannel" and channel.title == "Vocals Remover"
    assert "fresh-refresh-token" not in channel.refresh_token_encrypted
    assert crypto.decrypt(channel.refresh_token_encrypted) == "1//fresh-refresh-token"
    assert "authorized as Vocals Remover (UCrealchannel)" in out.getvalue()
    # The channel check used the stored token: a refresh, then channels.list?mine=true.
    assert youtube.calls()[1] == ("GET", "https://youtube.googleapis.com/youtube/v3/channels")
    assert "mine=true" in youtube.request_sequence[1][0]


def test_authorize_refuses_an_unknown_channel_or_a_missing_client(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No channel"):
        call_command("youtube_authorize", "nope")
    Channel.objects.create(slug="x", brand="vocals-remover", stem="accompaniment", title="X")
    with (
        override_settings(YOUTUBE_CLIENT_SECRETS_FILE=tmp_path / "missing.json"),
        pytest.raises(CommandError, match="cannot be read"),
    ):
        call_command("youtube_authorize", "x")


def test_import_playlist_adds_each_video_once(
    channels: tuple[Channel, Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    def item(video_id: str, title: str, owner: str = "Some Channel") -> dict[str, Any]:
        return {
            "snippet": {
                "title": title,
                "videoOwnerChannelTitle": owner,
                "resourceId": {"kind": "youtube#video", "videoId": video_id},
            }
        }

    pages = [
        ok({"items": [item("aaa", "Queen - Bohemian Rhapsody (Official Video Remastered)"),
                      item("bbb", "Deleted video")], "nextPageToken": "p2"}),
        ok({"items": [item("ccc", "Blinding Lights", "The Weeknd - Topic"),
                      item("aaa", "Queen - Bohemian Rhapsody (Official Video Remastered)")]}),
    ]  # fmt: skip
    http = Recording([token_ok(), *pages])
    monkeypatch.setattr(httplib2, "Http", lambda *a, **kw: http)
    out = StringIO()
    call_command(
        "youtube_import_playlist",
        "https://www.youtube.com/playlist?list=PLcharts",
        "--channel",
        "vocals-remover",
        stdout=out,
    )
    songs = {s.source_video_id: (s.artist, s.title, s.source_url) for s in Song.objects.all()}
    assert songs == {
        "aaa": ("Queen", "Bohemian Rhapsody", "https://www.youtube.com/watch?v=aaa"),
        "ccc": ("The Weeknd", "Blinding Lights", "https://www.youtube.com/watch?v=ccc"),
    }
    assert "playlistId=PLcharts" in http.request_sequence[1][0]
    assert "pageToken=p2" in http.request_sequence[2][0]
    assert "2 new songs" in out.getvalue()
    assert Publication.objects.filter(status="queued").count() == 4
    # Importing again adds nothing.
    again = Recording([token_ok(), ok({"items": [item("aaa", "Queen - Bohemian Rhapsody")]})])
    monkeypatch.setattr(httplib2, "Http", lambda *a, **kw: again)
    call_command("youtube_import_playlist", "PLcharts", "--channel", "vocals-remover", stdout=out)
    assert Song.objects.count() == 2


def test_add_song_and_a_dry_run_from_the_command_line(
    channels: tuple[Channel, Channel],
    separated: Callable[..., tuple[Song, list[Publication]]],
    tmp_path: Path,
) -> None:
    out = StringIO()
    path = make_song(tmp_path / "x.mp3", 1.0)
    call_command(
        "youtube_add_song", "--title", "X", "--artist", "Y", "--file", str(path), stdout=out
    )
    assert "y-x: queued on acapella-extractor, vocals-remover" in out.getvalue()
    # Only the separated song's publications get to "rendered" here; nothing is uploaded.
    Publication.objects.filter(song__slug="y-x").update(status="failed")
    _song, (_ae_pub, vr_pub) = separated(2.0, title="Dry Run")
    out = StringIO()
    call_command("youtube_run", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "on vocals-remover: rendered (done: dry run" in text
    assert "title: The Testers - Dry Run (Instrumental)" in text
    assert "title: The Testers - Dry Run (Acapella)" in text
    vr_pub.refresh_from_db()
    assert vr_pub.video_id == "" and vr_pub.status == Publication.Status.RENDERED


def test_split_video_title() -> None:
    assert services.split_video_title("Adele - Hello (Official Music Video)", "AdeleVEVO") == (
        "Adele",
        "Hello",
    )
    assert services.split_video_title("Flowers [Lyrics]", "Miley Cyrus - Topic") == (
        "Miley Cyrus",
        "Flowers",
    )


@pytest.mark.parametrize(
    ("video_title", "owner", "expected"),
    [
        ("Artist - Title (Official Video) [4K]", "Artist", ("Artist", "Title")),
        ("Doja Cat - Paint The Town Red [Official Audio]", "DojaCatVEVO",
         ("Doja Cat", "Paint The Town Red")),
        ("Benson Boone - Beautiful Things (Lyric Video)", "Benson Boone",
         ("Benson Boone", "Beautiful Things")),
        ("Sabrina Carpenter - Espresso | Official Video", "x", ("Sabrina Carpenter", "Espresso")),
        ("Post Malone - I Had Some Help ft. Morgan Wallen (Official Video)", "PostMaloneVEVO",
         ("Post Malone", "I Had Some Help ft. Morgan Wallen")),
        ("Shaboozey - A Bar Song (Tipsy) (feat. Video Star) [Official Visualizer]", "x",
         ("Shaboozey", "A Bar Song (Tipsy) (feat. Video Star)")),
        ("Kendrick Lamar - Not Like Us (Official Video (HD))", "x",
         ("Kendrick Lamar", "Not Like Us")),
        ("BLACKPINK - 'Shut Down' M/V", "BLACKPINK", ("BLACKPINK", "Shut Down")),
        ("Audioslave - Like a Stone (Audio)", "x", ("Audioslave", "Like a Stone")),
        ("Something - Remastered 2009", "The Beatles - Topic",
         ("The Beatles", "Something - Remastered 2009")),
        ("Hello (Official Video)", "AdeleVEVO", ("Adele", "Hello")),
        ("Song \u2013 Name (Official Video)", "x", ("Song", "Name")),
        ("Untitled", "", ("Unknown artist", "Untitled")),
    ],
)  # fmt: skip
def test_video_titles_are_cleaned(video_title: str, owner: str, expected: tuple[str, str]) -> None:
    assert services.split_video_title(video_title, owner) == expected
