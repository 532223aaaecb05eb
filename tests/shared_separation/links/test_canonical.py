"""One video, many links: yt-dlp's own URL matching names it offline."""

from __future__ import annotations

import socket

import pytest

from shared_separation.links.canonical import identify

VIDEO = "dQw4w9WgXcQ"

# Fifty ways people paste one YouTube video: share buttons, phones, YouTube Music, Shorts,
# embeds, timestamps, tracking and playlist parameters.
FORMS = [
    f"https://www.youtube.com/watch?v={VIDEO}",
    f"http://www.youtube.com/watch?v={VIDEO}",
    f"https://youtube.com/watch?v={VIDEO}",
    f"https://www.youtube.com/watch?v={VIDEO}&t=42",
    f"https://www.youtube.com/watch?v={VIDEO}&t=1m3s",
    f"https://www.youtube.com/watch?v={VIDEO}#t=30",
    f"https://www.youtube.com/watch?v={VIDEO}&feature=youtu.be",
    f"https://www.youtube.com/watch?feature=share&v={VIDEO}",
    f"https://www.youtube.com/watch?v={VIDEO}&ab_channel=RickAstley",
    f"https://www.youtube.com/watch?v={VIDEO}&pp=ygUEcmljaw%3D%3D",
    f"https://www.youtube.com/watch?v={VIDEO}&list=RD{VIDEO}&start_radio=1",
    f"https://www.youtube.com/watch?v={VIDEO}&list=PL590L5WQmH8fJ54F369BLDSqIwcs-TCfs&index=3",
    f"https://www.youtube.com/watch?app=desktop&v={VIDEO}",
    f"https://www.youtube.com/watch?v={VIDEO}&si=Xy12_ab",
    f"https://m.youtube.com/watch?v={VIDEO}",
    f"https://m.youtube.com/watch?v={VIDEO}&feature=share",
    f"http://m.youtube.com/watch?v={VIDEO}&t=10s",
    f"https://music.youtube.com/watch?v={VIDEO}",
    f"https://music.youtube.com/watch?v={VIDEO}&feature=share",
    f"https://music.youtube.com/watch?v={VIDEO}&list=RDAMVM{VIDEO}",
    f"https://music.youtube.com/watch?v={VIDEO}&si=abc",
    f"https://youtu.be/{VIDEO}",
    f"http://youtu.be/{VIDEO}",
    f"https://youtu.be/{VIDEO}?t=42",
    f"https://youtu.be/{VIDEO}?si=Xy12_abCD",
    f"https://youtu.be/{VIDEO}?feature=shared",
    f"https://youtu.be/{VIDEO}?list=RD{VIDEO}",
    f"https://www.youtube.com/shorts/{VIDEO}",
    f"https://youtube.com/shorts/{VIDEO}?feature=share",
    f"https://m.youtube.com/shorts/{VIDEO}",
    f"https://www.youtube.com/shorts/{VIDEO}?si=abc",
    f"https://www.youtube.com/embed/{VIDEO}",
    f"https://www.youtube.com/embed/{VIDEO}?start=30",
    f"https://www.youtube.com/embed/{VIDEO}?autoplay=1&rel=0",
    f"https://www.youtube-nocookie.com/embed/{VIDEO}",
    f"https://www.youtube-nocookie.com/embed/{VIDEO}?start=5",
    f"https://www.youtube.com/live/{VIDEO}",
    f"https://www.youtube.com/live/{VIDEO}?feature=share",
    f"https://www.youtube.com/v/{VIDEO}",
    f"https://www.youtube.com/v/{VIDEO}?version=3",
    f"https://www.youtube.com/e/{VIDEO}",
    f"https://www.youtube.com/watch/?v={VIDEO}",
    f"https://www.youtube.com/watch?v={VIDEO}&hl=de",
    f"https://www.youtube.com/watch?v={VIDEO}&gl=US&hl=en",
    f"https://www.youtube.com/watch?v={VIDEO}&t=0",
    f"https://www.youtube.com/watch?v={VIDEO}&lc=Ugz",
    f"https://www.youtube.com/watch?v={VIDEO}&themeRefresh=1",
    f"https://www.youtube.com/watch?time_continue=5&v={VIDEO}",
    f"https://www.youtube.com/watch?v={VIDEO}&utm_source=newsletter",
    f"https://youtube.com/watch?v={VIDEO}&list=WL",
]


def test_fifty_forms_of_one_video_are_one_key() -> None:
    assert len(set(FORMS)) == 50
    keys = {form: identify(form) for form in FORMS}
    assert {str(k) for k in keys.values()} == {f"Youtube:{VIDEO}"}, {
        form: str(k) for form, k in keys.items() if str(k) != f"Youtube:{VIDEO}"
    }
    # Every form is fetched from the one standard address.
    assert {k.url for k in keys.values() if k} == {f"https://www.youtube.com/watch?v={VIDEO}"}


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/playlist?list=PL590L5WQmH8fJ54F369BLDSqIwcs-TCfs",
        "https://www.youtube.com/@rickastley",
        "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
        "https://example.com/song.mp3",
        "https://example.com/page.html",
    ],
)
def test_playlists_channels_and_other_pages_name_no_video(url: str) -> None:
    assert identify(url) is None


def test_other_videos_and_sites_keep_their_own_keys() -> None:
    assert str(identify("https://youtu.be/9bZkp7q19f0")) == "Youtube:9bZkp7q19f0"
    vimeo = identify("https://vimeo.com/76979871")
    assert vimeo is not None and str(vimeo) == "Vimeo:76979871"
    assert vimeo.url == "https://vimeo.com/76979871"  # no standard form: fetched as pasted


def test_naming_a_video_opens_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("identify() must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert str(identify(f"https://youtu.be/{VIDEO}?t=3")) == f"Youtube:{VIDEO}"
