"""What a visitor can do about a failed job or link, by the catalogue's codes.

The codes are shared_separation.errors': the same a job's or a link's `error_code` holds and the
API answers. The advice is the sites' own words, shown under the failure's message.
"""

from __future__ import annotations

from shared_separation.errors import Code

# A failed separation (the engine's and the pool's codes).
JOB_ADVICE: dict[Code, str] = {
    Code.NOT_AUDIO: "Check that the file plays in a media player, or convert it to MP3 or WAV, "
    "then upload it again.",
    Code.EMPTY_FILE: "Choose another file and upload it again.",
    Code.NO_SAMPLES: "The file has no sound we could read. Choose another file.",
    Code.DECODE_FAILED: "The file seems damaged. Convert it to MP3 or WAV and upload it again.",
    Code.TOO_LONG: "Cut the song shorter and upload it again.",
    Code.TIMEOUT: "The servers are very busy. Please upload the song again in a few minutes.",
}
DEFAULT_JOB_ADVICE = "Please upload the song again in a few minutes. If it keeps failing, tell us."

# A link that could not be fetched (the link importer's codes, and the intake's once fetched).
LINK_ADVICE: dict[Code, str] = {
    Code.PLAYLIST: "Open the song itself and paste the link of that page.",
    Code.PRIVATE_ADDRESS: "Paste a link to a public website.",
    Code.BOT_CHECK: "Download the song and upload the file here; YouTube links may work again "
    "later.",
    Code.STREAM_ONLY: "Download the song and upload the file here.",
    Code.UNSAFE_MEDIA: "Download the song and upload the file here.",
    Code.TOO_LONG: "Choose a shorter song, or cut it and upload the file.",
    Code.TOO_LARGE: "Download the song and upload a smaller file.",
    Code.BLOCKED: "This song was removed after a copyright notice; choose another song.",
    Code.LIVE: "Wait until the stream has ended and paste the link of the recording.",
}
DEFAULT_LINK_ADVICE = "Paste another link, or download the song and upload the file here."


def _code(code: str) -> Code | None:
    try:
        return Code(code)
    except ValueError:
        return None


def for_job(code: str) -> str:
    """Return the advice under a failed job's message."""
    known = _code(code)
    return JOB_ADVICE.get(known, DEFAULT_JOB_ADVICE) if known else DEFAULT_JOB_ADVICE


def for_link(code: str) -> str:
    """Return the advice under a failed link's message."""
    known = _code(code)
    return LINK_ADVICE.get(known, DEFAULT_LINK_ADVICE) if known else DEFAULT_LINK_ADVICE
