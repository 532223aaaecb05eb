"""Live MP3 of a stem while it is separated: ffmpeg encodes to a pipe, a thread hands on bytes."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable

import numpy as np

from . import media
from .errors import ErrorCode, SeparationError
from .feeder import Feeder

LiveSink = Callable[[bytes], None]

LIVE_BITRATE = "192k"
# Constant bitrate MP3 with no Xing/LAME header and no ID3 tag: a header written before the end
# would give a browser a wrong length, and a growing stream cannot be rewound to fix it. Every
# packet is flushed at once, so that a listener gets the audio as soon as it is encoded.
LIVE_CODEC_ARGS = [
    "-c:a",
    "libmp3lame",
    "-b:a",
    LIVE_BITRATE,
    "-write_xing",
    "0",
    "-id3v2_version",
    "0",
    "-flush_packets",
    "1",
    "-f",
    "mp3",
]
READ_CHUNK = 64 * 1024


class LiveEncoder:
    """Encode float32 stereo blocks to MP3 and pass the bytes to `sink` as they come out.

    The sink is called from a reader thread, in order; an exception it raises stops the calls
    and is raised again by `finish`, so a caller's failure is never lost.
    """

    def __init__(self, sink: LiveSink, *, ffmpeg: str = "ffmpeg") -> None:
        self._sink = sink
        self._ffmpeg = ffmpeg
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
        # Raw samples from our own pipe only: no protocol other than pipe can be opened.
        cmd += ["-protocol_whitelist", "pipe", "-f", "f32le", "-ar", str(media.SAMPLE_RATE)]
        cmd += ["-ac", str(media.CHANNELS), "-i", "pipe:0", *LIVE_CODEC_ARGS, "pipe:1"]
        self._proc = media._popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self._proc.stderr is not None
        self._drain = media._StderrDrain(self._proc.stderr)
        self._drain.start()
        self.sink_error: BaseException | None = None
        self.bytes_out = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self._proc.stdin is not None
        self._feeder = Feeder(self._proc.stdin)

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        with contextlib.suppress(OSError, ValueError):  # the pipe closed under us (abort)
            while data := stdout.read1(READ_CHUNK):  # type: ignore[attr-defined]
                if self.sink_error is not None:
                    continue  # keep draining so that ffmpeg never blocks on a full pipe
                try:
                    self._sink(data)
                    self.bytes_out += len(data)
                except BaseException as exc:  # handed to the caller by finish()
                    self.sink_error = exc

    def write(self, block: np.ndarray) -> None:
        """Queue one (n, 2) block for ffmpeg."""
        if self._feeder.error is not None:
            raise self._failure() from self._feeder.error
        self._feeder.put(block)

    def finish(self) -> None:
        """Close the input, wait for the last bytes to reach the sink, check ffmpeg's exit."""
        assert self._proc.stdin is not None
        self._feeder.stop()
        if self._feeder.error is not None:
            raise self._failure() from self._feeder.error
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        code = self._proc.wait()
        self._reader.join()
        if code != 0:
            raise self._failure()
        if self.sink_error is not None:
            raise self.sink_error

    def abort(self) -> None:
        """Kill ffmpeg; the sink gets nothing more."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._feeder.stop()
        self._reader.join(timeout=5)  # ffmpeg is gone, so its stdout has ended
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _failure(self) -> SeparationError:
        if self._proc.poll() is None:
            self._proc.kill()
        code = self._proc.wait()
        error = SeparationError(ErrorCode.ENCODE_FAILED, "Encoding the live stream failed.")
        error.__cause__ = media.ToolFailure(self._ffmpeg, code, self._drain.last_line)
        return error
