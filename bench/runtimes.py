"""A/B the engine's configurations on the same files, interleaved in one process.

On a machine other work shares, figures drift by tens of percent from minute to minute;
interleaving the configurations (A, B, C, A, B, C, ...) and keeping each one's fastest run
compares them under the same conditions, which separate processes run one after another do not.

.venv/bin/python bench/runtimes.py --model-root var/models --repeat 3 \\
    --configs tf-bf16,ov-bf16,ov-f32 bench/results/inputs/song-seed2024-180s.wav
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# name: (runtime, bfloat16, batch_segments, threads or 0 for all cores)
CONFIGS: dict[str, tuple[str, bool, int, int]] = {
    "tf-bf16": ("tensorflow", True, 2, 0),
    "tf-f32": ("tensorflow", False, 2, 0),
    "ov-bf16": ("openvino", True, 2, 0),
    "ov-f32": ("openvino", False, 2, 0),
    "ov-bf16-b4": ("openvino", True, 4, 0),
    "ov-bf16-b1": ("openvino", True, 1, 0),
    "ov-bf16-t1": ("openvino", True, 2, 1),
}


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    """Load every configuration once, then time them round-robin on each file."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--model-root", type=Path, default=REPO / "var" / "models")
    p.add_argument("--configs", default="tf-bf16,ov-bf16,ov-f32", help=",".join(CONFIGS))
    p.add_argument("--official", action="store_true", help="also the warm official Separator")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = p.parse_args()
    os.environ.setdefault("MODEL_PATH", str(args.model_root.resolve()))
    from shared_separation.engine import Output, SeparationEngine

    engines: dict[str, Any] = {}
    for name in args.configs.split(","):
        runtime, bfloat16, batch, threads = CONFIGS[name]
        engines[name] = SeparationEngine(
            args.model_root,
            runtime=runtime,
            bfloat16=bfloat16,
            batch_segments=batch,
            threads=threads or None,
        )
        # The first calls allocate and compile kernels: warm up, untimed.
        engines[name].separate_waveform(np.zeros((10 * 44100, 2), np.float32))
        print(f"{name}: {engines[name].runtime} {engines[name].precision}", flush=True)
    official = None
    if args.official:
        import wave

        from spleeter.separator import Separator

        official = Separator("spleeter:2stems", multiprocess=False)
        official.separate(np.zeros((44100 * 5, 2), np.float32))

        def read(path: Path) -> Any:
            with wave.open(str(path)) as w:
                raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            return raw.reshape(-1, 2).astype(np.float32) / 32768.0

    walls: dict[str, dict[str, list[float]]] = {}
    cpus: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-runtimes-") as tmp:
        for path in args.files:
            walls[path.name], cpus[path.name] = {}, {}
            for rep in range(args.repeat):
                for name, engine in engines.items():
                    outs = {s: Output.lossless(Path(tmp) / f"{s}.flac") for s in engine.stems}
                    c0, t0 = _cpu_seconds(), time.perf_counter()
                    engine.separate_file(path, outs)
                    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
                    walls[path.name].setdefault(name, []).append(wall)
                    cpus[path.name].setdefault(name, []).append(cpu)
                    print(f"{path.name} run {rep + 1} {name}: {wall:.2f} s (cpu {cpu:.1f} s)"
                          f" load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
                if official is not None:
                    waveform = read(path)
                    t0 = time.perf_counter()
                    official.separate(waveform)
                    wall = time.perf_counter() - t0
                    walls[path.name].setdefault("official", []).append(wall)
                    print(f"{path.name} run {rep + 1} official: {wall:.2f} s", flush=True)
    print()
    for name_file, runs in walls.items():
        for name, values in runs.items():
            print(f"{name_file}  {name:12s} best {min(values):6.2f} s   runs {values}")
    if args.out:
        args.out.write_text(json.dumps({"walls_s": walls, "cpu_s": cpus}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
