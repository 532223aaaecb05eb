"""The admin shows each song's state per channel, the reasons, the alerts and the click-throughs."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from youtube_bot import services
from youtube_bot.models import Channel, DeniedSource, Publication, Song


@pytest.fixture
def admin(admin_client: Client) -> Client:
    """The admin on a host the brand middleware serves."""
    admin_client.defaults["HTTP_HOST"] = "localhost"
    return admin_client


def test_admin_lists_show_states_reasons_and_alerts(
    admin: Client, channels: tuple[Channel, Channel]
) -> None:
    vr, ae = channels
    song = services.add_song(title="Hello", artist="Adele", source_url="https://e.com/a")
    Publication.objects.filter(song=song, channel=vr).update(
        status="failed", error_code="link_unavailable", error_message="The link is dead."
    )
    Publication.objects.filter(song=song, channel=ae).update(
        status="uploaded", video_id="vid-ae", visits=7
    )
    services.block_channel(ae, "Google refused the channel's refresh token (invalid_grant).")

    songs = admin.get("/admin/youtube_bot/song/").content.decode()
    assert "vocals-remover: failed" in songs and "acapella-extractor: uploaded" in songs

    pubs = admin.get("/admin/youtube_bot/publication/").content.decode()
    assert "The link is dead." in pubs
    assert "https://www.youtube.com/watch?v=vid-ae" in pubs
    assert "7 click-throughs in all" in pubs

    chans = admin.get("/admin/youtube_bot/channel/").content.decode()
    assert "invalid_grant" in chans and "Needs authorization" in chans
    assert "1//refresh" not in chans

    detail = admin.get(f"/admin/youtube_bot/channel/{vr.pk}/change/").content.decode()
    assert "stored (encrypted)" in detail and vr.refresh_token_encrypted not in detail


def test_admin_actions_requeue_and_queue_the_catalogue(
    admin: Client, channels: tuple[Channel, Channel]
) -> None:
    vr, _ae = channels
    song = services.add_song(title="Hello", artist="Adele", source_url="https://e.com/a")
    pub = Publication.objects.get(song=song, channel=vr)
    Publication.objects.filter(pk=pub.pk).update(status="failed", error_message="x")
    admin.post(
        "/admin/youtube_bot/publication/",
        {"action": "requeue", "_selected_action": [str(pub.pk)]},
    )
    pub.refresh_from_db()
    assert pub.status == Publication.Status.QUEUED
    new = Channel.objects.create(
        slug="vr-two", brand="vocals-remover", stem="accompaniment", title="VR 2"
    )
    admin.post(
        "/admin/youtube_bot/channel/",
        {"action": "queue_catalogue", "_selected_action": [str(new.pk)]},
    )
    assert Publication.objects.filter(channel=new, song=song).exists()


def test_a_channel_must_deliver_its_brands_stem(db: None) -> None:
    channel = Channel(slug="x", brand="vocals-remover", stem="vocals", title="X")
    with pytest.raises(ValidationError, match="accompaniment"):
        channel.full_clean()
    channel.brand = "nope"
    with pytest.raises(ValidationError, match="Unknown brand"):
        channel.full_clean()


def test_a_song_needs_a_link_or_a_file(db: None) -> None:
    from youtube_bot.models import Song

    with pytest.raises(ValidationError, match="link or an audio file"):
        Song(title="T", artist="A", slug="a-t").full_clean()


def test_the_song_list_shows_where_each_song_came_from(
    admin: Client, channels: tuple[Channel, Channel]
) -> None:
    position = services.ChartPosition("youtube-music-mostpopular", "GB", 7, date(2026, 3, 3))
    services.add_song(
        title="Espresso", artist="Sabrina Carpenter", origin=Song.Origin.CHART,
        source_url="https://www.youtube.com/watch?v=esp", source_video_id="esp", chart=position,
    )  # fmt: skip
    services.add_song(title="Hello", artist="Adele", source_url="https://e.com/a")
    page = admin.get("/admin/youtube_bot/song/?origin__exact=chart").content.decode()
    assert "Espresso" in page and "Hello" not in page
    row = page[page.index('<td class="field-origin">') :].split("</tr>")[0]
    assert '<td class="field-origin">YouTube chart</td>' in row
    assert '<td class="field-chart_region">GB</td><td class="field-chart_rank">7</td>' in row
    assert "March 3, 2026" in row
    assert '<a href="?chart_region=GB&amp;origin__exact=chart">GB</a>' in page
    by_region = admin.get("/admin/youtube_bot/song/?chart_region=US").content.decode()
    assert "Espresso" not in by_region and "0 songs" in by_region


def test_the_deny_list_is_edited_in_the_admin(admin: Client) -> None:
    answer = admin.post(
        "/admin/youtube_bot/deniedsource/add/",
        {"kind": "artist", "value": "  Some Artist ", "note": "Asked by e-mail on 2 March."},
    )
    assert answer.status_code == 302
    assert DeniedSource.objects.get().value == "Some Artist"
    again = admin.post(
        "/admin/youtube_bot/deniedsource/add/", {"kind": "artist", "value": "SOME ARTIST"}
    )
    assert "on the list already" in again.content.decode()
    listing = admin.get("/admin/youtube_bot/deniedsource/").content.decode()
    assert "Some Artist" in listing and "Asked by e-mail" in listing


def test_a_channels_state_is_shown_and_only_its_settings_are_edited(
    admin: Client, channels: tuple[Channel, Channel]
) -> None:
    vr, _ae = channels
    Channel.objects.filter(pk=vr.pk).update(quota_used=120)
    url = f"/admin/youtube_bot/channel/{vr.pk}/change/"
    page = admin.get(url).content.decode()
    assert '<div class="readonly">Active</div>' in page
    for state in ("status", "youtube_channel_id", "quota_used", "error", "authorized_at"):
        assert f'name="{state}"' not in page, state
    assert 'name="title"' in page and 'name="quota_budget"' in page
    answer = admin.post(
        url,
        {
            "slug": vr.slug, "brand": vr.brand, "stem": vr.stem, "title": "VR renamed",
            "playlist_id": "PLother", "quota_budget": "5000",
            "status": "paused", "quota_used": "0", "error": "forged",
            "youtube_channel_id": "UCforged",
        },
    )  # fmt: skip
    assert answer.status_code == 302
    vr.refresh_from_db()
    assert (vr.title, vr.playlist_id, vr.quota_budget) == ("VR renamed", "PLother", 5000)
    assert (vr.status, vr.quota_used, vr.error) == (Channel.Status.ACTIVE, 120, "")
    assert vr.youtube_channel_id == "UCvocalsremover0000000000"


def test_an_edit_does_not_write_back_what_the_services_changed_meanwhile(
    admin: Client, channels: tuple[Channel, Channel]
) -> None:
    vr, _ae = channels
    form = {"slug": vr.slug, "brand": vr.brand, "stem": vr.stem, "title": "VR renamed"}
    real_save = Channel.save

    def block_first(channel: Channel, *args: object, **kwargs: object) -> None:
        # The pipeline blocks the channel after the admin loaded it, before it saves.
        services.block_channel(Channel.objects.get(pk=channel.pk), "invalid_grant")
        real_save(channel, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Channel, "save", block_first)
        assert admin.post(f"/admin/youtube_bot/channel/{vr.pk}/change/", form).status_code == 302
    vr.refresh_from_db()
    assert vr.title == "VR renamed"
    assert (vr.status, vr.error) == (Channel.Status.NEEDS_AUTHORIZATION, "invalid_grant")


def test_the_channel_stop_action_blocks_through_the_service(
    admin: Client, channels: tuple[Channel, Channel]
) -> None:
    vr, ae = channels
    services.block_channel(ae, "Google refused the channel's refresh token (invalid_grant).")
    answer = admin.post(
        "/admin/youtube_bot/channel/",
        {"action": "block", "_selected_action": [str(vr.pk), str(ae.pk)]},
        follow=True,
    )
    assert "1 channel stopped; 1 skipped (not active)." in answer.content.decode()
    vr.refresh_from_db()
    ae.refresh_from_db()
    assert vr.status == Channel.Status.NEEDS_AUTHORIZATION
    assert "youtube_authorize vocals-remover" in vr.error and vr.error_at is not None
    assert "invalid_grant" in ae.error


def test_a_publication_is_read_only_and_changes_through_its_actions(
    admin: Client, channels: tuple[Channel, Channel]
) -> None:
    vr, ae = channels
    song = services.add_song(title="Hello", artist="Adele", source_url="https://e.com/a")
    pub = Publication.objects.get(song=song, channel=vr)
    Publication.objects.filter(pk=pub.pk).update(status="uploading", session_uri="https://up/1")
    url = f"/admin/youtube_bot/publication/{pub.pk}/change/"
    page = admin.get(url).content.decode()
    assert '<div class="readonly">Uploading</div>' in page
    for state in ("status", "video_id", "session_uri", "lease_until", "attempts"):
        assert f'name="{state}"' not in page, state
    assert admin.get("/admin/youtube_bot/publication/add/").status_code == 403
    forged = {"status": "uploaded", "video_id": "forged", "session_uri": ""}
    assert admin.post(url, forged).status_code == 403
    pub.refresh_from_db()
    assert (pub.status, pub.video_id, pub.session_uri) == ("uploading", "", "https://up/1")

    other = Publication.objects.get(song=song, channel=ae)
    Publication.objects.filter(pk=other.pk).update(status="failed", error_message="x")
    stopped = admin.post(
        "/admin/youtube_bot/publication/",
        {"action": "stop", "_selected_action": [str(pub.pk), str(other.pk)]},
        follow=True,
    ).content.decode()
    assert "1 publication failed; 1 skipped (not open)." in stopped
    pub.refresh_from_db()
    assert (pub.status, pub.error_code) == (Publication.Status.FAILED, "stopped")
    assert pub.error_message == "Stopped from the admin by admin."
    requeued = admin.post(
        "/admin/youtube_bot/publication/",
        {"action": "requeue", "_selected_action": [str(pub.pk)]},
        follow=True,
    ).content.decode()
    assert "1 publication queued again." in requeued
    pub.refresh_from_db()
    assert pub.status == Publication.Status.QUEUED
