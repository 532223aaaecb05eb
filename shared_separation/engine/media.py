"""Guarded ffprobe/ffmpeg: probe, streaming decode to float32 PCM, streaming encode."""

from __future__ import annotations

import contextlib
import errno
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

import numpy as np

from .errors import ErrorCode, SeparationError
from .feeder import Feeder

SAMPLE_RATE = 44100
CHANNELS = 2

# Only local files and pipes: no URL, playlist or network protocol can ever be opened.
PROTOCOL_WHITELIST = "file,pipe"
# Audio and video containers only. Playlist and script demuxers (hls, dash, concat, rtsp, sdp,
# ffmetadata, image2...) are absent on purpose: they can make ffmpeg open other files or URLs.
# libavformat refuses a demuxer after probing and before it reads the header (so before a playlist
# can open anything) unless one of the comma-separated parts of the demuxer's name is listed
# (av_match_list); the names are spelled in full here as `ffmpeg -demuxers` prints them. Checked
# on Debian's ffmpeg 5.1 for ffmpeg and ffprobe alike (tests/shared_separation/engine).
# MPEG audio layer 2 files are read by the "mp3" demuxer; there is no "mp2" demuxer.
FORMAT_WHITELIST = ",".join(
    [
        "mp3",
        "wav",
        "w64",
        "flac",
        "ogg",
        "mov,mp4,m4a,3gp,3g2,mj2",
        "matroska,webm",
        "aac",
        "aiff",
        "asf",
        "avi",
        "flv",
        "mpeg",
        "mpegts",
        "caf",
        "wv",
        "ape",
        "amr",
        "ac3",
        "eac3",
        "dts",
        "truehd",
    ]
)
PROBE_TIMEOUT_S = 30.0
_STDERR_KEEP = 4000


class AudioFormat(StrEnum):
    """Formats a stem can be written in."""

    MP3 = "mp3"
    WAV = "wav"
    FLAC = "flac"


# Codec arguments per format. The intermediate stems are FLAC at 24 bits (lossless for what the
# float pipeline produces); downloads are 16-bit, as players and DJ gear expect.
_CODEC_ARGS: dict[AudioFormat, list[str]] = {
    AudioFormat.MP3: ["-c:a", "libmp3lame", "-b:a", "320k", "-f", "mp3"],
    AudioFormat.WAV: ["-c:a", "pcm_s16le", "-f", "wav"],
    AudioFormat.FLAC: ["-c:a", "flac", "-sample_fmt", "s16", "-f", "flac"],
}
LOSSLESS_ARGS = ["-c:a", "flac", "-sample_fmt", "s32", "-bits_per_raw_sample", "24", "-f", "flac"]


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a file."""

    duration: float
    format_name: str
    audio_codec: str
    channels: int
    sample_rate: int
    has_video: bool


class ToolFailure(RuntimeError):
    """An ffmpeg or ffprobe run failed; kept as the cause of the SeparationError raised."""

    def __init__(self, tool: str, returncode: int | None, stderr_tail: str) -> None:
        status = "timed out" if returncode is None else f"exited with {returncode}"
        super().__init__(f"{tool} {status}: {stderr_tail}" if stderr_tail else f"{tool} {status}")
        self.returncode = returncode
        self.stderr_tail = stderr_tail


def _missing(name: str) -> SeparationError:
    return SeparationError(
        ErrorCode.FFMPEG_MISSING, f"{name} could not be run; install ffmpeg (with ffprobe)."
    )


def require_binaries(ffmpeg: str, ffprobe: str) -> None:
    """Fail unless both ffmpeg and ffprobe run."""
    for name in (ffmpeg, ffprobe):
        if shutil.which(name) is None:
            raise SeparationError(
                ErrorCode.FFMPEG_MISSING, f"{name} was not found on PATH; install ffmpeg."
            )
        try:
            result = subprocess.run(
                [name, "-hide_banner", "-version"], capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _missing(name) from exc
        if result.returncode != 0:
            raise _missing(name) from ToolFailure(
                name, result.returncode, _last_line(result.stderr)
            )


def _popen(cmd: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """Start ffmpeg; a binary that cannot be executed is FFMPEG_MISSING, not an OSError."""
    try:
        return subprocess.Popen(cmd, **kwargs)  # type: ignore[call-overload]
    except OSError as exc:
        raise _missing(cmd[0]) from exc


def _input_guard_args() -> list[str]:
    return ["-protocol_whitelist", PROTOCOL_WHITELIST, "-format_whitelist", FORMAT_WHITELIST]


# Friendlier words for demuxers that the whitelist refuses and people actually upload.
_REFUSED_KINDS = {
    "hls": "an HLS playlist",
    "concat": "an ffconcat file list",
    "tty": "a text file",
    "dash": "a DASH manifest",
    "image2": "an image",
    "ffmetadata": "an ffmetadata file",
}
_NOT_ON_WHITELIST = re.compile(r"\[([\w,.-]+) @ 0x[0-9a-f]+\] Format not on whitelist")


def _unreadable_message(stderr: str) -> str:
    """Say why a file could not be opened, in words and without server paths."""
    match = _NOT_ON_WHITELIST.search(stderr)
    if match:
        name = match.group(1)
        kind = _REFUSED_KINDS.get(name) or ("an image" if name.endswith("_pipe") else None)
        what = kind or f"in the {name} format"
        return f"The file is {what}, not an accepted audio or video file."
    return "The file could not be read as audio or video (unknown or damaged format)."


def probe(path: Path, *, ffprobe: str = "ffprobe", timeout: float = PROBE_TIMEOUT_S) -> MediaInfo:
    """Read the container and first audio stream of a local file, refusing non-audio."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise SeparationError(ErrorCode.NOT_AUDIO, f"The file {path.name} does not exist.") from exc
    if size == 0:
        raise SeparationError(ErrorCode.EMPTY_FILE, "The file is empty.")
    cmd = [
        ffprobe,
        "-v",
        "error",
        *_input_guard_args(),
        "-show_entries",
        "format=duration,format_name:stream=codec_type,codec_name,channels,sample_rate,duration",
        "-of",
        "json",
        "file:" + str(path),
    ]
    try:
        result = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except OSError as exc:
        raise _missing(ffprobe) from exc
    except subprocess.TimeoutExpired as exc:
        raise SeparationError(
            ErrorCode.NOT_AUDIO, "The file could not be read as audio (reading it took too long)."
        ) from exc
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        raise SeparationError(ErrorCode.NOT_AUDIO, _unreadable_message(stderr)) from ToolFailure(
            ffprobe, result.returncode, _last_line(result.stderr)
        )
    try:
        data = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise SeparationError(ErrorCode.NOT_AUDIO, "The file could not be read as audio.") from exc
    streams = data.get("streams") or []
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        raise SeparationError(ErrorCode.NOT_AUDIO, "The file has no audio track.")
    first = audio[0]
    fmt = data.get("format") or {}
    duration = _to_float(fmt.get("duration")) or _to_float(first.get("duration")) or 0.0
    # Cover art is a "video" stream with a single frame; only real video codecs count.
    has_video = any(
        s.get("codec_type") == "video" and s.get("codec_name") not in {"mjpeg", "png", "bmp"}
        for s in streams
    )
    return MediaInfo(
        duration=duration,
        format_name=str(fmt.get("format_name", "")),
        audio_codec=str(first.get("codec_name", "")),
        channels=int(first.get("channels") or 0),
        sample_rate=int(_to_float(first.get("sample_rate")) or 0),
        has_video=has_video,
    )


def _to_float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _last_line(stderr: bytes, count: int = 3) -> str:
    """Return the last few lines of a child's stderr, joined, for logs and causes."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return " | ".join(line[:300] for line in lines[-count:])


class _StderrDrain(threading.Thread):
    """Read a child's stderr so it never blocks on a full pipe; keep the tail."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._tail = b""

    def run(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the pipe closed under us: nothing to keep
            for chunk in iter(lambda: self._stream.read(4096), b""):
                self._tail = (self._tail + chunk)[-_STDERR_KEEP:]

    @property
    def last_line(self) -> str:
        self.join(timeout=5)
        return _last_line(self._tail)


class Decoder:
    """Stream a file's first audio track as float32 stereo 44.1 kHz blocks.

    `source_channels` is the channel count ffprobe reported: a mono track is copied to both
    channels at full level, as Spleeter does, where ffmpeg's own upmix would lower it by 3 dB.
    """

    def __init__(
        self,
        path: Path,
        *,
        ffmpeg: str = "ffmpeg",
        max_seconds: float | None = None,
        source_channels: int = 0,
    ) -> None:
        self.path = path
        self.max_samples = int(max_seconds * SAMPLE_RATE) if max_seconds else None
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", *_input_guard_args()]
        cmd += ["-i", "file:" + str(path), "-map", "0:a:0", "-vn", "-sn", "-dn"]
        if max_seconds:
            # One second past the limit, so that a file over it is seen to be over it even when
            # its header lies about its length, without decoding all of a huge file.
            cmd += ["-t", f"{max_seconds + 1:.3f}"]
        if source_channels == 1:
            cmd += ["-af", "pan=stereo|c0=c0|c1=c0"]
        cmd += ["-ac", str(CHANNELS), "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
        self._ffmpeg = ffmpeg
        self._proc = _popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._drain = _StderrDrain(self._proc.stderr)
        self._drain.start()
        self.samples_read = 0

    def blocks(self, block_samples: int) -> Iterator[np.ndarray]:
        """Yield arrays of shape (n, 2), n <= block_samples; raise if ffmpeg fails."""
        assert self._proc.stdout is not None
        frame_bytes = 4 * CHANNELS
        want = block_samples * frame_bytes
        while True:
            # A buffered read returns less than asked only at the end of the stream.
            data = self._proc.stdout.read(want)
            whole = len(data) - len(data) % frame_bytes
            if whole:
                yield from self._account(
                    np.frombuffer(data[:whole], dtype="<f4").reshape(-1, CHANNELS)
                )
            if len(data) < want:
                break
        code = self._proc.wait()
        if code != 0:
            tail = self._drain.last_line
            failure = ToolFailure(self._ffmpeg, code, tail)
            if _NOT_ON_WHITELIST.search(tail):  # refused like the probe refuses it
                raise SeparationError(ErrorCode.NOT_AUDIO, _unreadable_message(tail)) from failure
            raise SeparationError(ErrorCode.DECODE_FAILED, "The audio could not be decoded.") from (
                failure
            )

    def _account(self, block: np.ndarray) -> Iterator[np.ndarray]:
        self.samples_read += len(block)
        if self.max_samples is not None and self.samples_read > self.max_samples:
            raise SeparationError(
                ErrorCode.TOO_LONG,
                f"The audio is longer than the limit of {_fmt_duration(self.max_samples)}.",
            )
        yield block

    def close(self) -> None:
        """Stop ffmpeg if it still runs."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _fmt_duration(samples: int) -> str:
    seconds = samples // SAMPLE_RATE
    return f"{seconds // 60}:{seconds % 60:02d}"


class Encoder:
    """Write float32 stereo blocks through ffmpeg into a file, atomically."""

    def __init__(
        self, dest: Path, codec_args: list[str], *, ffmpeg: str = "ffmpeg", metadata_title: str = ""
    ) -> None:
        self.dest = dest
        self.part = dest.with_name(dest.name + ".part")
        self._ffmpeg = ffmpeg
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        cmd += ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(CHANNELS), "-i", "pipe:0"]
        if metadata_title:
            cmd += ["-metadata", f"title={metadata_title}"]
        cmd += [*codec_args, "file:" + str(self.part)]
        self._proc = _popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert self._proc.stderr is not None
        self._drain = _StderrDrain(self._proc.stderr)
        self._drain.start()
        assert self._proc.stdin is not None
        self._feeder = Feeder(self._proc.stdin)

    def write(self, block: np.ndarray) -> None:
        """Queue one (n, 2) block for ffmpeg."""
        if self._feeder.error is not None:
            raise self._failure() from self._feeder.error
        self._feeder.put(block)

    def finish(self) -> None:
        """Close the input, check ffmpeg's exit code, and move the file into place."""
        assert self._proc.stdin is not None
        self._feeder.stop()
        if self._feeder.error is not None:
            raise self._failure() from self._feeder.error
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0:
            raise self._failure()
        try:
            self.part.replace(self.dest)
        except OSError as exc:
            self.part.unlink(missing_ok=True)
            raise SeparationError(
                ErrorCode.ENCODE_FAILED, _writing_failed(self.dest.name, disk_full=_is_enospc(exc))
            ) from exc

    def abort(self) -> None:
        """Kill ffmpeg and remove the partial file."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._feeder.stop()  # its pending writes now fail at once on the closed pipe
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        with contextlib.suppress(OSError):  # never hide the error being reported
            self.part.unlink(missing_ok=True)

    def _failure(self) -> SeparationError:
        """Stop ffmpeg, remove the partial file, and describe the failure with its cause."""
        if self._proc.poll() is None:
            self._proc.kill()
        code = self._proc.wait()
        self.part.unlink(missing_ok=True)
        last = self._drain.last_line
        disk_full = NO_SPACE in last or _is_enospc(self._feeder.error)
        error = SeparationError(
            ErrorCode.ENCODE_FAILED, _writing_failed(self.dest.name, disk_full=disk_full)
        )
        error.__cause__ = ToolFailure(self._ffmpeg, code, last)
        return error


NO_SPACE = "No space left on device"  # strerror(ENOSPC), as ffmpeg prints it


def _is_enospc(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _writing_failed(name: str, *, disk_full: bool) -> str:
    """Say why a file could not be written, in words a visitor can act on."""
    if disk_full:
        return (
            f"Writing {name} failed: the server's disk is full. Nothing was kept; "
            "please try again in a while."
        )
    return f"Writing {name} failed."


def codec_args(fmt: AudioFormat | str) -> list[str]:
    """Return ffmpeg's arguments for a delivery format."""
    return list(_CODEC_ARGS[AudioFormat(fmt)])


def transcode(
    src: Path, dest: Path, fmt: AudioFormat | str, *, ffmpeg: str = "ffmpeg", timeout: float = 600
) -> None:
    """Encode a stored stem into a delivery format, atomically."""
    _write(src, dest, codec_args(fmt), ffmpeg=ffmpeg, timeout=timeout)


def excerpt(
    src: Path, dest: Path, seconds: float, *, ffmpeg: str = "ffmpeg", timeout: float = 600
) -> None:
    """Write the first `seconds` of a file's first audio stream to `dest`, lossless FLAC.

    Whatever the file's header claims, ffmpeg stops writing at `seconds`; the output carries no
    metadata and no encoder version, so the same song always gives the same bytes (and hash).
    """
    limit = ["-t", f"{seconds:.3f}", "-map_metadata", "-1", "-fflags", "+bitexact"]
    _write(
        src, dest, [*limit, "-flags:a", "+bitexact", *LOSSLESS_ARGS], ffmpeg=ffmpeg, timeout=timeout
    )


# A transposed stem peaks at most here (-1 dBFS): a new pitch can add peaks over the original's,
# and the headroom keeps an MP3's decoded overshoot under full scale.
TRANSPOSE_CEILING = 0.891
# Rubberband drops the last ~50 ms at the end of its input: silence after the stem feeds it
# through, and the output is then cut to exactly the stem's length divided by the tempo.
_TRANSPOSE_PAD_S = 1.0


def transpose_filter(semitones: int, tempo: float, out_samples: int) -> str:
    """Return the filter graph that shifts by `semitones` and stretches by `tempo`, limited."""
    pitch = 2 ** (semitones / 12)
    return ",".join(
        [
            f"apad=pad_dur={_TRANSPOSE_PAD_S}",
            # pitchq=quality: a pitch shift as clean as rubberband makes it, not its fastest.
            # transients=mixed: phases reset on drum hits only above the notes' range; the
            # default (crisp) resets them under held notes too, which warbles them (a 440 Hz
            # tone came out as 436 and 444 Hz).
            f"rubberband=pitch={pitch:.10f}:tempo={tempo:.6f}:pitchq=quality:transients=mixed",
            # level=false: limit the peaks only, never raise the whole song towards the ceiling;
            # latency=true: the limiter's lookahead would shift the song later by its attack.
            f"alimiter=limit={TRANSPOSE_CEILING}:level=false:latency=true",
            f"atrim=end_sample={out_samples}",
        ]
    )


def transpose(
    src: Path,
    dest: Path,
    fmt: AudioFormat | str,
    *,
    semitones: int,
    tempo: float,
    seconds: float | None = None,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    timeout: float = 900,
) -> None:
    """Encode a stem shifted by `semitones` and played `tempo` times as fast (pitch kept).

    The result lasts the stem's length divided by `tempo` (or its first `seconds`, a preview),
    and never peaks over TRANSPOSE_CEILING.
    """
    info = probe(src, ffprobe=ffprobe)
    out_samples = round(info.duration * info.sample_rate / tempo)
    if seconds is not None:
        out_samples = min(out_samples, round(seconds * info.sample_rate))
    graph = transpose_filter(semitones, tempo, max(1, out_samples))
    _write(src, dest, ["-af", graph, *codec_args(fmt)], ffmpeg=ffmpeg, timeout=timeout)


def _write(src: Path, dest: Path, args: list[str], *, ffmpeg: str, timeout: float) -> None:
    """Run ffmpeg on `src`'s first audio stream with `args` into `dest`, atomically."""
    part = dest.with_name(dest.name + ".part")
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *_input_guard_args()]
    cmd += ["-i", "file:" + str(src), "-map", "0:a:0", *args, "file:" + str(part)]
    failure: BaseException | None = None
    try:
        result = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except OSError as exc:
        raise _missing(ffmpeg) from exc
    except subprocess.TimeoutExpired as exc:  # run() has killed ffmpeg; its file is partial
        failure = exc
    else:
        if result.returncode != 0:
            failure = ToolFailure(ffmpeg, result.returncode, _last_line(result.stderr))
    if failure is None:
        try:
            part.replace(dest)
        except OSError as exc:
            failure = exc
    if failure is not None:
        part.unlink(missing_ok=True)
        raise SeparationError(ErrorCode.ENCODE_FAILED, f"Encoding {dest.name} failed.") from failure
