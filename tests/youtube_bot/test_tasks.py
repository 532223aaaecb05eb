"""The bot's Celery tasks: routed to the bot queue, retrying transient failures, then giving up."""

from __future__ import annotations

import pytest

from core.celery import celery_app
from youtube_bot import services, tasks
from youtube_bot.models import Channel, Publication
from youtube_bot.services import Outcome, Step


def test_bot_tasks_go_to_the_bot_queue() -> None:
    for name in ("youtube_bot.advance", "youtube_bot.run"):
        route = celery_app.amqp.router.route({}, name)
        assert route["queue"].name == "bot"


def test_beat_runs_the_bot_on_schedule() -> None:
    entry = celery_app.conf.beat_schedule["youtube-bot-run"]
    assert entry["task"] == "youtube_bot.run" and entry["schedule"] == 15 * 60.0


def test_transient_failures_are_retried_then_the_publication_fails(
    channels: tuple[Channel, Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    vr, _ae = channels
    song = services.add_song(title="T", artist="A", source_url="https://e.com/x")
    pub = Publication.objects.get(song=song, channel=vr)
    calls: list[str] = []

    def transient(pk: str) -> Outcome:
        calls.append(pk)
        return Outcome(Step.RETRY, "HTTP 503", delay=60.0)

    monkeypatch.setattr(services, "run_publication", transient)
    # Applied eagerly, each retry runs at once instead of after its countdown.
    assert tasks.advance.apply(args=(str(pub.pk),)).get() == "failed"
    assert len(calls) == tasks.MAX_TASK_RETRIES + 1
    pub.refresh_from_db()
    assert pub.status == Publication.Status.FAILED and pub.error_code == "gave_up"
    assert "HTTP 503" in pub.error_message
