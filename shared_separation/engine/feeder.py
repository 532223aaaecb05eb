"""A thread that writes audio blocks into a process's stdin (the ffmpeg encoders')."""

from __future__ import annotations

import queue
import threading
from typing import IO

import numpy as np


class Feeder:
    """Write float32 blocks into a process's stdin from a thread, two blocks pending at most.

    The caller goes back to separating instead of waiting for ffmpeg to take each block. A
    write error (ffmpeg died) is kept in `error`; later blocks are taken and dropped, so the
    caller never blocks on a dead process.
    """

    def __init__(self, stdin: IO[bytes]) -> None:
        self._stdin = stdin
        self._pending: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self.error: OSError | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._pending.get()) is not None:
            if self.error is not None:
                continue
            try:
                self._stdin.write(data)
            except OSError as exc:  # BrokenPipeError: the process has died
                self.error = exc

    def put(self, block: np.ndarray) -> None:
        """Queue one (n, 2) block, as little-endian float32."""
        self._pending.put(np.ascontiguousarray(block, dtype="<f4").tobytes())

    def stop(self) -> None:
        """Let the queued blocks be written (or dropped), then end the thread."""
        if self._thread.is_alive():
            self._pending.put(None)
            self._thread.join()
