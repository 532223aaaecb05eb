"""Accuracy of the tempo and key analysis on generated songs of known tempo and key.

Each song (bench/songs.py: General MIDI drums on the beat, bass, chords, pad and sometimes a
lead rendered by FluidSynth, and a synthetic voice) has a tempo drawn between 70 and 160 BPM and
a key (every tonic, major and minor in turn). The engine separates it as the service does
(`high` quality), and the analysis reads the accompaniment, as the worker does; `--sources`
adds the mixture itself and the true accompaniment for comparison. Prints a Markdown table:
tempo within 2 % (half or double within 2 % counted apart as octave errors), key exact, its
relative key, a fifth away (the keys next to it on the Camelot wheel, same mode), or else.

    .venv/bin/python bench/analysis.py --songs 48 --seconds 30
    .venv/bin/python bench/analysis.py --songs 48 --seconds 30 --seed 7   # songs not tuned on
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.songs import SR, available, make_keyed_song  # noqa: E402
from shared_separation.engine.analysis import NAMES, Analysis, analyze  # noqa: E402

LABELS = {
    "separated": "separated accompaniment (the service's path)",
    "mixture": "the mixture (voice included)",
    "truth": "the true accompaniment",
}
TEMPO_TOLERANCE = 0.02


@dataclass(frozen=True)
class Truth:
    """A generated song's tempo and key."""

    bpm: float
    tonic: int
    minor: bool


def truths(count: int, seed: int = 2026) -> list[Truth]:
    """Return `count` tempos and keys: every tonic, major and minor in turn, 70 to 160 BPM."""
    rng = np.random.default_rng(seed)
    return [
        Truth(bpm=round(float(rng.uniform(70, 160)), 1), tonic=(7 * i) % 12, minor=i % 2 == 1)
        for i in range(count)
    ]


def tempo_verdict(estimate: float, truth: float) -> str:
    """Return "right", "octave" (half or double, or a third or triple) or "wrong"."""
    if abs(estimate / truth - 1) <= TEMPO_TOLERANCE:
        return "right"
    for ratio in (0.5, 2.0, 1 / 3, 3.0):
        if abs(estimate / (truth * ratio) - 1) <= TEMPO_TOLERANCE:
            return "octave"
    return "wrong"


def key_verdict(result: Analysis, truth: Truth) -> str:
    """Return "exact", "relative", "fifth", "parallel" or "wrong"."""
    tonic, minor = NAMES.index(result.tonic), result.mode == "minor"
    if (tonic, minor) == (truth.tonic, truth.minor):
        return "exact"
    if minor != truth.minor:
        relative = (truth.tonic + (9 if not truth.minor else 3)) % 12
        if tonic == relative:
            return "relative"
        if tonic == truth.tonic:
            return "parallel"
        return "wrong"
    if (tonic - truth.tonic) % 12 in (5, 7):
        return "fifth"
    return "wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sources", default="separated", help="separated,mixture,truth")
    parser.add_argument("--quality", default="high")
    parser.add_argument(
        "--seed",
        type=int,
        default=2026,
        help="Draws the tempos and the songs; 2026 is the set the analysis was tuned on.",
    )
    parser.add_argument("--verbose", action="store_true", help="One line per song on stderr.")
    args = parser.parse_args()
    why = available()
    if why:
        sys.exit(f"cannot make songs: {why}")
    sources = args.sources.split(",")
    engine = None
    if "separated" in sources:
        from shared_separation.engine import SeparationEngine

        engine = SeparationEngine(Path(os.environ.get("MODEL_ROOT", REPO / "var" / "models")))
    verdicts: dict[str, dict[str, Counter[str]]] = {
        s: {"tempo": Counter(), "key": Counter()} for s in sources
    }
    times: dict[str, float] = dict.fromkeys(sources, 0.0)
    offset = 0 if args.seed == 2026 else args.seed * 1000
    for seed, truth in enumerate(truths(args.songs, args.seed), start=offset):
        song = make_keyed_song(seed, args.seconds, truth.bpm, truth.tonic, truth.minor)
        audio = {"mixture": song.mixture, "truth": song.accompaniment}
        if engine is not None:
            audio["separated"] = engine.separate_waveform(song.mixture, quality=args.quality)[
                "accompaniment"
            ]
        for source in sources:
            started = time.monotonic()
            result = analyze(audio[source].mean(axis=1), SR)
            times[source] += time.monotonic() - started
            tempo = tempo_verdict(result.bpm, truth.bpm)
            key = key_verdict(result, truth)
            verdicts[source]["tempo"][tempo] += 1
            verdicts[source]["key"][key] += 1
            if args.verbose:
                mode = "minor" if truth.minor else "major"
                print(
                    f"{source:9s} song {seed:2d}: {truth.bpm:5.1f} BPM {NAMES[truth.tonic]} {mode}"
                    f" -> {result.bpm:5.1f} ({result.bpm_confidence:.2f}) {result.key}"
                    f" ({result.key_confidence:.2f}): {tempo}, {key}",
                    file=sys.stderr,
                )
    n = args.songs
    print(
        f"{n} songs of {args.seconds:g} s (seed {args.seed}), 70-160 BPM, every tonic in major "
        "and minor; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )
    print(
        "| analysed | tempo right (±2 %) | octave errors | tempo wrong | key exact | relative "
        "| a fifth away | parallel | key wrong | analysis time per song |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def pct(counter: Counter[str], name: str) -> str:
        return f"{counter[name]} ({100 * counter[name] / n:.0f} %)"

    for source in sources:
        tempo, key = verdicts[source]["tempo"], verdicts[source]["key"]
        cells = [pct(tempo, v) for v in ("right", "octave", "wrong")]
        cells += [pct(key, v) for v in ("exact", "relative", "fifth", "parallel", "wrong")]
        print(f"| {LABELS[source]} | {' | '.join(cells)} | {times[source] / n:.2f} s |")


if __name__ == "__main__":
    main()
