"""Live sinks: a stem arrives as MP3 while it is separated, early, whole and in order."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import Output, SeparationEngine, SeparationError
from shared_separation.engine.live import LiveEncoder
from tests.shared_separation.audio import decode_with_ffmpeg, sdr, synth_song, write_wav_f32

SR = 44100
MP3_FRAME = 1152


@pytest.mark.slow
def test_live_sink_gets_the_stem_as_mp3_before_the_separation_ends(
    engine: SeparationEngine, tmp_path: Path
) -> None:
    seconds = 75.0  # four two-segment blocks, the last one short
    src = write_wav_f32(tmp_path / "song.wav", synth_song(seconds, seed=21))
    chunks: list[tuple[float, bytes]] = []
    progress: list[tuple[float, float]] = []
    started = time.monotonic()
    engine.separate_file(
        src,
        {"vocals": Output.lossless(tmp_path / "vocals.flac")},
        progress=lambda f: progress.append((time.monotonic(), f)),
        live={"accompaniment": lambda data: chunks.append((time.monotonic(), data))},
    )
    finished = time.monotonic()
    assert chunks, "the sink received nothing"
    # The first bytes came while most of the song was still to be separated.
    first = chunks[0][0]
    late = [f for t, f in progress if t <= first]
    assert max(late, default=0.0) < 0.5, f"first bytes only at progress {max(late)}"
    assert first - started < (finished - started) * 0.6
    # The bytes are one MP3 stream of the whole stem (the encoder's padding: a frame or two).
    stream = tmp_path / "live.mp3"
    stream.write_bytes(b"".join(data for _, data in chunks))
    decoded = decode_with_ffmpeg(stream)
    assert abs(len(decoded) - seconds * SR) <= 2 * MP3_FRAME + 1105
    # And the stem itself: the live MP3 against the lossless file of a second separation.
    engine.separate_file(src, {"accompaniment": Output.lossless(tmp_path / "acc.flac")})
    reference = decode_with_ffmpeg(tmp_path / "acc.flac")
    # The encoder's delay (LAME's 1105 samples plus the decoder's, with no tag to remove them).
    delay = min(
        range(2400), key=lambda d: float(np.sum((decoded[d : d + SR] - reference[:SR]) ** 2))
    )
    aligned = decoded[delay : delay + len(reference)]
    assert sdr(reference[: len(aligned)], aligned) > 15.0


def test_a_failing_sink_fails_the_separation_and_leaves_nothing(
    engine: SeparationEngine, tmp_path: Path
) -> None:
    src = write_wav_f32(tmp_path / "song.wav", synth_song(15.0, seed=22))

    def broken(data: bytes) -> None:
        raise ConnectionError("the store is gone")

    out = tmp_path / "vocals.flac"
    with pytest.raises(SeparationError):
        engine.separate_file(src, {"vocals": Output.lossless(out)}, live={"vocals": broken})
    assert list(tmp_path.iterdir()) == [src]


def test_live_encoder_checks_ffmpegs_exit_code() -> None:
    got: list[bytes] = []
    encoder = LiveEncoder(got.append, ffmpeg="ffmpeg")
    encoder._proc.kill()  # ffmpeg dies under the encoder, as when the machine kills it
    encoder._proc.wait()
    with pytest.raises(SeparationError) as info:
        for _ in range(50):
            encoder.write(np.zeros((SR, 2), dtype=np.float32))
        encoder.finish()
    assert info.value.code == "encode_failed"
    encoder.abort()
