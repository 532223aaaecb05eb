"""The song pages on each site: stem preview, invitation, and click-throughs counted per video."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from youtube_bot import metadata, services
from youtube_bot.models import Publication, Song


def _rendered_song(
    separated: Callable[..., tuple[Song, list[Publication]]],
) -> tuple[Song, Publication, Publication]:
    song, (ae_pub, vr_pub) = separated(3.0, title="Page Song")
    for pub in (ae_pub, vr_pub):
        assert services.advance(pub.pk).step is services.Step.ADVANCED
        pub.refresh_from_db()
    return song, ae_pub, vr_pub


def test_each_site_shows_its_own_stem_and_counts_visits_from_the_video(
    separated: Callable[..., tuple[Song, list[Publication]]],
) -> None:
    song, _ae_pub, vr_pub = _rendered_song(separated)
    Publication.objects.filter(pk=vr_pub.pk).update(status="uploaded", video_id="vid-vr")
    client = Client()
    vr_host = settings.VOCALS_REMOVER_DOMAIN
    query = metadata.tracking_params(song, vr_pub.channel)
    page = client.get(f"/t/{song.slug}/", query, HTTP_HOST=vr_host)
    assert page.status_code == 200
    html = page.content.decode()
    assert "The Testers" in html and "Page Song" in html
    assert f"/t/{song.slug}/preview.mp3" in html
    assert "https://www.youtube.com/watch?v=vid-vr" in html
    assert "Make the instrumental of your own song" in html
    client.get(f"/t/{song.slug}/", query, HTTP_HOST=vr_host)
    client.get(f"/t/{song.slug}/", HTTP_HOST=vr_host)  # no tracking: not a click-through
    vr_pub.refresh_from_db()
    assert vr_pub.visits == 2 and vr_pub.last_visit_at is not None

    # The other site shows the other stem's page (rendered, not uploaded: no video link).
    ae_page = client.get(f"/t/{song.slug}/", HTTP_HOST=settings.ACAPELLA_EXTRACTOR_DOMAIN)
    assert ae_page.status_code == 200
    assert "acapella of your own song" in ae_page.content.decode()
    assert "youtube.com/watch" not in ae_page.content.decode()


def test_the_preview_is_a_playable_mp3_of_the_stem(
    separated: Callable[..., tuple[Song, list[Publication]]], tmp_path: Path
) -> None:
    song, _ae, _vr = _rendered_song(separated)
    answer = Client().get(f"/t/{song.slug}/preview.mp3", HTTP_HOST=settings.VOCALS_REMOVER_DOMAIN)
    assert answer.status_code == 200 and answer["Content-Type"] == "audio/mpeg"
    mp3 = tmp_path / "preview.mp3"
    mp3.write_bytes(b"".join(answer.streaming_content))  # type: ignore[attr-defined]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration",
         "-of", "default=nw=1", str(mp3)],
        capture_output=True, check=True,
    )  # fmt: skip
    out = probe.stdout.decode()
    assert "codec_name=mp3" in out
    assert float(out.split("duration=")[1].split()[0]) == pytest.approx(3.0, abs=0.2)


def test_unknown_songs_and_songs_without_a_video_are_not_found(
    channels: object,
) -> None:
    song = services.add_song(title="Queued", artist="Only", source_url="https://e.com/x")
    client = Client()
    host = settings.VOCALS_REMOVER_DOMAIN
    assert client.get("/t/no-such-song/", HTTP_HOST=host).status_code == 404
    assert client.get(f"/t/{song.slug}/", HTTP_HOST=host).status_code == 404
    assert client.get(f"/t/{song.slug}/preview.mp3", HTTP_HOST=host).status_code == 404


def test_the_sitemap_lists_the_song_pages_whose_video_is_up_on_that_brand_only(
    separated: Callable[..., tuple[Song, list[Publication]]],
) -> None:
    song, _ae_pub, vr_pub = _rendered_song(separated)
    Publication.objects.filter(pk=vr_pub.pk).update(status="uploaded", video_id="vid-vr")
    vr_host, ae_host = settings.VOCALS_REMOVER_DOMAIN, settings.ACAPELLA_EXTRACTOR_DOMAIN
    vr_map = Client().get("/sitemap.xml", HTTP_HOST=vr_host).content.decode()
    ae_map = Client().get("/sitemap.xml", HTTP_HOST=ae_host).content.decode()
    assert f"<loc>http://{vr_host}/t/{song.slug}/</loc>" in vr_map
    assert f"/t/{song.slug}/" not in ae_map  # rendered there, not yet public on YouTube
    page = Client().get(f"/t/{song.slug}/", HTTP_HOST=vr_host).content.decode()
    assert "<title>The Testers - Page Song (Instrumental) | Vocals Remover</title>" in page
    assert f'<link rel="canonical" href="http://{vr_host}/t/{song.slug}/">' in page
    assert 'content="Listen to the instrumental of The Testers, Page Song' in page
