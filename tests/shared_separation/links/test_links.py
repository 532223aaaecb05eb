"""Link import for real: yt-dlp against local HTTP servers, behind the address guard."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared_separation.links import LinkError, check_url, import_link
from shared_separation.links.guard import AddressGuard, BlockedAddressError
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
