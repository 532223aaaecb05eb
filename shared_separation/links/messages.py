"""Words for people, shared by the link importer's parent and its fetch process."""

from __future__ import annotations


def too_long_message(duration: float, limit: float) -> str:
    """Say that a song is over the length limit, both as m:ss."""
    return (
        f"That song lasts {int(duration) // 60}:{int(duration) % 60:02d}, over the limit of "
        f"{int(limit) // 60}:{int(limit) % 60:02d}."
    )
