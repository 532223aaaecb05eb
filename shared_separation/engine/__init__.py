"""The separation engine: guarded ffmpeg decode, Spleeter 2stems in bounded blocks, encode.

This package never imports Django, so benchmarks, the shell command and workers share it.
"""

from __future__ import annotations

from .engine import ENGINE_VERSION, Output, SeparationEngine, SeparationResult
from .errors import ErrorCode, SeparationError
from .media import AudioFormat, MediaInfo
from .quality import Quality

__all__ = [
    "ENGINE_VERSION",
    "AudioFormat",
    "ErrorCode",
    "MediaInfo",
    "Output",
    "Quality",
    "SeparationEngine",
    "SeparationError",
    "SeparationResult",
]
