"""Every change of state of the bot's songs, channels and publications happens here.

A publication moves queued → fetched → separated → rendered → uploading → uploaded, or to
failed with a reason. Each step is taken under a lease (a worker that dies loses it after
YOUTUBE_LEASE_SECONDS) and ends with a conditional update from the state it started in, so two
workers never both take a step. Quota answers park a publication until YouTube's next quota
day; revoked credentials block the channel, not the other channel or the next songs.

One package, one module per concern; callers use `from youtube_bot import services` and the
names re-exported below.
"""

from __future__ import annotations

from youtube_bot.services.catalogue import (
    ChartPosition,
    add_song,
    import_playlist,
    playlist_id_from,
    queue_song,
    split_video_title,
)
from youtube_bot.services.channels import authorize, block_channel, brand_of, store_refresh_token
from youtube_bot.services.publications import (
    fail,
    give_up,
    mark_for_takedown,
    record_visit,
    requeue,
)
from youtube_bot.services.runtime import Outcome, Runtime, Step
from youtube_bot.services.schedule import (
    POPULAR_FIRST,
    due_publications,
    uploads_left,
    uploads_today,
)
from youtube_bot.services.steps import (
    advance,
    card_for,
    preview_name,
    render_options,
    run_publication,
)
from youtube_bot.services.takedown import pending_removals
from youtube_bot.services.takedown import remove as remove_from_youtube
from youtube_bot.services.upload import needs_finishing

__all__ = [
    "POPULAR_FIRST",
    "ChartPosition",
    "Outcome",
    "Runtime",
    "Step",
    "add_song",
    "advance",
    "authorize",
    "block_channel",
    "brand_of",
    "card_for",
    "due_publications",
    "fail",
    "give_up",
    "import_playlist",
    "mark_for_takedown",
    "needs_finishing",
    "pending_removals",
    "playlist_id_from",
    "preview_name",
    "queue_song",
    "record_visit",
    "remove_from_youtube",
    "render_options",
    "requeue",
    "run_publication",
    "split_video_title",
    "store_refresh_token",
    "uploads_left",
    "uploads_today",
]
