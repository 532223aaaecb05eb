"""The engine's output equals the official Spleeter's, in memory and from files, either runtime."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import Output, SeparationEngine, spectral
from tests.shared_separation.audio import SR, decode_with_ffmpeg, encode, sdr, synth_song

pytestmark = pytest.mark.slow

OfficialSeparate = Callable[[str, np.ndarray], dict[str, np.ndarray]]

SHORT_S = 30.0
# 131.37 s: five 512-frame segments and two 4-segment blocks, ending mid-frame (5793417 samples,
# a multiple of neither 1024 nor 512 * 1024).
LONG_S = 131.37
STEMS = ("vocals", "accompaniment")


@pytest.fixture(params=["tensorflow", "openvino"])
def engine(request: pytest.FixtureRequest, engine: SeparationEngine) -> SeparationEngine:
    """The float32 engine on each runtime: the checkpoint in TensorFlow, the IR in OpenVINO."""
    chosen = engine
    if request.param == "openvino":
        chosen = request.getfixturevalue("openvino_engine")
    assert (chosen.runtime, chosen.precision) == (request.param, "float32")
    return chosen


def _assert_equal(
    official: dict[str, np.ndarray], ours: dict[str, np.ndarray], min_db: float
) -> dict[str, float]:
    scores = {}
    for stem in STEMS:
        assert ours[stem].shape == official[stem].shape
        scores[stem] = sdr(official[stem], ours[stem])
    assert min(scores.values()) >= min_db, scores
    return scores


def test_short_clip_equals_official(
    engine: SeparationEngine,
    official: OfficialSeparate,
    record_property: Callable[[str, object], None],
) -> None:
    """30 s: each stem within 40 dB SDR of Spleeter's Separator.separate."""
    song = synth_song(SHORT_S)
    reference = official("short", song)
    # The clip must exercise the separation: both stems carry a real share of the mixture.
    for stem in STEMS:
        assert 0.05 < np.std(reference[stem]) / np.std(song) < 0.99
    scores = _assert_equal(reference, engine.separate_waveform(np.asarray(song)), 40.0)
    record_property("sdr_short", scores)
    print(f"short clip SDR vs official: {scores}")


def test_long_clip_equals_official_across_blocks(
    engine: SeparationEngine,
    official: OfficialSeparate,
    record_property: Callable[[str, object], None],
) -> None:
    """131 s: 30 dB overall, and no seam at segment or block boundaries."""
    song = synth_song(LONG_S, seed=1)
    assert len(song) % spectral.FRAME_STEP and len(song) % spectral.SEGMENT_SAMPLES
    reference = official("long", song)
    ours = engine.separate_waveform(np.asarray(song))
    scores = _assert_equal(reference, ours, 30.0)
    # Each 512-frame segment starts at k * 512 * 1024 in the padded signal, which begins with
    # one frame (4096 samples) of zeros; every fourth is also a block boundary of the engine.
    seams = [
        k * spectral.SEGMENT_SAMPLES - spectral.FRAME_LENGTH
        for k in range(1, len(song) // spectral.SEGMENT_SAMPLES + 1)
    ]
    assert len(seams) >= 8 and any(
        (s + spectral.FRAME_LENGTH) % (engine.batch_segments * spectral.SEGMENT_SAMPLES) == 0
        for s in seams
    )
    worst = np.inf
    for stem in STEMS:
        power = np.mean(reference[stem].astype(np.float64) ** 2)
        for seam in seams:
            window = slice(max(seam - SR // 2, 0), seam + SR // 2)
            err = np.mean((reference[stem][window] - ours[stem][window]).astype(np.float64) ** 2)
            worst = min(worst, 10 * np.log10(power / max(err, 1e-30)))
    assert worst >= 30.0
    record_property("sdr_long", scores)
    print(f"long clip SDR vs official: {scores}; worst seam (1 s window) {worst:.1f} dB")


def test_one_segment_batches_equal_official(
    engine: SeparationEngine, official: OfficialSeparate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of a single segment (a boundary every 11.9 s) give the same result."""
    monkeypatch.setattr(engine, "batch_segments", 1)
    song = synth_song(SHORT_S)
    scores = _assert_equal(
        official("short", song), engine.separate_waveform(np.asarray(song)), 40.0
    )
    print(f"short clip, batch of 1 segment, SDR vs official: {scores}")


def _official_from_file(official: OfficialSeparate, key: str, path: Path) -> dict[str, np.ndarray]:
    """Run the official pipeline on a file: Spleeter's own ffmpeg loader, then separate."""
    from spleeter.audio.adapter import AudioAdapter

    waveform, rate = AudioAdapter.default().load(str(path), sample_rate=SR)
    assert rate == SR
    return official(key, waveform)


def test_separate_file_equals_official(
    engine: SeparationEngine, official: OfficialSeparate, tmp_path: Path
) -> None:
    """MP3 in, FLAC out (24-bit and 16-bit), decoded back: equal to the official on that MP3."""
    src = encode(synth_song(20.0, seed=2), tmp_path / "song.mp3", ["-b:a", "192k"])
    out = tmp_path / "out"
    outputs = {
        "vocals": Output.lossless(out / "vocals.flac"),
        "accompaniment": Output.for_format(out / "accompaniment.flac", "flac"),
    }
    result = engine.separate_file(src, outputs)
    decoded_input = decode_with_ffmpeg(src)
    assert result.duration == len(decoded_input) / SR
    ours = {stem: decode_with_ffmpeg(outputs[stem].path) for stem in STEMS}
    scores = _assert_equal(_official_from_file(official, "file", src), ours, 40.0)
    assert sorted(p.name for p in out.iterdir()) == ["accompaniment.flac", "vocals.flac"]
    print(f"file (mp3 -> flac) SDR vs official: {scores}")


def test_mono_file_equals_official(
    engine: SeparationEngine, official: OfficialSeparate, tmp_path: Path
) -> None:
    """A mono file is copied to both channels at full level, as Spleeter does."""
    mono = np.asarray(synth_song(12.0, seed=3))[:, 0]
    src = encode(mono, tmp_path / "mono.flac", ["-c:a", "flac"])
    out = tmp_path / "out"
    outputs = {stem: Output.lossless(out / f"{stem}.flac") for stem in STEMS}
    engine.separate_file(src, outputs)
    ours = {stem: decode_with_ffmpeg(outputs[stem].path) for stem in STEMS}
    scores = _assert_equal(_official_from_file(official, "mono", src), ours, 40.0)
    print(f"mono file SDR vs official: {scores}")
