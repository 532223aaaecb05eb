"""The overlapped pipeline gives the serial result, and memory does not grow with the song."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import SeparationEngine
from tests.shared_separation.audio import run_ffmpeg, sdr, synth_song

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_overlapped_stages_equal_the_serial_order(engine: SeparationEngine) -> None:
    # 61 s with two-segment blocks: three blocks, a short last one, tails carried twice.
    song = synth_song(61.3, seed=5)
    batch, overlap = engine.batch_segments, engine.overlap
    try:
        engine.batch_segments = 2
        engine.overlap = False
        serial = engine.separate_waveform(song)
        engine.overlap = True
        overlapped = engine.separate_waveform(song)
    finally:
        engine.batch_segments, engine.overlap = batch, overlap
    for stem in engine.stems:
        assert serial[stem].shape == song.shape
        np.testing.assert_array_equal(overlapped[stem], serial[stem])


_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from shared_separation.engine import Output, SeparationEngine
    src, out, model = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    engine = SeparationEngine(model)
    result = engine.separate_file(
        src, {s: Output.for_format(out / f"{s}.flac", "flac") for s in engine.stems}
    )
    # VmHWM belongs to this process's own memory map: ru_maxrss would also count the RSS the
    # parent (pytest, with TensorFlow loaded) had when it forked us.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1])
    print(json.dumps({"duration": result.duration, "peak_mib": peak_kib / 1024}))
    """
)


def _separate_in_child(src: Path, out: Path, model_root: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), str(out), str(model_root)],
        capture_output=True,
        cwd=ROOT,
        timeout=900,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_peak_memory_stays_under_2_gb_for_a_30_minute_song(
    tmp_path: Path, model_root: Path
) -> None:
    seconds = 30 * 60
    src = tmp_path / "long.flac"
    # Two tones and pink noise, cheap to make: memory is what this test measures.
    run_ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}:sample_rate=44100",
        "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:a=0.1:r=44100",
        "-filter_complex", "[0][1]amix=inputs=2,aformat=channel_layouts=stereo",
        "-c:a", "flac", str(src),
    )  # fmt: skip
    result = _separate_in_child(src, tmp_path, model_root)
    assert abs(result["duration"] - seconds) < 0.1
    assert result["peak_mib"] < 2048, result

    for stem in ("vocals", "accompaniment"):
        assert (tmp_path / f"{stem}.flac").stat().st_size > 0


@pytest.mark.slow
def test_bfloat16_network_stays_within_30_db_of_float32(
    engine: SeparationEngine, model_root: Path
) -> None:
    # On a CPU without bfloat16 support oneDNN keeps float32, and this holds trivially.
    fast = SeparationEngine(model_root, bfloat16=True)
    song = synth_song(60.0, seed=9)
    exact = engine.separate_waveform(song)
    approx = fast.separate_waveform(song)
    for stem in engine.stems:
        assert sdr(exact[stem], approx[stem]) >= 30.0
