"""Sizes and lengths as people read them, for the sites' and the API's messages alike."""

from __future__ import annotations


def human_size(size: int) -> str:
    """Return a size as people read it (100 MB, 2.5 MB, 40 kB)."""
    mb = size / 1_000_000
    if mb >= 10:
        return f"{mb:.0f} MB"
    if mb >= 1:
        return f"{mb:.1f} MB"
    return f"{max(1, round(size / 1000))} kB"


def human_duration(seconds: float) -> str:
    """Return m:ss."""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
