"""The folder where uploads in flight are written, and the clean-up of what dead processes left."""

from __future__ import annotations

import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# No upload takes this long: a file this old belongs to a process that was killed mid-request.
STALE_AFTER_SECONDS = 6 * 3600


def prepare_upload_dir(folder: Path, *, stale_after: float = STALE_AFTER_SECONDS) -> int:
    """Create the folder; delete the uploads a killed web process left there; return how many."""
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - stale_after
    removed = 0
    # Django names its temporary uploads tmpXXXX.upload<.ext>; leave anything else alone.
    for entry in folder.glob("*.upload*"):
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # another process starting at the same time took it
    if removed:
        logger.warning("removed %d uploads left by killed web processes in %s", removed, folder)
    return removed
