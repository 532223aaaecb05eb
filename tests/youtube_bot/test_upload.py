"""Uploads through google-api-python-client against HttpMockSequence with YouTube's answers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.youtube_bot.conftest import (
    CHUNK,
    SESSION,
    Crash,
    Recording,
    api_error,
    ok,
    rendered,
    resume_incomplete,
    session_started,
    token_ok,
    token_revoked,
    video,
)
from youtube_bot import quota, services
from youtube_bot.models import Channel, Publication, Song
from youtube_bot.services import Runtime, Step

SIZE = 600 * 1024  # three chunks of 256 KiB: 0-262143, 262144-524287, 524288-614399
THUMBNAIL_URL = "https://youtube.googleapis.com/upload/youtube/v3/thumbnails/set"
PLAYLIST_ITEMS_URL = "https://youtube.googleapis.com/youtube/v3/playlistItems"


def _runtime(http: Recording, sleeps: list[float] | None = None) -> Runtime:
    record = sleeps if sleeps is not None else []
    return Runtime(http=http, sleep=record.append, rand=lambda: 0.5)


def _finish_responses(playlist: bool = True) -> list[Any]:
    responses = [token_ok(), ok({"kind": "youtube#thumbnailSetResponse", "items": []})]
    if playlist:
        responses.append(ok({"kind": "youtube#playlistItem", "id": "PLI-item-1"}))
    return responses


@pytest.fixture
def song(channels: tuple[Channel, Channel]) -> Song:
    from django.core.files.base import ContentFile

    return services.add_song(
        title="Bohemian Rhapsody", artist="Queen", audio=ContentFile(b"x", name="a.flac")
    )


def test_a_video_goes_up_in_chunks_then_thumbnail_and_playlist(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    http = Recording(
        [
            token_ok(),
            session_started(),
            resume_incomplete(CHUNK - 1),
            resume_incomplete(2 * CHUNK - 1),
            video("vid-one"),
            *_finish_responses(),
        ]
    )
    outcome = services.run_publication(pub.pk, runtime=_runtime(http))
    assert outcome.step is Step.DONE, outcome
    pub.refresh_from_db()
    assert pub.status == Publication.Status.UPLOADED
    assert pub.video_id == "vid-one" and pub.uploaded_at is not None
    assert pub.thumbnail_set and pub.playlist_item_id == "PLI-item-1"
    assert pub.session_uri == ""
    assert http.inserts() == 1
    methods = [m for m, _u in http.calls()]
    assert methods == ["POST", "POST", "PUT", "PUT", "PUT", "POST", "POST", "POST"]
    # The session start carries the metadata: private, Music, made-for-kids said explicitly.
    start = http.request_sequence[1]
    assert "uploadType=resumable" in start[0]
    body = json.loads(start[2])
    assert body["status"]["privacyStatus"] == "private"
    assert body["status"]["selfDeclaredMadeForKids"] is False
    assert body["snippet"]["categoryId"] == "10"
    assert body["snippet"]["title"] == "Queen - Bohemian Rhapsody (Instrumental)"
    first_line = body["snippet"]["description"].splitlines()[0]
    assert "/t/queen-bohemian-rhapsody/?utm_source=youtube" in first_line
    assert start[3]["X-Upload-Content-Length"] == str(SIZE)
    # Chunks say which bytes they carry.
    ranges = [h.get("Content-Range") for _u, m, _b, h in http.request_sequence if m == "PUT"]
    assert ranges == [
        f"bytes 0-{CHUNK - 1}/{SIZE}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}",
        f"bytes {2 * CHUNK}-{SIZE - 1}/{SIZE}",
    ]
    assert http.calls()[-2] == ("POST", THUMBNAIL_URL)
    assert http.calls()[-1][1].endswith("/youtube/v3/playlistItems")
    # Quota: insert + thumbnail + playlist item.
    vr.refresh_from_db()
    assert vr.quota_used == 1600 + 50 + 50


def test_a_503_and_a_dropped_connection_are_retried_with_backoff(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    _, ae = channels
    pub = rendered(song, ae, SIZE)
    sleeps: list[float] = []
    http = Recording(
        [
            token_ok(),
            api_error(503, "backendError"),  # the session start itself fails once
            session_started(),
            resume_incomplete(CHUNK - 1),
            api_error(503, "backendError"),  # the second chunk is refused
            resume_incomplete(CHUNK - 1),  # asked, the server still holds one chunk
            ConnectionResetError(104, "Connection reset by peer"),  # and the resend drops
            resume_incomplete(CHUNK - 1),
            resume_incomplete(2 * CHUNK - 1),
            video("vid-two"),
            *_finish_responses(playlist=False),
        ]
    )
    outcome = services.run_publication(pub.pk, runtime=_runtime(http, sleeps))
    assert outcome.step is Step.DONE, outcome
    pub.refresh_from_db()
    assert pub.video_id == "vid-two"
    assert http.inserts() == 2  # the refused start and the one that worked; one video
    # After an error the client asks the session for its state (an empty PUT) before resending.
    queries = [h for _u, m, _b, h in http.request_sequence if h and "bytes */" in str(h)]
    assert len(queries) == 2
    # Full jitter (rand()=0.5) of 2 s, 2 s, then 4 s for the second failure in a row.
    assert sleeps == [1.0, 1.0, 2.0]


def test_quota_exceeded_parks_the_song_until_the_next_quota_day(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, ae = channels
    pub = rendered(song, vr, SIZE)
    http = Recording([token_ok(), api_error(403, "quotaExceeded", "You have exceeded your quota.")])
    outcome = services.run_publication(pub.pk, runtime=_runtime(http))
    assert outcome.step is Step.PARKED
    pub.refresh_from_db()
    assert pub.status == Publication.Status.RENDERED  # not failed: it goes on tomorrow
    assert pub.error_code == "quotaExceeded"
    assert pub.parked_until == quota.next_reset()
    vr.refresh_from_db()
    assert quota.remaining(vr) == 0
    # The next run leaves it alone until then, and the other channel is untouched.
    assert pub.pk not in {p.pk for p in services.due_publications()}
    assert services.run_publication(pub.pk, runtime=_runtime(Recording([]))).step is Step.PARKED
    ae.refresh_from_db()
    assert ae.status == Channel.Status.ACTIVE and quota.remaining(ae) == 10_000


def test_upload_limit_exceeded_parks_without_spending_the_budget(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    http = Recording([token_ok(), api_error(400, "uploadLimitExceeded")])
    assert services.run_publication(pub.pk, runtime=_runtime(http)).step is Step.PARKED
    pub.refresh_from_db()
    assert pub.status == Publication.Status.RENDERED and pub.parked_until is not None


def test_the_daily_budget_stops_the_bot_before_calling_youtube(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    Channel.objects.filter(pk=vr.pk).update(quota_budget=1700)  # insert+thumbnail+playlist: 1700
    quota.reserve(vr, 1)
    pub = rendered(song, vr, SIZE)
    http = Recording([])
    outcome = services.run_publication(pub.pk, runtime=_runtime(http))
    assert outcome.step is Step.PARKED, outcome
    assert http.request_sequence == []
    pub.refresh_from_db()
    assert pub.error_code == "quota_budget" and pub.status == Publication.Status.RENDERED


def _crash_after(responses: list[Any]) -> list[Any]:
    return [*responses, Crash()]


def test_a_retry_after_a_crash_resumes_the_session_and_never_inserts_twice(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    first = Recording(_crash_after([token_ok(), session_started(), resume_incomplete(CHUNK - 1)]))
    with pytest.raises(Crash):
        services.run_publication(pub.pk, runtime=_runtime(first))
    pub.refresh_from_db()
    assert pub.status == Publication.Status.UPLOADING
    assert pub.session_uri == SESSION  # stored before the first byte went out
    assert first.inserts() == 1

    second = Recording(
        [
            token_ok(),
            resume_incomplete(CHUNK - 1),  # the status query: one chunk arrived
            resume_incomplete(2 * CHUNK - 1),
            video("vid-resumed"),
            *_finish_responses(),
        ]
    )
    outcome = services.run_publication(pub.pk, runtime=_runtime(second))
    assert outcome.step is Step.DONE, outcome
    assert second.inserts() == 0
    assert second.request_sequence[1][3]["Content-Range"] == f"bytes */{SIZE}"
    ranges = [h.get("Content-Range") for _u, m, _b, h in second.request_sequence[2:4]]
    assert ranges == [
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}",
        f"bytes {2 * CHUNK}-{SIZE - 1}/{SIZE}",
    ]
    pub.refresh_from_db()
    assert pub.video_id == "vid-resumed" and pub.status == Publication.Status.UPLOADED
    vr.refresh_from_db()
    assert vr.quota_used == 1600 + 50 + 50  # the insert was paid once


def test_a_crash_after_the_last_byte_takes_the_video_from_the_session(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    first = Recording(
        _crash_after(
            [
                token_ok(),
                session_started(),
                resume_incomplete(CHUNK - 1),
                resume_incomplete(2 * CHUNK - 1),
            ]
        )
    )
    with pytest.raises(Crash):
        services.run_publication(pub.pk, runtime=_runtime(first))
    # The server got the last chunk and made the video, but the answer never arrived.
    second = Recording([token_ok(), video("vid-finished"), *_finish_responses()])
    assert services.run_publication(pub.pk, runtime=_runtime(second)).step is Step.DONE
    assert second.inserts() == 0
    assert [m for m, _u in second.calls()][:2] == ["POST", "PUT"]
    pub.refresh_from_db()
    assert pub.video_id == "vid-finished"


def test_an_expired_session_finds_the_video_on_the_channel_instead_of_inserting(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    Publication.objects.filter(pk=pub.pk).update(status="uploading", session_uri=SESSION)
    from youtube_bot import metadata

    item = {
        "snippet": {
            "description": "▶ ... https://x/t/queen-bohemian-rhapsody/?"
            + metadata.marker(song, vr)
            + "\n...",
            "resourceId": {"kind": "youtube#video", "videoId": "vid-found"},
        }
    }
    http = Recording(
        [
            token_ok(),
            api_error(404, "notFound"),  # the session is gone
            ok({"items": [{"snippet": {"description": "another song"}}, item]}),
            *_finish_responses(),
        ]
    )
    assert services.run_publication(pub.pk, runtime=_runtime(http)).step is Step.DONE
    assert http.inserts() == 0
    assert http.calls()[2] == ("GET", PLAYLIST_ITEMS_URL)
    assert "playlistId=UUvocalsremover0000000000" in http.request_sequence[2][0]
    pub.refresh_from_db()
    assert pub.video_id == "vid-found"


def test_revoked_credentials_block_that_channel_only(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, ae = channels
    pub_vr = rendered(song, vr, SIZE)
    pub_ae = rendered(song, ae, SIZE)
    revoked = Recording([token_revoked()])
    outcome = services.run_publication(pub_vr.pk, runtime=_runtime(revoked))
    assert outcome.step is Step.BLOCKED
    vr.refresh_from_db()
    assert vr.status == Channel.Status.NEEDS_AUTHORIZATION
    assert "invalid_grant" in vr.error and "youtube_authorize" in vr.error
    pub_vr.refresh_from_db()
    assert pub_vr.status == Publication.Status.RENDERED  # kept, not failed: re-authorize
    assert pub_vr.error_code == "invalid_grant" and "vocals-remover" in pub_vr.error_message
    # The blocked channel's rendered songs are not scheduled; the other channel goes on.
    assert pub_vr.pk not in {p.pk for p in services.due_publications()}
    other = Recording([token_ok(), session_started(), resume_incomplete(CHUNK - 1),
                       resume_incomplete(2 * CHUNK - 1), video("vid-ae"),
                       *_finish_responses(playlist=False)])  # fmt: skip
    assert services.run_publication(pub_ae.pk, runtime=_runtime(other)).step is Step.DONE
    # Authorizing again clears the alerts.
    services.store_refresh_token(vr, "1//new")
    pub_vr.refresh_from_db()
    assert vr.status == Channel.Status.ACTIVE and pub_vr.error_code == ""


def test_a_refused_video_fails_with_the_reason(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    http = Recording([token_ok(), api_error(400, "invalidTitle", "The video title is invalid.")])
    assert services.run_publication(pub.pk, runtime=_runtime(http)).step is Step.FAILED
    pub.refresh_from_db()
    assert pub.status == Publication.Status.FAILED
    assert pub.error_code == "invalidTitle" and "title is invalid" in pub.error_message


def test_transient_failures_beyond_the_retries_leave_the_session_for_later(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    with override_settings(YOUTUBE_MAX_RETRIES=1):
        http = Recording(
            [token_ok(), session_started(), api_error(502, "backendError"),
             api_error(502, "backendError")]
        )  # fmt: skip
        outcome = services.run_publication(pub.pk, runtime=_runtime(http))
    assert outcome.step is Step.RETRY
    pub.refresh_from_db()
    assert pub.status == Publication.Status.UPLOADING and pub.session_uri == SESSION
    assert pub.attempts == 1


def test_a_dry_run_stops_at_rendered(channels: tuple[Channel, Channel], song: Song) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    http = Recording([])
    outcome = services.run_publication(pub.pk, dry_run=True, runtime=_runtime(http))
    assert outcome.step is Step.DONE and "dry run" in outcome.detail
    assert http.request_sequence == []


def test_publish_at_makes_a_private_video_go_public_later(
    channels: tuple[Channel, Channel], song: Song
) -> None:
    vr, _ = channels
    pub = rendered(song, vr, SIZE)
    http = Recording([token_ok(), api_error(400, "stop")])
    with override_settings(YOUTUBE_PUBLISH_AFTER_HOURS=48.0):
        before = timezone.now()
        services.run_publication(pub.pk, runtime=_runtime(http))
    status = json.loads(http.request_sequence[1][2])["status"]
    assert status["privacyStatus"] == "private"
    publish_at = datetime.fromisoformat(status["publishAt"].replace("Z", "+00:00"))
    assert 47.9 < (publish_at - before).total_seconds() / 3600 < 48.1
