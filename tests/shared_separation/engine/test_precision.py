"""The network's precision: picked per CPU, and the service default stays close to the official."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from shared_separation.engine import SeparationEngine, spectral
from shared_separation.engine.network import cpu_has_bfloat16, use_bfloat16
from tests.shared_separation.audio import SR, sdr, synth_song

OfficialSeparate = Callable[[str, np.ndarray], dict[str, np.ndarray]]

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
AMX_ONLY = "processor\t: 0\nflags\t\t: fpu avx2 amx_bf16 amx_tile\n"
# A flag that merely contains the name must not count.
LOOKALIKE = "processor\t: 0\nflags\t\t: fpu avx2 no_avx512_bf16x\n"


def _cpuinfo(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (AVX2_ONLY, False),
        (SAPPHIRE_RAPIDS, True),
        (AMX_ONLY, True),
        (LOOKALIKE, False),
        ("", False),
    ],
)
def test_cpu_bfloat16_is_read_from_the_flags(tmp_path: Path, text: str, expected: bool) -> None:
    assert cpu_has_bfloat16(_cpuinfo(tmp_path, text)) is expected


def test_unreadable_cpuinfo_means_float32(tmp_path: Path) -> None:
    assert cpu_has_bfloat16(tmp_path / "missing") is False
    assert use_bfloat16("auto", cpuinfo=tmp_path / "missing") is False


def test_auto_follows_the_cpu_and_explicit_settings_win(tmp_path: Path) -> None:
    avx2 = _cpuinfo(tmp_path, AVX2_ONLY)
    assert use_bfloat16("auto", cpuinfo=avx2) is False
    assert use_bfloat16("bfloat16", cpuinfo=avx2) is True
    bf16 = tmp_path / "bf16"
    bf16.write_text(SAPPHIRE_RAPIDS)
    assert use_bfloat16("auto", cpuinfo=bf16) is True
    assert use_bfloat16("float32", cpuinfo=bf16) is False
    with pytest.raises(ValueError, match="unknown precision"):
        use_bfloat16("fp16", cpuinfo=bf16)


def test_service_defaults_are_auto() -> None:
    assert settings.SEPARATION_PRECISION == "auto"
    assert settings.SEPARATION_RUNTIME == "auto"


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["tensorflow", "openvino"])
def test_service_default_precision_stays_within_30_db_of_official_on_a_long_song(
    runtime: str,
    model_root: Path,
    openvino_root: Path,
    official: OfficialSeparate,
    record_property: Callable[[str, object], None],
) -> None:
    """3 min 20 s, with the precision the workers pick on this CPU: 30 dB overall and at seams."""
    bfloat16 = use_bfloat16(settings.SEPARATION_PRECISION)
    root = openvino_root if runtime == "openvino" else model_root
    engine = SeparationEngine(root, bfloat16=bfloat16, runtime=runtime)
    assert engine.runtime == runtime
    song = synth_song(200.0, seed=5)
    reference = official("several_minutes", song)
    ours = engine.separate_waveform(np.asarray(song))
    scores = {}
    worst_seam = np.inf
    seams = [
        k * spectral.SEGMENT_SAMPLES - spectral.FRAME_LENGTH
        for k in range(1, len(song) // spectral.SEGMENT_SAMPLES + 1)
    ]
    assert len(seams) >= 16
    for stem in engine.stems:
        assert ours[stem].shape == reference[stem].shape
        scores[stem] = sdr(reference[stem], ours[stem])
        power = np.mean(reference[stem].astype(np.float64) ** 2)
        for seam in seams:
            window = slice(max(seam - SR // 2, 0), seam + SR // 2)
            err = np.mean((reference[stem][window] - ours[stem][window]).astype(np.float64) ** 2)
            worst_seam = min(worst_seam, 10 * np.log10(power / max(err, 1e-30)))
    precision = engine.precision
    record_property("sdr_default_precision", {"runtime": runtime, "precision": precision, **scores})
    print(
        f"{runtime} {precision} network, 200 s: SDR vs official {scores}; "
        f"worst seam {worst_seam:.1f} dB"
    )
    assert min(scores.values()) >= 30.0, scores
    assert worst_seam >= 30.0
