"""Link import for real: yt-dlp against local HTTP servers, behind the address guard."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared_separation.links import LinkError, check_url, import_link
from shared_separation.links.fetch import _classify
from shared_separation.links.guard import (
    AddressGuard,
    BlockedAddressError,
    BlockedProcessError,
    ProcessGuard,
)
from tests.audio import make_song
from tests.httpsite import Site as _Site


@pytest.fixture
def target() -> Iterator[_Site]:
    """A local service that must never be reached through a link (like Redis or metadata)."""
    site = _Site({"/": (200, {"Content-Type": "text/plain"}, b"secret")})
    yield site
    site.close()


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory, target: _Site) -> Iterator[_Site]:
    folder = tmp_path_factory.mktemp("site")
    song = make_song(folder / "song.mp3", 8).read_bytes()
    mp3 = {"Content-Type": "audio/mpeg"}
    html = {"Content-Type": "text/html; charset=utf-8"}
    routes = {
        "/song.mp3": (200, mp3, song),
        "/chunked.mp3": (200, {**mp3, "Transfer-Encoding": "chunked"}, song),
        "/page.html": (
            200,
            html,
            b"<html><head><title>Hi</title></head><body>No media.</body></html>",
        ),
        "/to-target": (302, {"Location": f"{target.base}/"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
    }
    s = _Site(routes)
    body = (
        "<html><body>"
        f'<video src="{s.base}/song.mp3"></video><video src="{s.base}/chunked.mp3"></video>'
        "</body></html>"
    ).encode()
    s.routes["/playlist.html"] = (200, html, body)
    s.routes["/redirect-chain"] = (302, {"Location": f"{s.base}/to-target"}, b"")
    yield s
    s.close()


def _import(site: _Site, path: str, dest: Path, **kw: object) -> object:
    options: dict[str, object] = {
        "max_duration": 300.0,
        "max_bytes": 50_000_000,
        "allow_generic": True,
        "allow": [f"127.0.0.1:{site.port}"],
        "socket_timeout": 5.0,
        "timeout": 120.0,
    }
    options.update(kw)
    return import_link(site.base + path, dest, **options)  # type: ignore[arg-type]


def test_downloads_the_audio_of_a_direct_link(site: _Site, tmp_path: Path) -> None:
    audio = _import(site, "/song.mp3", tmp_path / "dl")
    assert audio.path.is_file()  # type: ignore[attr-defined]
    assert audio.path.read_bytes() == site.routes["/song.mp3"][2]  # type: ignore[attr-defined]


def test_refuses_a_song_over_the_length_limit(site: _Site, tmp_path: Path) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, "/song.mp3", tmp_path / "dl", max_duration=3.0)
    assert err.value.code == "too_long"
    assert "over the limit of 0:03" in err.value.message
    assert not any((tmp_path / "dl").iterdir())


def test_byte_cap_holds_when_the_server_sends_no_length(site: _Site, tmp_path: Path) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, "/chunked.mp3", tmp_path / "dl", max_bytes=20_000)
    assert err.value.code == "too_large"
    assert not any((tmp_path / "dl").iterdir())


def test_byte_cap_holds_with_a_length(site: _Site, tmp_path: Path) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, "/song.mp3", tmp_path / "dl", max_bytes=20_000)
    assert err.value.code == "too_large"


def test_a_page_without_media_is_refused(site: _Site, tmp_path: Path) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, "/page.html", tmp_path / "dl")
    assert err.value.code == "no_media"


def test_a_playlist_is_refused(site: _Site, tmp_path: Path) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, "/playlist.html", tmp_path / "dl")
    assert err.value.code == "playlist"
    assert "/song.mp3" not in site.hits


@pytest.mark.parametrize("path", ["/to-target", "/redirect-chain"])
def test_redirects_into_local_addresses_never_reach_them(
    site: _Site, target: _Site, tmp_path: Path, path: str
) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, path, tmp_path / "dl")
    assert err.value.code == "private_address"
    assert target.hits == []


def test_redirect_to_the_metadata_address_is_refused(site: _Site, tmp_path: Path) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, "/to-metadata", tmp_path / "dl")
    assert err.value.code == "private_address"


def test_the_generic_extractor_is_off_by_default(site: _Site, tmp_path: Path) -> None:
    with pytest.raises(LinkError) as err:
        _import(site, "/song.mp3", tmp_path / "dl", allow_generic=False)
    assert err.value.code == "unsupported_site"
    assert site.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://127.1/",
        "http://0.0.0.0/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[64:ff9b::7f00:1]/",
    ],
)
def test_private_and_loopback_addresses_in_every_notation_are_refused(
    url: str, target: _Site
) -> None:
    with pytest.raises(LinkError) as err:
        check_url(url)
    assert err.value.code == "private_address"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/song.mp3", "javascript:alert(1)", "", "http://"],
)
def test_other_schemes_and_malformed_links_are_refused(url: str) -> None:
    with pytest.raises(LinkError) as err:
        check_url(url)
    assert err.value.code == "invalid_url"


def test_the_guard_refuses_at_connect_time(target: _Site) -> None:
    guard = AddressGuard()
    guard.install()
    try:
        with pytest.raises(BlockedAddressError):
            socket.create_connection(("127.0.0.1", target.port), timeout=2)
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            with pytest.raises(BlockedAddressError):
                raw.connect(("127.0.0.1", target.port))
        finally:
            raw.close()
    finally:
        guard.uninstall()
    assert target.hits == []
    # Uninstalled, the same connection works again: the guard was what refused it.
    socket.create_connection(("127.0.0.1", target.port), timeout=2).close()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/song.mp3",  # port out of range
        "http://example.com:0/song.mp3",
        "http://example.com:http/song.mp3",  # not a number
        "http://example.com:-80/song.mp3",
        "http://[::1/song.mp3",  # unclosed IPv6 bracket
        "http://[::1]x/song.mp3",
        "http://[not-an-address]/song.mp3",
        "http://example.com:\uff18\uff10/song.mp3",  # fullwidth digits
        "http://example.com:\u0668\u0660/song.mp3",  # Arabic-Indic digits
        "http://example.com\uff1a80/song.mp3",  # fullwidth colon
        "http://example.com\ua789/song.mp3",  # modifier letter colon
        "http://exa mple.com/song.mp3",
        "http://example.com/so\nng.mp3",
        "http://user:pass@example.com/song.mp3",
    ],
)
def test_malformed_links_are_refused_as_invalid_before_any_lookup(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[object] = []

    def getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        looked_up.append(args)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(LinkError) as err:
        check_url(url)
    assert err.value.code == "invalid_url"
    assert err.value.message.endswith(".")
    assert looked_up == []


def test_a_manifest_whose_track_is_a_playlist_of_a_local_file_brings_nothing_local(
    site: _Site, tmp_path: Path
) -> None:
    """yt-dlp's m4a fixup would run ffmpeg on the 'track', which follows it to a local file."""
    secret = make_song(tmp_path / "secret.mp3", 5, seed=7)
    m3u8 = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"
        f"#EXTINF:5.0,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    ).encode()
    mpd = (
        '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT5S" minBufferTime="PT1S" '
        'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period>'
        '<AdaptationSet mimeType="audio/mp4" contentType="audio">'
        '<Representation id="a" bandwidth="128000" codecs="mp4a.40.2" audioSamplingRate="44100">'
        f"<BaseURL>{site.base}/track.m4a</BaseURL></Representation></AdaptationSet>"
        "</Period></MPD>"
    ).encode()
    site.routes["/manifest.mpd"] = (200, {"Content-Type": "application/dash+xml"}, mpd)
    site.routes["/track.m4a"] = (200, {"Content-Type": "audio/mp4"}, m3u8)
    with pytest.raises(LinkError) as err:
        _import(site, "/manifest.mpd", tmp_path / "dl")
    assert err.value.code == "not_audio"
    assert "/track.m4a" in site.hits  # fetched, but only as the bytes the site sent
    assert not any((tmp_path / "dl").iterdir())


def test_the_process_guard_lets_only_the_allowed_programs_start(tmp_path: Path) -> None:
    allowed = shutil.which("true")
    assert allowed is not None
    guard = ProcessGuard([allowed])
    guard.install()
    try:
        with pytest.raises(BlockedProcessError):
            subprocess.run(["ffmpeg", "-version"], capture_output=True, check=False)
        with pytest.raises(BlockedProcessError):
            subprocess.run("true", shell=True, check=False)
        assert subprocess.run([allowed], check=False).returncode == 0
        assert subprocess.run(["true"], check=False).returncode == 0  # the same, by PATH
    finally:
        guard.uninstall()
    assert guard.refused == ["ffmpeg", "a shell"]
    assert subprocess.run(["ffmpeg", "-version"], capture_output=True, check=False).returncode == 0


def test_a_page_with_only_a_stream_says_so_in_plain_words(site: _Site, tmp_path: Path) -> None:
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:5.0,\nseg0.ts\n#EXT-X-ENDLIST\n"
    site.routes["/live/index.m3u8"] = (200, {"Content-Type": "application/x-mpegURL"}, playlist)
    with pytest.raises(LinkError) as err:
        _import(site, "/live/index.m3u8", tmp_path / "dl")
    assert err.value.code == "stream_only"
    assert "upload the file" in err.value.message
    assert "/live/seg0.ts" not in site.hits


def test_youtube_s_bot_check_gets_its_own_code_and_words() -> None:
    from yt_dlp.utils import DownloadError

    said = (
        "ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you\u2019re not a bot. Use "
        "--cookies-from-browser or --cookies for the authentication."
    )
    refusal = _classify(DownloadError(said), [], [])
    assert refusal.code == "bot_check"
    assert "upload the file" in refusal.message
    assert "cookies" not in refusal.message and "ERROR" not in refusal.message


def test_an_internal_failure_shows_no_traceback_or_yt_dlp_text(
    site: _Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A cookies file that has gone missing makes the fetch process fail unexpectedly.
    missing = tmp_path / "gone" / "cookies.txt"
    with pytest.raises(LinkError) as err:
        _import(site, "/song.mp3", tmp_path / "dl", cookies_file=str(missing))
    assert err.value.code == "internal"
    assert err.value.message == "Fetching the link failed unexpectedly. Please try again later."
    # The operator's log has what happened; the visitor's message has none of it.
    assert "FileNotFoundError" in caplog.text and str(missing) in caplog.text
    assert "/song.mp3" not in site.hits


class _Proxy:
    """A local forward HTTP proxy that records what it relayed."""

    def __init__(self) -> None:
        self.relayed: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.relayed.append(self.path)
                with urllib.request.urlopen(self.path, timeout=10) as upstream:
                    body = upstream.read()
                    self.send_response(upstream.status)
                    for key, value in upstream.headers.items():
                        if key.lower() not in ("connection", "transfer-encoding"):
                            self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_configured_proxy_carries_the_fetch(site: _Site, tmp_path: Path) -> None:
    proxy = _Proxy()
    try:
        audio = _import(site, "/song.mp3", tmp_path / "dl", proxy=f"http://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert audio.path.read_bytes() == site.routes["/song.mp3"][2]  # type: ignore[attr-defined]
    assert f"{site.base}/song.mp3" in proxy.relayed


def test_the_proxy_is_the_only_exception_the_guard_makes_for_it(target: _Site) -> None:
    from shared_separation.links.fetch import _proxy_exception

    guard = AddressGuard(_proxy_exception("http://127.0.0.1:3128"))
    assert guard.permitted("127.0.0.1", 3128)
    assert not guard.permitted("127.0.0.1", target.port)
    assert not guard.permitted("10.0.0.1", 3128)


def test_the_cookies_file_is_sent_and_never_rewritten(site: _Site, tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tsession\tsigned-in\n"
    )
    cookies.chmod(0o444)
    before = (cookies.read_bytes(), cookies.stat().st_mtime_ns)
    audio = _import(site, "/song.mp3", tmp_path / "dl", cookies_file=str(cookies))
    assert audio.path.is_file()  # type: ignore[attr-defined]
    assert any("session=signed-in" in h.get("Cookie", "") for h in site.headers)
    assert (cookies.read_bytes(), cookies.stat().st_mtime_ns) == before
