"""System checks: the link importer has the JavaScript runtime and solver YouTube needs."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning, register

from shared_separation.links import runtime

# W001: no runtime at all; W002: no solver, or not the one this yt-dlp was made for;
# W003: a runtime that is there but cannot be used (not executable, does not run, too old).
CHECK_IDS = {"no_runtime": "links.W001", "solver": "links.W002", "bad_runtime": "links.W003"}


@register()
def check_link_runtime(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn, with the fix, when YouTube links would be fetched without a runtime or solver."""
    return [
        Warning(problem.message, hint=problem.fix, id=CHECK_IDS[problem.kind])
        for problem in runtime.status().problems
    ]
