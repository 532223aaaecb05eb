"""Signals the jobs app sends, so that other apps (the API's callbacks) follow jobs without
core.jobs importing them. Each is sent once the change is committed."""

from __future__ import annotations

from django.dispatch import Signal

# A list of job ids that just reached succeeded or failed: `job_ids`.
jobs_finished = Signal()
# A link import that just got its job or failed: `link_id`.
link_finished = Signal()
# Audio removed after a copyright notice (services.blocks): `source_ids`, the AudioSources.
source_blocked = Signal()
