"""The one error the engine raises."""

from __future__ import annotations

from shared_separation.errors import Code

# The one catalogue of codes (pure Python, like the engine): a separation fails with one of them.
ErrorCode = Code


class SeparationError(Exception):
    """A separation could not be done; `code` is stable, `message` is for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message
