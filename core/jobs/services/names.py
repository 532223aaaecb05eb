"""Names of the tasks and queues the job services send work to."""

from __future__ import annotations

SEPARATE_TASK = "shared_separation.separate"
QUEUE = "separation"
PRIORITY_QUEUE = "separation_priority"
LIGHT_QUEUE = "default"
PREPARE_TASK = "jobs.prepare_deliveries"
ANALYZE_TASK = "jobs.analyze"
LINK_TASK = "shared_separation.import_link"
# A fetch may last LINK_TIMEOUT; the task gets this much more for probing and storing.
LINK_TASK_MARGIN = 60
