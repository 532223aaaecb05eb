"""Separation quality of the official Spleeter and of the engine's modes, on songs with known stems.

Songs come from `bench/songs.py` (General MIDI accompaniment rendered by FluidSynth, a synthetic
spoken or sung voice); every system separates the same mixtures and is scored with the SDR
10 log10(|s|^2 / |s - ŝ|^2) of each stereo stem against the truth, averaged over the songs.

Systems: ``official`` (Spleeter's own ``Separator("spleeter:2stems").separate``, in process),
``standard`` and ``high`` (``SeparationEngine.separate_waveform`` in each mode), and with
``--ablations`` variants of the high mode (``ABLATIONS``: no overlap, other hops, the overlap
weighting, the band above 11 kHz). Times are
wall and CPU seconds of the separation alone, summed over the songs, all systems in the same
process one after another; on a shared machine compare them within one run only.

Songs come in two sets from disjoint generators (`bench/songs.py`: seeds, voices, instruments,
tempos, keys): settings are chosen on ``tuning`` and reported on ``validation``, which tuning
never saw. ``--set both`` (the default) prints a table for each, labelled.

With ``--file-seconds N`` it also times ``separate_file`` (decode, both stems to 24-bit FLAC) on
one generated song of N seconds in each mode, as the service runs it (OpenVINO where provisioned,
the precision ``auto`` picks), best of ``--repeat``: the time the high mode costs on a whole song.

Run from the repository root:
``.venv/bin/python bench/quality.py --ablations --file-seconds 180`` (6 tuning and 10 validation
songs of 30 s; ``--set tuning --no-official --ablations`` to explore).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.songs import SETS, Song, available, make_song, song_set  # noqa: E402

STEMS = ("vocals", "accompaniment")
LABELS = {
    "official": "official `Separator.separate`",
    "standard": "engine, `standard`",
    "high": "engine, `high`",
    "high_nooverlap": "`high` without overlapping segments",
    "high_hop256": "`high` with segments every 256 frames",
    "high_hop320": "`high` with segments every 320 frames",
    "high_power1": "`high`, overlap weight power 1 (triangle)",
    "high_top50": "`high`, vocals take 0.5x their top-bin share above 11 kHz",
    "high_top100": "`high`, vocals take their top-bin share above 11 kHz",
}
ABLATIONS = ("high_nooverlap", "high_hop256", "high_hop320", "high_power1", "high_top50")
ABLATIONS += ("high_top100",)
Separate = Callable[[np.ndarray], dict[str, np.ndarray]]


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-distortion ratio of `estimate` against `reference`, in dB."""
    ref = reference.astype(np.float64)
    err = ref - estimate.astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-30)))


def _cpu(*, children: bool = False) -> float:
    total = 0.0
    for who in (
        (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) if children else (resource.RUSAGE_SELF,)
    ):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def systems(model_root: Path, names: list[str]) -> dict[str, Separate]:
    """Load each system once; return name -> separate(waveform)."""
    os.environ.setdefault("MODEL_PATH", str(model_root))
    from shared_separation.engine import SeparationEngine

    out: dict[str, Separate] = {}
    engine = SeparationEngine(model_root)
    if "official" in names:
        from spleeter.model.provider import ModelProvider
        from spleeter.separator import Separator

        ModelProvider.DEFAULT_MODEL_PATH = str(model_root)  # never download
        separator = Separator("spleeter:2stems", multiprocess=False)
        out["official"] = lambda w: separator.separate(np.array(w, dtype=np.float32))
    if "standard" in names:
        out["standard"] = lambda w: engine.separate_waveform(w, quality="standard")
    if "high" in names:
        out["high"] = lambda w: engine.separate_waveform(w, quality="high")
    if "high_nooverlap" in names:
        no_overlap = SeparationEngine(model_root, hop_frames=512)
        out["high_nooverlap"] = lambda w: no_overlap.separate_waveform(w, quality="high")
    from shared_separation.engine.quality import HighSettings

    variants = {
        "high_hop256": {"hop_frames": 256},
        "high_hop320": {"hop_frames": 320},
        "high_power1": {"high_settings": HighSettings(weight_power=1.0)},
        "high_top50": {"high_settings": HighSettings(high_band_share=0.5)},
        "high_top100": {"high_settings": HighSettings(high_band_share=1.0)},
    }
    for name, options in variants.items():
        if name in names:
            variant = SeparationEngine(model_root, **options)  # type: ignore[arg-type]
            out[name] = functools.partial(variant.separate_waveform, quality="high")
    return out


def evaluate(songs: list[Song], separate: dict[str, Separate]) -> dict[str, dict[str, float]]:
    """Separate every song with every system; return mean SDRs and summed times per system."""
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in separate}
    times = {name: [0.0, 0.0] for name in separate}
    for i, song in enumerate(songs):
        mixture = np.asarray(song.mixture)
        # Interleave: the order of the systems rotates from song to song, so that a busy spell
        # of the shared machine does not fall on one system.
        order = list(separate.items())
        order = order[i % len(order) :] + order[: i % len(order)]
        for name, run in order:
            wall, cpu = time.perf_counter(), _cpu()
            out = run(mixture)
            times[name][0] += time.perf_counter() - wall
            times[name][1] += _cpu() - cpu
            pair = (sdr(song.vocals, out["vocals"]), sdr(song.accompaniment, out["accompaniment"]))
            scores[name].append(pair)
            print(f"  {song.name} {name:13s} vocals {pair[0]:6.2f} dB  acc. {pair[1]:6.2f} dB")
    return {
        name: {
            "vocals": float(np.mean([s[0] for s in scores[name]])),
            "accompaniment": float(np.mean([s[1] for s in scores[name]])),
            "wall": times[name][0],
            "cpu": times[name][1],
        }
        for name in separate
    }


def file_times(model_root: Path, song: Song, repeat: int) -> dict[str, tuple[float, float]]:
    """Return each mode's best wall and CPU seconds of separate_file on `song`, alternating."""
    import tempfile
    import wave

    from shared_separation.engine import SeparationEngine
    from shared_separation.engine.engine import Output
    from shared_separation.engine.network import use_bfloat16

    engine = SeparationEngine(model_root, bfloat16=use_bfloat16("auto"))
    engine.warm_up()
    print(f"separate_file: {engine.runtime}, {engine.precision}", flush=True)
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
        folder = Path(tmp)
        src = folder / "song.wav"
        pcm = (np.clip(np.asarray(song.mixture), -1, 1) * 32767).astype("<i2")
        with wave.open(str(src), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(44100)
            out.writeframes(pcm.tobytes())
        outputs = {stem: Output.lossless(folder / f"{stem}.flac") for stem in STEMS}
        for _ in range(repeat):
            for mode in ("standard", "high"):
                wall, cpu = time.perf_counter(), _cpu(children=True)
                engine.separate_file(src, outputs, quality=mode)
                took = (time.perf_counter() - wall, _cpu(children=True) - cpu)
                print(f"  {mode:8s} {took[0]:.2f} s wall, {took[1]:.2f} s CPU", flush=True)
                if mode not in best or took[0] < best[mode][0]:
                    best[mode] = took
    return best


def table(results: dict[str, dict[str, float]]) -> str:
    """Render the results as a Markdown table."""
    base = results.get("official") or results["standard"]
    std = results.get("standard")
    lines = [
        "| system | vocals SDR | accompaniment SDR | vs official | wall | CPU | CPU vs standard |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        dv, da = r["vocals"] - base["vocals"], r["accompaniment"] - base["accompaniment"]
        gain = f"{dv:+.2f} / {da:+.2f} dB"
        ratio = f"{r['cpu'] / std['cpu']:.2f}x" if std else "-"
        lines.append(
            f"| {LABELS[name]} | {r['vocals']:.2f} dB | {r['accompaniment']:.2f} dB | {gain} "
            f"| {r['wall']:.1f} s | {r['cpu']:.1f} s | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, make the songs, run the systems and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("tuning", "validation", "both"), default="both")
    parser.add_argument("--tuning-songs", type=int, default=6)
    parser.add_argument("--validation-songs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-official", action="store_true", help="Skip the official Separator.")
    parser.add_argument("--ablations", action="store_true", help="Also run the ablated modes.")
    parser.add_argument("--model-root", type=Path, default=REPO / "var" / "models")
    parser.add_argument("--file-seconds", type=float, default=0, help="Also time separate_file.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    missing = available()
    if missing:
        sys.exit(f"Cannot make the songs: {missing}")
    names = ["standard", "high"] if args.no_official else ["official", "standard", "high"]
    if args.ablations:
        names += ABLATIONS
    counts = {"tuning": args.tuning_songs, "validation": args.validation_songs}
    chosen = ["tuning", "validation"] if args.set == "both" else [args.set]
    separate = systems(args.model_root, names)
    tables = []
    for set_name in chosen:
        print(f"Making {counts[set_name]} {set_name} songs of {args.seconds:g} s ...", flush=True)
        songs = song_set(set_name, counts[set_name], args.seconds)
        for run in separate.values():  # warm up: the first call builds kernels and caches
            run(np.asarray(songs[0].mixture[: 44100 * 15]))
        results = evaluate(songs, separate)
        seeds = SETS[set_name].seeds
        tables.append(
            f"{set_name.upper()} set: {len(songs)} songs of {args.seconds:g} s, seeds "
            f"{seeds[0]}-{seeds[len(songs) - 1]}, {os.cpu_count()} CPUs:\n{table(results)}"
        )
    for text in tables:
        print()
        print(text)
    if args.file_seconds:
        print(f"\nMaking a song of {args.file_seconds:g} s ...", flush=True)
        times = file_times(args.model_root, make_song(100, args.file_seconds), args.repeat)
        (sw, sc), (hw, hc) = times["standard"], times["high"]
        print(
            f"separate_file on {args.file_seconds:g} s, best of {args.repeat}: standard {sw:.2f} s "
            f"({sc:.2f} s CPU), high {hw:.2f} s ({hc:.2f} s CPU): {hw / sw:.2f}x the time, "
            f"{hc / sc:.2f}x the CPU"
        )


if __name__ == "__main__":
    main()
