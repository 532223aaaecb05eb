"""yt-dlp's extractor for the tests' local video site (tests/core/web/test_links.py).

A plugin, as yt-dlp supports sites it does not ship: its links are shaped like YouTube's
(watch?v=, shorts/, embed/, v/, live/, with timestamps and share parameters), so real yt-dlp
names one video in many URL forms and fetches it from a site on this machine.
"""

from __future__ import annotations

from typing import Any

from yt_dlp.extractor.common import InfoExtractor


class LocalTubeIE(InfoExtractor):
    """Read a video page of the local test site: its JSON metadata and its one audio file."""

    IE_NAME = "localtube"
    _VALID_URL = (
        r"https?://127\.0\.0\.1:(?P<port>\d+)/"
        r"(?:watch/?\?(?:[^#]*&)?v=|shorts/|embed/|v/|live/)(?P<id>[A-Za-z0-9_-]{11})"
    )

    def _real_extract(self, url: str) -> dict[str, Any]:
        video_id = self._match_id(url)
        match = self._match_valid_url(url)
        base = f"http://127.0.0.1:{match.group('port')}"
        meta = self._download_json(f"{base}/api/{video_id}.json", video_id)
        return {
            "id": video_id,
            "title": meta["title"],
            "artist": meta["artist"],
            "duration": meta["duration"],
            "formats": [
                {
                    "url": f"{base}/media/{video_id}.mp3",
                    "ext": "mp3",
                    "vcodec": "none",
                    "acodec": "mp3",
                }
            ],
        }
