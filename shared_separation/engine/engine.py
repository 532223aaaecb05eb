"""The separation engine: decode, Spleeter 2stems in bounded blocks, encode."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import live as live_mp3
from . import media, model_store, pipeline, spectral
from .errors import ErrorCode, SeparationError
from .network import STEMS
from .quality import DEFAULT_HOP_FRAMES, HOP_CHOICES, HighSettings, Quality
from .runtime import load_network

ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]

ENGINE_VERSION = "spleeter-2stems/1"


@dataclass(frozen=True)
class Output:
    """Where one stem goes and with which ffmpeg codec arguments."""

    path: Path
    codec_args: tuple[str, ...]

    @classmethod
    def for_format(cls, path: Path, fmt: media.AudioFormat | str) -> Output:
        """Build an output for a delivery format (mp3, wav, flac)."""
        return cls(path, tuple(media.codec_args(fmt)))

    @classmethod
    def lossless(cls, path: Path) -> Output:
        """Build a 24-bit FLAC output, the stored intermediate."""
        return cls(path, tuple(media.LOSSLESS_ARGS))


@dataclass(frozen=True)
class SeparationResult:
    """What a finished separation produced."""

    duration: float
    info: media.MediaInfo | None


def _default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))


class SeparationEngine:
    """Spleeter 2stems, loaded once, separating any number of songs in bounded memory."""

    version = ENGINE_VERSION
    stems = STEMS

    def __init__(
        self,
        model_root: Path,
        *,
        threads: int | None = None,
        batch_segments: int = 2,
        first_batch_segments: int = 1,
        bfloat16: bool = False,
        runtime: str = "auto",
        overlap: bool = True,
        hop_frames: int = DEFAULT_HOP_FRAMES,
        high_settings: HighSettings | None = None,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        verify_checksums: bool = True,
    ) -> None:
        media.require_binaries(ffmpeg, ffprobe)
        model_store.verify(model_root, checksums=verify_checksums)
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self.threads = threads or _default_threads()
        self.batch_segments = max(1, batch_segments)
        # The first block is one segment (11.9 s): a live listener hears audio after one segment's
        # work instead of two. Standard output is unchanged (segments are independent); the high
        # mode's Wiener statistics then cover one segment less for the second segment.
        self.first_batch_segments = max(1, first_batch_segments)
        # Overlap decoding/STFT, the network and the inverse STFT on separate threads.
        self.overlap = overlap
        if hop_frames not in HOP_CHOICES:
            raise ValueError(f"hop_frames must be one of {HOP_CHOICES}")
        # The high-quality mode's segment hop (512: segments do not overlap); see quality.py.
        self.hop_frames = hop_frames
        # The high mode's other settings (overlap weighting, the band above 11 kHz).
        self.high_settings = high_settings or HighSettings()
        # runtime.RUNTIMES: "auto" runs the provisioned OpenVINO IR, else the checkpoint in TF.
        self._network = load_network(
            model_root,
            runtime=runtime,
            threads=self.threads,
            bfloat16=bfloat16,
            checksums=verify_checksums,
        )
        self.runtime = self._network.runtime  # the one picked: "openvino" or "tensorflow"
        self.precision = self._network.precision  # "bfloat16" or "float32"

    # -- public API ------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Run the network once on every input size the pipeline feeds it (zeros).

        TensorFlow optimises the graph on a session's first run and builds its kernels for each
        new batch size on first use: without this, a worker's first song (and its live
        listener's first audio) waits seconds for that.
        """
        for count in range(1, self.batch_segments + 1):
            shape = (count, spectral.SEGMENT_FRAMES, spectral.NETWORK_BINS, 2)
            self._network(np.zeros(shape, dtype=np.float32))
        # And the rest of the pipeline once per mode (FFT plans, the Wiener filter).
        silence = np.zeros((spectral.SEGMENT_SAMPLES, 2), dtype=np.float32)
        for mode in Quality:
            self.separate_waveform(silence, quality=mode)

    def probe(self, path: Path) -> media.MediaInfo:
        """Describe a local media file, refusing what is not audio."""
        return media.probe(path, ffprobe=self.ffprobe)

    def separate_file(
        self,
        src: Path,
        outputs: Mapping[str, Output],
        *,
        max_duration: float | None = None,
        progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
        quality: Quality | str = Quality.STANDARD,
        live: Mapping[str, live_mp3.LiveSink] | None = None,
    ) -> SeparationResult:
        """Separate `src` into the stems named in `outputs`; nothing is left behind on failure.

        `live` maps stems to sinks that receive the stem as MP3 bytes (live.py) while it is
        separated, in order, before this returns; a sink's exception fails the separation.

        `quality` "standard" gives the official Spleeter output, "high" the better one of
        quality.py (same weights, about 1.3x the time).

        Every failure of the separation itself raises SeparationError, chained to its cause.
        An exception raised by `progress` or `cancelled`, or delivered from outside (a Celery
        time limit), passes through unchanged once the partial outputs are removed.
        """
        unknown = (set(outputs) | set(live or {})) - set(STEMS)
        if unknown:
            raise ValueError(f"unknown stems: {sorted(unknown)}")
        mode = Quality(quality)
        info = self.probe(src)
        if max_duration is not None and info.duration > max_duration:
            raise SeparationError(
                ErrorCode.TOO_LONG,
                f"The audio lasts {_clock(info.duration)}, "
                f"over the limit of {_clock(max_duration)}.",
            )
        if cancelled is not None and cancelled():
            raise SeparationError(ErrorCode.CANCELLED, "The separation was cancelled.")
        decoder = media.Decoder(
            src, ffmpeg=self.ffmpeg, max_seconds=max_duration, source_channels=info.channels
        )
        encoders: dict[str, media.Encoder] = {}
        streams: dict[str, live_mp3.LiveEncoder] = {}
        try:
            for stem, sink in (live or {}).items():
                streams[stem] = live_mp3.LiveEncoder(sink, ffmpeg=self.ffmpeg)
            for stem, out in outputs.items():
                try:
                    out.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise SeparationError(
                        ErrorCode.ENCODE_FAILED, f"The folder for {out.path.name} cannot be made."
                    ) from exc
                encoders[stem] = media.Encoder(out.path, list(out.codec_args), ffmpeg=self.ffmpeg)
            expected = max(info.duration, 1e-3) * media.SAMPLE_RATE
            written = 0
            blocks = _checked(decoder.blocks(spectral.SEGMENT_SAMPLES), cancelled)
            for pieces in self.separate_stream(blocks, quality=mode):
                if cancelled is not None and cancelled():
                    raise SeparationError(ErrorCode.CANCELLED, "The separation was cancelled.")
                for stem, encoder in encoders.items():
                    encoder.write(pieces[STEMS.index(stem)])
                for stem, stream in streams.items():
                    stream.write(pieces[STEMS.index(stem)])
                written += len(pieces[0])
                if progress is not None:
                    # The probed duration is an estimate (a truncated file ends early), so the
                    # fraction is capped below 1.0 until the files are really in place.
                    progress(min(written / expected, 0.999))
            if decoder.samples_read == 0:
                raise SeparationError(ErrorCode.NO_SAMPLES, "The file contains no audio samples.")
            for stream in streams.values():
                stream.finish()
            for encoder in encoders.values():
                encoder.finish()
        except BaseException as exc:
            for stream in streams.values():
                stream.abort()
            for encoder in encoders.values():
                encoder.abort()
            for out in outputs.values():
                # Cleaning up must never replace the error that is being reported.
                with contextlib.suppress(OSError):
                    out.path.unlink(missing_ok=True)
            if isinstance(exc, (OSError, MemoryError)):
                # The machine failed the job (pipes, disk, memory): still one SeparationError, so
                # callers need one except clause; the cause stays attached for the logs.
                raise SeparationError(
                    ErrorCode.INTERNAL,
                    f"The separation failed unexpectedly ({type(exc).__name__}).",
                ) from exc
            # Exceptions from the callbacks or from outside the engine (a Celery time limit,
            # KeyboardInterrupt) are the caller's own and keep their type.
            raise
        finally:
            decoder.close()
        if progress is not None:
            progress(1.0)
        return SeparationResult(duration=decoder.samples_read / media.SAMPLE_RATE, info=info)

    def separate_waveform(
        self, waveform: np.ndarray, *, quality: Quality | str = Quality.STANDARD
    ) -> dict[str, np.ndarray]:
        """Separate a whole (samples, 2) float32 array; mainly for tests and benchmarks."""
        if waveform.ndim != 2 or waveform.shape[1] not in (1, 2):
            raise ValueError("waveform must be shaped (samples, 1 or 2)")
        if waveform.shape[1] == 1:
            waveform = np.repeat(waveform, 2, axis=1)
        step = spectral.SEGMENT_SAMPLES
        blocks = (waveform[i : i + step] for i in range(0, len(waveform), step))
        parts: list[list[np.ndarray]] = [[] for _ in STEMS]
        for pieces in self.separate_stream(blocks, quality=quality):
            for k, piece in enumerate(pieces):
                parts[k].append(piece)
        empty = np.zeros((0, 2), dtype=np.float32)
        return {
            stem: np.concatenate(parts[k]) if parts[k] else empty for k, stem in enumerate(STEMS)
        }

    def separate_stream(
        self, blocks: Iterable[np.ndarray], *, quality: Quality | str = Quality.STANDARD
    ) -> Iterator[list[np.ndarray]]:
        """Turn (n, 2) input blocks into [vocals, accompaniment] output blocks, in order.

        Memory is bounded by `batch_segments` segments (11.9 s each) whatever the length.
        """
        high = Quality(quality) is Quality.HIGH
        return pipeline.run(
            blocks,
            self._network,
            n_stems=len(STEMS),
            batch_segments=self.batch_segments,
            workers=self.threads,
            overlap=self.overlap,
            hop_frames=self.hop_frames if high else None,
            first_segments=self.first_batch_segments,
            high_settings=self.high_settings,
        )


def _checked(blocks: Iterable[np.ndarray], cancelled: CancelCheck | None) -> Iterator[np.ndarray]:
    """Pass decoded blocks on, stopping as soon as the job is cancelled."""
    for block in blocks:
        if cancelled is not None and cancelled():
            raise SeparationError(ErrorCode.CANCELLED, "The separation was cancelled.")
        yield block


def _clock(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
