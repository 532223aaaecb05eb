"""The media gateway: the one way the Django side reaches the separation engine.

Probing, cutting, encoding, reading levels and the tempo and key of audio files (the engine's
guarded ffmpeg, librosa), its error types and version, and local copies of files for ffmpeg,
which only reads local paths.
Outside the worker pool (shared_separation), only this module imports shared_separation.engine
(an import-linter contract in pyproject.toml).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from django.core.files import File
from django.core.files.storage import default_storage

from shared_separation.engine import ENGINE_VERSION, ErrorCode, MediaInfo, SeparationError
from shared_separation.engine import analysis as _engine_analysis
from shared_separation.engine import media as _engine_media
from shared_separation.engine.media import CHANNELS, PROTOCOL_WHITELIST

__all__ = [
    "CHANNELS",
    "ENGINE_VERSION",
    "PROTOCOL_WHITELIST",
    "ErrorCode",
    "MediaInfo",
    "SeparationError",
    "analyze",
    "excerpt",
    "local_copy",
    "local_path",
    "peak_levels",
    "probe",
    "transcode",
    "transpose",
]


def probe(path: Path) -> MediaInfo:
    """Read the length and streams of a local file, refusing what is not audio."""
    return _engine_media.probe(path)


def analyze(path: Path) -> dict[str, object]:
    """Return a local file's tempo and key (bpm, key, camelot, confidences) as stored."""
    return _engine_analysis.analyze_file(path).as_dict()


def excerpt(src: Path, dest: Path, seconds: float) -> None:
    """Write the first `seconds` of a file to `dest` as bit-exact lossless FLAC."""
    _engine_media.excerpt(src, dest, seconds)


def transcode(src: Path, dest: Path, fmt: str) -> None:
    """Encode a file into a delivery format (mp3, wav, flac), atomically."""
    _engine_media.transcode(src, dest, fmt)


def transpose(
    src: Path, dest: Path, fmt: str, *, semitones: int, tempo: float, seconds: float | None = None
) -> None:
    """Encode a file shifted by `semitones` at `tempo` times the speed (its first `seconds`)."""
    _engine_media.transpose(src, dest, fmt, semitones=semitones, tempo=tempo, seconds=seconds)


def peak_levels(path: Path, hop: int) -> np.ndarray:
    """Return the peak level of every `hop` samples of a file, the shorter last run included."""
    levels: list[np.ndarray] = []
    decoder = _engine_media.Decoder(path)
    try:
        carry = np.zeros((0, CHANNELS), dtype=np.float32)
        for block in decoder.blocks(hop * 256):
            data = np.concatenate([carry, block]) if len(carry) else block
            whole = len(data) - len(data) % hop
            if whole:
                frames = np.abs(data[:whole]).max(axis=1).reshape(-1, hop)
                levels.append(frames.max(axis=1))
            carry = data[whole:]
        if len(carry):
            levels.append(np.array([np.abs(carry).max()], dtype=np.float32))
    finally:
        decoder.close()
    return np.concatenate(levels) if levels else np.zeros(0)


@contextlib.contextmanager
def local_copy(name: str) -> Iterator[Path]:
    """Yield a temporary local copy of the stored file `name`, under its own file name."""
    # The storage may be a bucket on another host; ffmpeg reads only local files.
    with tempfile.TemporaryDirectory(prefix="stored-") as tmp:
        yield copy_stored(name, Path(tmp) / Path(name).name)


def copy_stored(name: str, path: Path) -> Path:
    """Copy the stored file `name` to the local `path`, a chunk at a time; return the path."""
    with default_storage.open(name, "rb") as src, path.open("wb") as dst:
        for chunk in src.chunks():
            dst.write(chunk)
    return path


@contextlib.contextmanager
def local_path(content: File) -> Iterator[Path]:
    """Yield a local path of an open file: its own if on disk (a large upload), else a copy."""
    path = getattr(content, "temporary_file_path", None)
    if path is not None:
        yield Path(path())
        return
    with tempfile.NamedTemporaryFile(prefix="upload-", suffix=".bin") as tmp:
        for chunk in content.chunks():
            tmp.write(chunk)
        tmp.flush()
        content.seek(0)
        yield Path(tmp.name)
