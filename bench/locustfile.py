"""Visitors of both sites under load: pages, short uploads, polling, downloads, one viral song.

Run through bench/load.py, which starts nothing itself: the stack must be running (scripts/run.sh
with ANON_SUBMISSIONS_PER_HOUR=0, since every simulated visitor shares one address).

The fans (a fixed number, LOAD_FANS) all upload the popular song at the same moment,
LOAD_VIRAL_AFTER seconds into the run, while the visitors keep the workers busy with clips.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

HOSTS = ("vocals-remover.localhost", "acapella-extractor.localhost")
CLIPS = Path(os.environ.get("LOAD_CLIPS", "var/load/clips"))
POPULAR = Path(os.environ.get("LOAD_POPULAR", "var/load/popular.mp3"))
POLL_SECONDS = float(os.environ.get("LOAD_POLL_SECONDS", "2"))
JOB_TIMEOUT = float(os.environ.get("LOAD_JOB_TIMEOUT", "600"))
FANS = int(os.environ.get("LOAD_FANS", "50"))
# Every fan process imports this module at start, so all of them aim at the same moment.
VIRAL_AT = time.time() + float(os.environ.get("LOAD_VIRAL_AFTER", "120"))
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')

_clip_counter = {"n": 0}


def _next_clip() -> Path:
    clips = sorted(CLIPS.glob("*.mp3"))
    _clip_counter["n"] += 1
    return clips[_clip_counter["n"] % len(clips)]


class SiteUser(HttpUser):
    """What every simulated visitor can do; the subclasses say how often."""

    abstract = True
    wait_time = between(1, 5)

    def on_start(self) -> None:
        """Pick a site for this visitor."""
        self.site = HOSTS[id(self) % 2]
        self.client.headers["Host"] = f"{self.site}:{os.environ.get('LOAD_PORT', '8000')}"

    def home(self) -> None:
        """Open the home page and its stylesheet."""
        self.client.get("/", name="page: home")
        self.client.get("/brand.css", name="asset: brand.css")

    def separate(self, clip: Path, label: str = "upload") -> None:
        """Upload, follow the job like the page's script does, then download."""
        page = self.client.get("/", name="page: home")
        found = TOKEN.search(page.content)
        if not found:
            return
        with clip.open("rb") as fh:
            response = self.client.post(
                "/",
                data={"csrfmiddlewaretoken": found.group(1).decode(), "format": "mp3"},
                files={"file": (clip.name, fh, "audio/mpeg")},
                headers={"Accept": "application/json", "Referer": f"http://{self.site}/"},
                name=label,
            )
        if response.status_code != 201:
            return
        job_url = response.json()["redirect"]
        self.client.get(job_url, name="page: job")
        deadline = time.monotonic() + JOB_TIMEOUT
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.client.get(f"{job_url}status.json", name="poll: status.json").json()
            if state.get("finished"):
                break
            time.sleep(POLL_SECONDS)
        if state.get("state") == "done":
            self.client.get(f"{job_url}download/", name="download: mp3")
            events.request.fire(
                request_type="JOB",
                name="job finished",
                response_time=0,
                response_length=0,
                exception=None,
                context={},
            )


class Visitor(SiteUser):
    """Someone on a phone or a desktop: reads pages, sometimes separates a short clip."""

    weight = 9

    @task(10)
    def read_home(self) -> None:
        """Open the home page."""
        self.home()

    @task(3)
    def pricing(self) -> None:
        """Open the pricing page."""
        self.client.get("/pricing/", name="page: pricing")

    @task(1)
    def separate_a_clip(self) -> None:
        """Upload a short clip, poll until done, download the result."""
        self.separate(_next_clip())


class Fan(SiteUser):
    """Someone who came for the song everybody shares: all of them upload it at the same moment."""

    fixed_count = FANS

    @task
    def separate_the_popular_song(self) -> None:
        """Wait for the viral moment, upload the popular song once, then only read pages."""
        if getattr(self, "done", False):
            self.home()
            return
        self.done = True
        time.sleep(max(0.0, VIRAL_AT - time.time()))  # gevent's patched sleep: others go on
        self.separate(POPULAR, label="upload: popular song")
