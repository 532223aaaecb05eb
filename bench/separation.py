"""Time Spleeter 2stems separation several ways on the same generated songs, in one run.

Systems, each measured in its own fresh subprocess so that memory peaks never mix:

- ``cli``: the official ``spleeter separate`` command, cold (model loaded per call, as a user runs
  it), from its own virtualenv ``bench/.official-venv`` (``bench/official_env.sh`` makes it).
- ``official``: the official ``Separator("spleeter:2stems", multiprocess=False).separate(waveform)``
  in the project venv, warm (model loaded and a short clip separated before timing).
- ``engine_openvino``: this project's ``SeparationEngine.separate_file`` (ffmpeg decode, blocks,
  24-bit FLAC encode of both stems), warm, as the service runs it by default: the OpenVINO IR
  that ``provision_model`` converts (``SEPARATION_RUNTIME=auto``) at the precision ``auto`` picks
  (bfloat16 on CPUs with AVX512_BF16 or AMX, else float32).
- ``engine_openvino_f32``: the same on OpenVINO in float32 (equal to the official output).
- ``engine_bf16``: the same on TensorFlow in bfloat16 (the default before the OpenVINO runtime).
- ``engine_file``: the same on TensorFlow in float32.
- ``engine_waveform``: ``SeparationEngine.separate_waveform`` on the decoded array, OpenVINO at
  the default precision, warm: the like-for-like of the official ``Separator.separate``
  (array in, arrays out, no decoding or encoding in the timed region).

The OpenVINO systems need the IR under ``--model-root`` (``manage.py provision_model``).

The warm ``official`` and ``engine_waveform`` inputs are decoded from the WAV with numpy (the
``wave`` module), outside the timed region; the ``cli`` and the engine ``separate_file`` runs
decode the WAV themselves (both through ffmpeg) inside it.

Run from the repository root: ``.venv/bin/python bench/separation.py --sizes 30,180,600``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
SAMPLE_RATE = 44100
DEFAULT_SIZES = (30, 180, 600, 1800)
SYSTEMS = (
    "cli",
    "official",
    "engine_openvino",
    "engine_openvino_f32",
    "engine_bf16",
    "engine_file",
    "engine_waveform",
)
ENGINE_SYSTEMS = frozenset(s for s in SYSTEMS if s.startswith("engine_"))
LABELS = {
    "cli": "official `spleeter separate` CLI (cold)",
    "official": "official `Separator.separate` (warm)",
    "engine_openvino": "engine `separate_file`, OpenVINO, default precision: the service default",
    "engine_openvino_f32": "engine `separate_file`, OpenVINO float32 (warm)",
    "engine_bf16": "engine `separate_file`, TensorFlow bfloat16 (warm)",
    "engine_file": "engine `separate_file`, TensorFlow float32 (warm)",
    "engine_waveform": "engine `separate_waveform`, OpenVINO, default precision (warm)",
}
T = TypeVar("T")
GB = 10**9  # process memory is reported in decimal GB throughout
GIB = 1024**3  # only the machine's RAM, as the kernel counts it


# -- the generated song -----------------------------------------------------------------------

BPM = 120
BEAT = SAMPLE_RATE * 60 // BPM  # 22050 samples: whole-sample beats keep every bar identical in size
BAR = 4 * BEAT
TAIL = SAMPLE_RATE // 2  # room for notes and drum decays ringing past their bar
# I-vi-IV-V in semitones above the key's root, with the chord quality of each.
PROGRESSION = ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}
PENTATONIC = (0, 2, 4, 7, 9)
# Formants (Hz) of a few sung vowels: what makes the melody read as a voice, not an organ.
VOWELS = (
    ((800.0, 1150.0, 2900.0), (80.0, 90.0, 120.0)),  # a
    ((400.0, 1600.0, 2700.0), (60.0, 80.0, 120.0)),  # e
    ((300.0, 2300.0, 3000.0), (50.0, 100.0, 120.0)),  # i
    ((450.0, 800.0, 2830.0), (70.0, 80.0, 100.0)),  # o
    ((325.0, 700.0, 2530.0), (50.0, 60.0, 170.0)),  # u
)


def _hz(midi: float) -> float:
    return float(440.0 * 2.0 ** ((midi - 69.0) / 12.0))


def _envelope(n: int, attack: int, release: int) -> np.ndarray:
    env = np.ones(n, dtype=np.float64)
    a, r = min(attack, n // 2), min(release, n // 2)
    if a:
        env[:a] = np.linspace(0.0, 1.0, a, endpoint=False)
    if r:
        env[n - r :] = np.linspace(1.0, 0.0, r)
    return env


def _add(buf: np.ndarray, start: int, mono: np.ndarray, pan: float) -> None:
    """Mix a mono sound into the stereo buffer at `start`, with a constant-power pan (-1..1)."""
    end = min(len(buf), start + len(mono))
    if end <= start:
        return
    angle = (pan + 1.0) * np.pi / 4.0
    part = mono[: end - start]
    buf[start:end, 0] += part * np.cos(angle)
    buf[start:end, 1] += part * np.sin(angle)


def _voice_note(rng: np.random.Generator, midi: float, n: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    # Vibrato that sets in after the attack, as singers do, with a slow random drift.
    rate = rng.uniform(4.8, 6.2)
    depth = rng.uniform(0.15, 0.4) * np.clip(t / 0.25, 0.0, 1.0)
    drift = rng.uniform(-0.08, 0.08) * t
    semis = midi + depth * np.sin(2 * np.pi * rate * t) + drift
    freq = 440.0 * 2.0 ** ((semis - 69.0) / 12.0)
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    centers, widths = VOWELS[int(rng.integers(len(VOWELS)))]
    f0 = _hz(midi)
    out = np.zeros(n)
    for k in range(1, int(9000 // f0) + 1):
        fk = k * f0
        gain = sum(
            np.exp(-0.5 * ((fk - c) / (w * 2.5)) ** 2) * (1.0 if i == 0 else 0.6)
            for i, (c, w) in enumerate(zip(centers, widths, strict=True))
        )
        gain = (0.15 + gain) / k**0.8  # glottal tilt plus formant peaks
        out += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    out *= _envelope(n, int(0.04 * SAMPLE_RATE), int(0.08 * SAMPLE_RATE))
    # A breathy consonant at the onset.
    m = min(n, int(0.03 * SAMPLE_RATE))
    out[:m] += np.diff(rng.standard_normal(m + 1)) * np.linspace(0.6, 0.0, m)
    return out / 4.0


def _pluck(rng: np.random.Generator, f0: float, n: int, decay: float, harmonics: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    for k in range(1, harmonics + 1):
        out += np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
    return out * np.exp(-t / decay) * _envelope(n, 40, 400)


def render_bar(seed: int, index: int) -> np.ndarray:
    """Render bar `index` of the song for `seed` as (BAR + TAIL, 2) float64, deterministically."""
    rng = np.random.default_rng([seed, index])
    song = np.random.default_rng([seed])
    key = 40 + int(song.integers(0, 8))  # E2..B2
    buf = np.zeros((BAR + TAIL, 2))
    degree, quality = PROGRESSION[index % len(PROGRESSION)]
    root = key + degree
    chord = [root + i for i in TRIADS[quality]]

    # Drums: kick on 1 and 3 (sometimes on the and of 3), snare on 2 and 4, eighth-note hats.
    n_kick = int(0.35 * SAMPLE_RATE)
    t = np.arange(n_kick) / SAMPLE_RATE
    kick = np.sin(2 * np.pi * np.cumsum(45.0 + 75.0 * np.exp(-t / 0.04)) / SAMPLE_RATE)
    kick *= np.exp(-t / 0.12)
    for beat in (0.0, 2.0, 2.5) if rng.random() < 0.4 else (0.0, 2.0):
        _add(buf, int(beat * BEAT), 0.9 * kick, 0.0)
    n_snare = int(0.25 * SAMPLE_RATE)
    t = np.arange(n_snare) / SAMPLE_RATE
    for beat in (1, 3):
        snare = 0.5 * rng.standard_normal(n_snare) + 0.4 * np.sin(2 * np.pi * 190.0 * t)
        _add(buf, beat * BEAT, 0.45 * snare * np.exp(-t / 0.07), 0.1)
    n_hat = int(0.06 * SAMPLE_RATE)
    t = np.arange(n_hat) / SAMPLE_RATE
    for eighth in range(8):
        hat = np.diff(rng.standard_normal(n_hat + 1)) * np.exp(-t / 0.015)
        _add(buf, eighth * BEAT // 2, (0.12 + 0.05 * (eighth % 2 == 0)) * hat, 0.35)

    # Bass: the chord's root on each beat, sometimes an octave or a fifth.
    for beat in range(4):
        note = root - 12 + int(rng.choice([0, 0, 12, 7]))
        start = beat * BEAT + int(rng.integers(0, 2)) * BEAT // 2 * (beat == 3)
        _add(buf, start, 0.35 * _pluck(rng, _hz(note), BEAT, 0.3, 8), 0.0)

    # Pad: the triad, two slightly detuned voices spread left and right.
    n_pad = BAR + TAIL // 2
    t = np.arange(n_pad) / SAMPLE_RATE
    env = _envelope(n_pad, TAIL // 2, TAIL // 2)
    for note in chord:
        for pan, cents in ((-0.7, -6.0), (0.7, 6.0)):
            f0 = _hz(note + 12 + cents / 100.0)
            tone = sum(
                np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k**1.5 for k in (1, 2, 3)
            )
            _add(buf, 0, 0.035 * tone * env, pan)

    # Voice: phrases of 12 sung bars and 4 instrumental ones, 2 to 5 notes a bar.
    if (index // 4) % 4 != 3:
        cuts = np.sort(rng.choice(np.arange(1, 8), size=int(rng.integers(1, 5)), replace=False))
        bounds = [0, *(int(c) * BEAT // 2 for c in cuts), BAR]
        for start, end in itertools.pairwise(bounds):
            if rng.random() < 0.15:
                continue  # a breath
            if rng.random() < 0.5:
                note = float(rng.choice(chord)) + 24
            else:
                note = key + 24 + float(rng.choice(PENTATONIC)) + 12 * float(rng.integers(0, 2))
            length = end - start + int(0.1 * SAMPLE_RATE)  # legato into the next note
            _add(buf, start, 0.5 * _voice_note(rng, note, length), float(rng.uniform(-0.1, 0.1)))

    # A faint noise floor, as in any recording.
    buf[:BAR] += 0.003 * rng.standard_normal((BAR, 2))
    return buf


def song_blocks(seed: int, seconds: float) -> Iterator[np.ndarray]:
    """Yield the song as (n, 2) float32 blocks, one bar each; a prefix of every longer song."""
    total = round(seconds * SAMPLE_RATE)
    carry = np.zeros((TAIL, 2))
    done = 0
    index = 0
    while done < total:
        buf = render_bar(seed, index)
        buf[:TAIL] += carry
        carry = buf[BAR:].copy()
        block = buf[: min(BAR, total - done)]
        # A gentle limiter, so that no sample clips whatever the random score does.
        yield np.tanh(block * 1.2).astype(np.float32) * np.float32(0.89)
        done += len(block)
        index += 1


def write_song(path: Path, seed: int, seconds: float) -> None:
    """Write the generated song as a 16-bit stereo 44.1 kHz WAV, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with wave.open(str(part), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        for block in song_blocks(seed, seconds):
            pcm = np.clip(np.round(block * 32767.0), -32768, 32767).astype("<i2")
            out.writeframes(pcm.tobytes())
    part.replace(path)


def read_wav(path: Path) -> np.ndarray:
    """Decode a 16-bit PCM WAV into a (samples, channels) float32 array with numpy."""
    with wave.open(str(path), "rb") as src:
        if src.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16-bit PCM")
        channels = src.getnchannels()
        data = src.readframes(src.getnframes())
    pcm = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
    return pcm.astype(np.float32) / np.float32(32768.0)


def wav_seconds(path: Path) -> float:
    """Return a WAV file's duration from its header."""
    with wave.open(str(path), "rb") as src:
        return src.getnframes() / src.getframerate()


# -- workers: run in a fresh child process each ------------------------------------------------


def _worker_official(src: Path, model_root: Path, warmup_s: float, repeat: int) -> dict[str, Any]:
    # Spleeter reads MODEL_PATH when its provider module is imported.
    os.environ["MODEL_PATH"] = str(model_root)
    t0 = time.perf_counter()
    import spleeter
    from spleeter.separator import Separator

    separator = Separator("spleeter:2stems", multiprocess=False)
    t1 = time.perf_counter()
    waveform = read_wav(src)
    t2 = time.perf_counter()
    # The first call builds the estimator and restores the checkpoint; it is not timed.
    separator.separate(waveform[: int(warmup_s * SAMPLE_RATE)])
    t3 = time.perf_counter()
    stems, timing = _timed(lambda: separator.separate(waveform), repeat)
    return {
        **timing,
        "setup_s": t1 - t0,
        "decode_s": t2 - t1,
        "warmup_s": t3 - t2,
        "output_samples": {k: int(v.shape[0]) for k, v in stems.items()},
        "versions": {"spleeter": getattr(spleeter, "__version__", "2.4.2"), **_tf_version()},
    }


def _engine(model_root: Path, *, bfloat16: bool = False, runtime: str = "tensorflow") -> Any:
    from shared_separation.engine import SeparationEngine

    return SeparationEngine(model_root, bfloat16=bfloat16, runtime=runtime)


def _default_bfloat16() -> bool:
    """Return what the service's default precision setting (auto) picks on this CPU."""
    from shared_separation.engine.network import use_bfloat16

    return use_bfloat16("auto")


def _engine_figures(engine: Any) -> dict[str, Any]:
    return {
        "threads": engine.threads,
        "batch_segments": engine.batch_segments,
        "runtime": engine.runtime,
        "precision": engine.precision,
    }


def _worker_engine_file(
    src: Path,
    model_root: Path,
    warmup_s: float,
    repeat: int,
    *,
    bfloat16: bool = False,
    runtime: str = "tensorflow",
) -> dict[str, Any]:
    from shared_separation.engine import Output

    t0 = time.perf_counter()
    engine = _engine(model_root, bfloat16=bfloat16, runtime=runtime)
    t1 = time.perf_counter()
    engine.separate_waveform(read_wav(src)[: int(warmup_s * SAMPLE_RATE)])
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        outputs = {
            "vocals": Output.lossless(Path(tmp) / "vocals.flac"),
            "accompaniment": Output.lossless(Path(tmp) / "accompaniment.flac"),
        }
        result, timing = _timed(lambda: engine.separate_file(src, outputs), repeat)
        sizes = {k: o.path.stat().st_size for k, o in outputs.items()}
        durations = {k: engine.probe(o.path).duration for k, o in outputs.items()}
    return {
        **timing,
        "setup_s": t1 - t0,
        "warmup_s": t2 - t1,
        "result_duration_s": result.duration,
        "output_bytes": sizes,
        "output_duration_s": durations,
        "engine": _engine_figures(engine),
        "versions": _tf_version(),
    }


def _worker_engine_waveform(
    src: Path, model_root: Path, warmup_s: float, repeat: int
) -> dict[str, Any]:
    t0 = time.perf_counter()
    engine = _engine(model_root, bfloat16=_default_bfloat16(), runtime="openvino")
    t1 = time.perf_counter()
    waveform = read_wav(src)
    t2 = time.perf_counter()
    engine.separate_waveform(waveform[: int(warmup_s * SAMPLE_RATE)])
    t3 = time.perf_counter()
    stems, timing = _timed(lambda: engine.separate_waveform(waveform), repeat)
    return {
        **timing,
        "setup_s": t1 - t0,
        "decode_s": t2 - t1,
        "warmup_s": t3 - t2,
        "output_samples": {k: int(v.shape[0]) for k, v in stems.items()},
        "engine": _engine_figures(engine),
        "versions": _tf_version(),
    }


def _timed(call: Callable[[], T], repeat: int) -> tuple[T, dict[str, Any]]:
    """Call `call` `repeat` times; keep the fastest wall time, as other work only ever adds."""
    walls: list[float] = []
    cpus: list[float] = []
    result: T | None = None
    for _ in range(max(1, repeat)):
        result = None  # drop the previous output first, so that it does not raise the peak
        c0, t0 = _cpu_seconds(), time.perf_counter()
        result = call()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_seconds() - c0)
    assert result is not None
    best = walls.index(min(walls))
    return result, {"wall_s": walls[best], "cpu_s": cpus[best], "walls_s": walls}


def _cpu_seconds() -> float:
    """Return CPU time used so far by this process and its reaped children (ffmpeg)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _tf_version() -> dict[str, str]:
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "numpy": np.__version__}


WORKERS: dict[str, Callable[[Path, Path, float, int], dict[str, Any]]] = {
    "official": _worker_official,
    "engine_file": _worker_engine_file,
    "engine_waveform": _worker_engine_waveform,
    "engine_bf16": lambda *args: _worker_engine_file(*args, bfloat16=True),
    "engine_openvino": lambda *args: _worker_engine_file(
        *args, bfloat16=_default_bfloat16(), runtime="openvino"
    ),
    "engine_openvino_f32": lambda *args: _worker_engine_file(*args, runtime="openvino"),
}


def run_worker(
    kind: str, src: Path, model_root: Path, warmup_s: float, repeat: int, result: Path
) -> None:
    """Run one warm measurement in this process and write its figures as JSON."""
    # Run as a script, Python puts bench/ on the path, not the repository with shared_separation.
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    figures = WORKERS[kind](src, model_root, warmup_s, repeat)
    result.write_text(json.dumps(figures, indent=2))


# -- measuring a child process ------------------------------------------------------------------


@dataclass
class Measured:
    """How one child process ran."""

    status: str  # "ok", "out of memory", "timeout" or "failed"
    wall_s: float
    peak_rss_bytes: int
    peak_tree_pss_bytes: int
    cpu_s: float
    returncode: int
    detail: str = ""


def _meminfo() -> dict[str, int]:
    info: dict[str, int] = {}
    with Path("/proc/meminfo").open() as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            info[name] = int(rest.split()[0]) * 1024
    return info


def _session_pids(sid: int) -> list[int]:
    """List the processes of a session: the child plus ffmpeg and pool workers it started."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def _pss(pid: int) -> int:
    """Return a process's proportional set size, so that forked workers' shared pages count once."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run_measured(
    cmd: Sequence[str],
    *,
    env: dict[str, str],
    log: Path,
    mem_cap: int,
    min_available: int,
    timeout: float,
) -> Measured:
    """Run `cmd` in its own session, watch its memory, and kill it above the caps."""
    killed: list[str] = []
    peak_pss = 0
    stop = threading.Event()
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

        def watch() -> None:
            # Polling, not RLIMIT_AS: TensorFlow reserves far more address space than it touches,
            # so an address-space limit fails runs that would fit.
            nonlocal peak_pss
            while not stop.wait(0.5):
                pss = sum(_pss(pid) for pid in _session_pids(proc.pid))
                peak_pss = max(peak_pss, pss)
                available = _meminfo().get("MemAvailable", min_available + 1)
                if pss > mem_cap:
                    killed.append(
                        f"killed at {pss / GB:.1f} GB, above the {mem_cap / GB:.0f} GB cap"
                    )
                elif available < min_available:
                    killed.append(
                        f"killed at {pss / GB:.1f} GB: the machine had only "
                        f"{available / GB:.1f} GB available"
                    )
                elif time.perf_counter() - start > timeout:
                    killed.append(f"killed after {timeout:.0f} s")
                if killed:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        # wait4 gives this child's own rusage, so peaks of earlier runs never leak into it.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stop.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        # Pool workers or ffmpeg left behind by a killed child go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    code = proc.returncode
    if killed:
        state = "timeout" if "after" in killed[0] else "out of memory"
        detail = killed[0]
    elif code == -signal.SIGKILL:
        state, detail = "out of memory", "SIGKILL from outside (the kernel's OOM killer?)"
    elif code != 0:
        state, detail = "failed", _tail(log)
    else:
        state, detail = "ok", ""
    return Measured(
        status=state,
        wall_s=wall,
        peak_rss_bytes=usage.ru_maxrss * 1024,
        peak_tree_pss_bytes=peak_pss,
        cpu_s=usage.ru_utime + usage.ru_stime,
        returncode=code,
        detail=detail,
    )


def _tail(log: Path, lines: int = 3) -> str:
    text = log.read_text(errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])[-500:]


# -- the driver ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One system on one input."""

    system: str
    seconds: float
    status: str
    wall_s: float | None
    realtime: float | None
    peak_rss_bytes: int
    peak_tree_pss_bytes: int
    cpu_s: float
    vs_official: float | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def machine() -> dict[str, Any]:
    """Describe the CPU, cores and memory this ran on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor(),
    )
    flags = next(
        (ln.split(":", 1)[1].split() for ln in cpuinfo.splitlines() if ln.startswith("flags")), []
    )
    return {
        "cpu": model,
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gib": round(_meminfo()["MemTotal"] / GIB, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def describe_machine(m: dict[str, Any]) -> str:
    """Return a one-line description of the machine."""

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    return (
        f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gib']} GiB RAM; "
        f"AVX2 {yes(m['avx2'])}, AVX-512F {yes(m['avx512f'])}, "
        f"avx512_bf16 {yes(m['avx512_bf16'])}, AMX-BF16 {yes(m['amx_bf16'])}; "
        f"Linux {m['kernel']}, Python {m['python']}"
    )


def ensure_official_venv(venv: Path) -> Path:
    """Return the official CLI's path, creating its virtualenv with official_env.sh if needed."""
    cli = venv / "bin" / "spleeter"
    if not cli.exists():
        print(f"creating the official virtualenv in {venv} (about a minute)", file=sys.stderr)
        env = {**os.environ, "OFFICIAL_VENV": str(venv)}
        subprocess.run(["bash", str(BENCH / "official_env.sh")], env=env, check=True)
    return cli


def child_env(model_root: Path) -> dict[str, str]:
    """Return the environment every measured child gets."""
    env = dict(os.environ)
    env.update(
        MODEL_PATH=str(model_root),
        PYTHONPATH=str(REPO),
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        PYTHONWARNINGS="ignore",
    )
    # The official venv must not see the project venv's packages.
    env.pop("VIRTUAL_ENV", None)
    return env


def measure(system: str, src: Path, seconds: float, args: argparse.Namespace, work: Path) -> Row:
    """Measure one system on one input in a fresh child process."""
    env = child_env(args.model_root)
    log = work / f"{system}-{int(seconds)}s.log"
    caps = {
        "mem_cap": int(args.mem_cap_gb * GB),
        "min_available": int(args.min_available_gb * GB),
        "timeout": args.timeout,
    }
    # Other work on the machine slows every figure; the load average tells how much there was.
    extra: dict[str, Any] = {"log": str(log), "load_before": os.getloadavg()[0]}
    if system == "cli":
        runs: list[Measured] = []
        for _ in range(max(1, args.repeat)):
            with tempfile.TemporaryDirectory(prefix="bench-cli-", dir=work) as out_dir:
                # The CLI stops at 600 s unless told otherwise (-d); ask for the whole song.
                cmd = [str(args.cli), "separate", "-p", "spleeter:2stems", "-o", out_dir]
                cmd += ["-d", str(int(seconds) + 1), str(src)]
                extra["command"] = " ".join(cmd)
                run = run_measured(cmd, env=env, log=log, **caps)
                stems = {p.stem: wav_seconds(p) for p in Path(out_dir).rglob("*.wav")}
            extra["output_duration_s"] = stems
            if run.status == "ok" and sorted(stems) != ["accompaniment", "vocals"]:
                run.status = "failed"
                run.detail = f"expected two stems, got {sorted(stems)}: {_tail(log)}"
            runs.append(run)
            if run.status != "ok":
                break
        # The fastest of the runs, as for the warm systems; the peak is the highest of them all.
        m = min(runs, key=lambda r: (r.status != "ok", r.wall_s))
        m.peak_rss_bytes = max(r.peak_rss_bytes for r in runs)
        m.peak_tree_pss_bytes = max(r.peak_tree_pss_bytes for r in runs)
        if any(r.status != "ok" for r in runs):
            m = next(r for r in runs if r.status != "ok")
        extra["walls_s"] = [r.wall_s for r in runs]
        wall = m.wall_s
    else:
        result = work / f"{system}-{int(seconds)}s.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            system,
            "--input",
            str(src),
        ]
        cmd += ["--worker-result", str(result), "--model-root", str(args.model_root)]
        cmd += ["--warmup-seconds", str(args.warmup_seconds), "--repeat", str(args.repeat)]
        m = run_measured(cmd, env=env, log=log, **caps)
        if m.status == "ok":
            extra.update(json.loads(result.read_text()))
        wall = float(extra.get("wall_s", m.wall_s))
        extra["process_wall_s"] = m.wall_s
        extra["process_cpu_s"] = m.cpu_s
    ok = m.status == "ok"
    return Row(
        system=system,
        seconds=seconds,
        status=m.status,
        wall_s=wall if ok else None,
        realtime=seconds / wall if ok and wall > 0 else None,
        peak_rss_bytes=m.peak_rss_bytes,
        peak_tree_pss_bytes=m.peak_tree_pss_bytes,
        # The warm workers time CPU over the timed call only; the CLI's is its whole process.
        cpu_s=float(extra.get("cpu_s", m.cpu_s)),
        detail=m.detail if not ok else "",
        extra=extra,
    )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min" if not secs and minutes else f"{int(seconds)} s"


def table(rows: Sequence[Row]) -> str:
    """Render the results as a Markdown table."""
    lines = [
        "| input | system | wall | realtime factor | peak RSS | speed vs official warm "
        "| cores busy | load before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if r.status == "ok" and r.wall_s is not None and r.realtime is not None:
            wall, rtf = f"{r.wall_s:.1f} s", f"{r.realtime:.1f}x"
            rss = f"{r.peak_rss_bytes / GB:.2f} GB"
            busy = f"{r.cpu_s / r.wall_s:.2f}" if r.wall_s > 0 else "-"
        else:
            wall, rtf = r.status, "-"
            rss = f"> {r.peak_tree_pss_bytes / GB:.1f} GB" if r.status == "out of memory" else "-"
            busy = "-"
        ratio = f"{r.vs_official:.2f}x" if r.vs_official is not None else "-"
        load = f"{r.extra.get('load_before', 0.0):.2f}"
        label = LABELS[r.system]
        ran = r.extra.get("engine")
        if isinstance(ran, dict) and "runtime" in ran:
            # What the engine really ran (the default precision differs between CPUs).
            label += f" [{ran['runtime']} {ran['precision']}]"
        lines.append(
            f"| {_clock(r.seconds)} | {label} | {wall} | {rtf} | {rss} | {ratio} "
            f"| {busy} | {load} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="seconds, comma-separated"
    )
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"any of {','.join(SYSTEMS)}")
    p.add_argument("--skip-cli", action="store_true", help="leave out the official CLI")
    p.add_argument("--skip-official", action="store_true", help="leave out the warm Separator")
    p.add_argument("--skip-engine", action="store_true", help="leave out the engine runs")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SYSTEM:SECONDS",
        help="restrict a system to some sizes, e.g. cli:30,180 (repeatable)",
    )
    p.add_argument("--model-root", type=Path, default=REPO / "var" / "models")
    p.add_argument("--official-venv", type=Path, default=BENCH / ".official-venv")
    p.add_argument("--results-dir", type=Path, default=BENCH / "results")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--warmup-seconds", type=float, default=10.0)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time each system this many times and keep the fastest (the CLI in fresh processes)",
    )
    p.add_argument(
        "--mem-cap-gb", type=float, default=20.0, help="kill a run whose PSS exceeds this"
    )
    p.add_argument(
        "--min-available-gb",
        type=float,
        default=1.0,
        help="kill a run when the machine's MemAvailable falls below this (others share it)",
    )
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--worker-result", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the inputs, measure every system on every size, print and save the results."""
    args = parse_args(argv)
    args.model_root = args.model_root.resolve()
    if args.worker:
        run_worker(
            args.worker,
            args.input,
            args.model_root,
            args.warmup_seconds,
            args.repeat,
            args.worker_result,
        )
        return 0

    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown systems: {sorted(unknown)}")
    skipped: set[str] = set()
    if args.skip_cli:
        skipped.add("cli")
    if args.skip_official:
        skipped.add("official")
    if args.skip_engine:
        skipped |= ENGINE_SYSTEMS
    systems = [s for s in systems if s not in skipped]
    only: dict[str, set[float]] = {}
    for spec in args.only:
        name, _, secs = spec.partition(":")
        only[name] = {float(s) for s in secs.split(",") if s}
    if not (args.model_root / "2stems" / ".probe").exists():
        raise SystemExit(f"no 2stems model under {args.model_root} (expected 2stems/.probe)")
    if "cli" in systems:
        args.cli = ensure_official_venv(args.official_venv.resolve())

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = args.results_dir / f"separation-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    m = machine()
    print(f"machine: {describe_machine(m)}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in m['load_average'])}")

    rows: list[Row] = []
    for seconds in sizes:
        src = args.results_dir / "inputs" / f"song-seed{args.seed}-{int(seconds)}s.wav"
        if not src.exists():
            t0 = time.perf_counter()
            write_song(src, args.seed, seconds)
            print(f"generated {src} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        size_rows: list[Row] = []
        for system in systems:
            if system in only and seconds not in only[system]:
                continue
            print(f"running {system} on {_clock(seconds)} ...", file=sys.stderr, flush=True)
            row = measure(system, src, seconds, args, work)
            print(
                f"  {row.status}: wall {row.wall_s or 0.0:.1f} s, "
                f"peak RSS {row.peak_rss_bytes / GB:.2f} GB"
                + (f" ({row.detail})" if row.detail else ""),
                file=sys.stderr,
                flush=True,
            )
            size_rows.append(row)
        official = next((r for r in size_rows if r.system == "official" and r.wall_s), None)
        for r in size_rows:
            if official is not None and official.wall_s and r.wall_s:
                r.vs_official = official.wall_s / r.wall_s
        rows.extend(size_rows)

    end_load = os.getloadavg()
    print()
    print(table(rows))
    print()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in end_load)}")
    for r in rows:
        if r.detail:
            print(f"- {LABELS[r.system]} on {_clock(r.seconds)}: {r.status}: {r.detail}")
    report = {
        "command": " ".join([".venv/bin/python", "bench/separation.py", *(argv or sys.argv[1:])]),
        "started_utc": stamp,
        "machine": m,
        "load_average_end": end_load,
        "seed": args.seed,
        "mem_cap_gb": args.mem_cap_gb,
        "rows": [asdict(r) for r in rows],
        "table": table(rows),
    }
    out = args.results_dir / f"separation-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
