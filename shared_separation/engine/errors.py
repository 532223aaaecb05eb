"""The one error the engine raises."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable machine-readable reasons a separation can fail."""

    EMPTY_FILE = "empty_file"
    NOT_AUDIO = "not_audio"
    NO_SAMPLES = "no_samples"
    TOO_LONG = "too_long"
    DECODE_FAILED = "decode_failed"
    ENCODE_FAILED = "encode_failed"
    MODEL_MISSING = "model_missing"
    MODEL_CORRUPT = "model_corrupt"
    FFMPEG_MISSING = "ffmpeg_missing"
    CANCELLED = "cancelled"
    INTERNAL = "internal"


class SeparationError(Exception):
    """A separation could not be done; `code` is stable, `message` is for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message
