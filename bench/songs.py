"""Songs with known stems: General MIDI accompaniment (FluidSynth) and a synthetic voice.

The accompaniment is a MIDI file written here (drums, bass, chords, a pad and sometimes a lead
instrument, a chord progression and tempo drawn from the seed), rendered by FluidSynth with the
FluidR3 General MIDI soundfont (Debian's `fluidsynth` and `fluid-soundfont-gm`). The voice is
either speech-like lyrics from espeak-ng (even seeds) or a sung melody from a glottal-pulse and
formant synthesizer with vibrato and changing vowels (odd seeds), with a little reverb. Both
stems are returned with the mixture, so any separation can be scored against the truth.

Two named sets, `tuning` and `validation` (`SETS`, `song_set`), come from disjoint generators:
other seeds, espeak-ng voices and variants, speaking rates and pitches, the formant singer's
register and formants, General MIDI programs, tempos and keys. Settings are tuned on `tuning`
only; `validation` reports how they generalise. `make_song` keeps the generators of its earlier
songs (the ranges of both sets together) for the tests and other benchmarks.
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.signal

SR = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TICKS = 480  # per quarter note
DRUMS = 9  # General MIDI percussion channel (0-based)
PROGRESSIONS = ((0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 4, 5, 3), (0, 5, 1, 4))
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)  # natural minor; the dominant chord takes the raised seventh
# Minor progressions by scale degree: i-VI-III-VII, i-iv-V-i, i-VII-VI-V, i-iv-VI-V.
MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 5, 4))
WORDS = (
    *("love", "night", "fire", "heart", "away", "tonight", "dream", "light", "ocean", "rain"),
    *("morning", "city", "running", "home", "forever", "shadow", "golden", "river", "never"),
    *("stay", "hold", "me", "baby", "sky", "falling", "under", "stars", "tell", "hello"),
    *("dancing", "alone", "remember", "summer", "window", "burning"),
)


@dataclass(frozen=True)
class Generators:
    """The ranges a song's voice and accompaniment are drawn from."""

    name: str
    seeds: range
    voices: tuple[str, ...]  # espeak-ng voice+variant
    pitch: tuple[int, int]  # espeak-ng -p, low inclusive, high exclusive
    rate: tuple[int, int]  # espeak-ng -s (words a minute)
    singer_octave: int  # the sung melody's register, in octaves above the key's tonic at C3
    formants: float  # the singer's formant frequencies, relative to an adult male's
    bass: tuple[int, ...]  # General MIDI programs
    chords: tuple[int, ...]
    pads: tuple[int, ...]
    leads: tuple[int, ...]
    tempo: tuple[float, float]  # BPM
    tonics: tuple[int, ...]  # pitch classes, 0 = C

    def values(self) -> dict[str, set[object]]:
        """Return each generator's drawn values, to check that two sets share none."""
        return {
            "seeds": set(self.seeds),
            "voices": set(self.voices),
            "variants": {v.split("+")[1] for v in self.voices},
            "pitch": set(range(*self.pitch)),
            "rate": set(range(*self.rate)),
            "singer": {self.singer_octave},
            "formants": {self.formants},
            "programs": {*self.bass, *self.chords, *self.pads, *self.leads},
            "tempo": set(range(int(self.tempo[0]), int(np.ceil(self.tempo[1])))),
            "tonics": set(self.tonics),
        }


# The earlier songs' generators (make_song): both sets' ranges together.
DEFAULT = Generators(
    name="default",
    seeds=range(0, 10**6),
    voices=("en+f3", "en+m3", "en+f4", "en-us+m1", "en+f2", "en-us+f5"),
    pitch=(30, 80),
    rate=(110, 160),
    singer_octave=1,
    formants=1.0,
    bass=(32, 33, 34, 38),
    chords=(0, 4, 24, 25, 16, 5),
    pads=(48, 49, 89, 90, 52),
    leads=(56, 65, 73, 81, 11),
    tempo=(84, 128),
    tonics=tuple(range(12)),
)
# The same generators as the earlier songs, in the lower half of their ranges.
TUNING = replace(
    DEFAULT,
    name="tuning",
    seeds=range(0, 100),
    pitch=(30, 60),
    rate=(110, 140),
    tempo=(84, 105),
    tonics=(0, 1, 2, 3, 4, 5),
)
VALIDATION = Generators(
    name="validation",
    seeds=range(1000, 1100),
    voices=(
        *("en-gb-scotland+m2", "en-029+f1", "en-gb-x-rp+m4"),
        *("en-us+m6", "en-gb+klatt", "en-us+Annie"),
    ),
    pitch=(60, 90),
    rate=(140, 175),
    singer_octave=0,  # a baritone instead of a tenor or alto
    formants=0.88,  # a longer vocal tract
    bass=(35, 36, 37, 39),
    chords=(1, 2, 26, 27, 17, 6),
    pads=(50, 51, 88, 91, 53),
    leads=(57, 66, 71, 80, 12),
    tempo=(106, 132),
    tonics=(6, 7, 8, 9, 10, 11),
)
SETS = {g.name: g for g in (TUNING, VALIDATION)}


def check_disjoint(a: Generators, b: Generators) -> None:
    """Raise AssertionError when two sets share a seed or any generator's value."""
    for key, values in a.values().items():
        shared = values & b.values()[key]
        assert not shared, f"{a.name} and {b.name} share {key}: {sorted(map(str, shared))}"


check_disjoint(TUNING, VALIDATION)


@dataclass(frozen=True)
class Song:
    """A mixture and its two true stems, each (samples, 2) float32."""

    name: str
    mixture: np.ndarray
    vocals: np.ndarray
    accompaniment: np.ndarray


def available() -> str | None:
    """Return why songs cannot be made here, or None when they can."""
    for tool in ("fluidsynth", "espeak-ng"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install.sh --dev installs it)"
    if not SOUNDFONT.is_file():
        return f"{SOUNDFONT} is missing (Debian package fluid-soundfont-gm)"
    return None


# -- MIDI ------------------------------------------------------------------------------------


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _midi_file(events: list[tuple[int, bytes]], tempo_bpm: float) -> bytes:
    """Write a format-0 standard MIDI file from (tick, message) events."""
    tempo = round(60_000_000 / tempo_bpm)
    track = b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big")
    now = 0
    # Note-offs (velocity 0 note-ons sort first) before note-ons at the same tick.
    for tick, msg in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80)):
        track += _vlq(tick - now) + msg
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def _note(
    events: list[tuple[int, bytes]], ch: int, start: int, length: int, key: int, vel: int
) -> None:
    events.append((start, bytes([0x90 | ch, key, vel])))
    events.append((start + length, bytes([0x80 | ch, key, 0])))


def _chord(root: int, scale: tuple[int, ...], degree: int) -> list[int]:
    """Return the triad on `degree` of the scale; in minor the dominant is major (harmonic)."""
    keys = [root + scale[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
    if scale == MINOR and degree == 4:
        keys[1] += 1
    return keys


def _accompaniment_midi(
    rng: np.random.Generator,
    bars: int,
    tempo: float,
    root: int,
    scale: tuple[int, ...] = MAJOR,
    gen: Generators = DEFAULT,
) -> bytes:
    events: list[tuple[int, bytes]] = []
    bar = 4 * TICKS
    programs = {
        0: int(rng.choice(gen.bass)),
        1: int(rng.choice(gen.chords)),
        2: int(rng.choice(gen.pads)),  # pad / strings / choir
        3: int(rng.choice(gen.leads)),
    }
    pans = {0: 64, 1: int(rng.integers(30, 50)), 2: int(rng.integers(78, 100)), 3: 70, DRUMS: 64}
    for ch, prog in programs.items():
        events.append((0, bytes([0xC0 | ch, prog])))
    for ch, pan in pans.items():
        events.append((0, bytes([0xB0 | ch, 10, pan])))
        events.append((0, bytes([0xB0 | ch, 91, int(rng.integers(20, 60))])))  # reverb send
    choices = MINOR_PROGRESSIONS if scale == MINOR else PROGRESSIONS
    progression = choices[int(rng.integers(len(choices)))]
    has_lead = bool(rng.random() < 0.5)
    busy = bool(rng.random() < 0.5)
    for b in range(bars):
        t0 = b * bar
        degree = progression[b % len(progression)]
        chord = _chord(root, scale, degree)
        # Drums: kick, snare on 2 and 4, hats in eighths, a crash every 4 bars.
        for beat in range(4):
            t = t0 + beat * TICKS
            if beat in (0, 2) or (busy and rng.random() < 0.3):
                _note(events, DRUMS, t, TICKS // 4, 36, int(rng.integers(95, 120)))
            if beat in (1, 3):
                _note(events, DRUMS, t, TICKS // 4, 38, int(rng.integers(85, 115)))
            for half in (0, 1):
                hat = 46 if (busy and half and rng.random() < 0.2) else 42
                _note(
                    events, DRUMS, t + half * TICKS // 2, TICKS // 4, hat, int(rng.integers(50, 85))
                )
        if b % 4 == 0:
            _note(events, DRUMS, t0, TICKS, 49, 90)
        # Bass: the chord root in eighths or quarters.
        step = TICKS // 2 if busy else TICKS
        for k in range(bar // step):
            key = chord[0] - 24 + (7 if k % 4 == 3 and busy else 0)
            _note(events, 0, t0 + k * step, step - 20, key, int(rng.integers(90, 110)))
        # Chords: strummed or comped on the beats.
        for beat in range(4):
            if beat == 0 or rng.random() < 0.6:
                for i, key in enumerate(chord):
                    _note(events, 1, t0 + beat * TICKS + 15 * i, TICKS - 40, key, 70)
        # Pad: the whole chord held, an octave lower.
        for key in chord:
            _note(events, 2, t0, bar - 10, key - 12, 55)
        # Lead: a few chord tones an octave up, in some bars.
        if has_lead and b % 4 in (1, 3):
            for k in range(4):
                key = int(rng.choice(chord)) + 12
                _note(events, 3, t0 + k * TICKS, TICKS - 30, key, 75)
    return _midi_file(events, tempo)


def _read_wav(path: Path) -> np.ndarray:
    """Read a 16-bit PCM WAV as float (samples, channels)."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        audio = data.reshape(-1, w.getnchannels()).astype(np.float64) / 32768.0
        rate = w.getframerate()
    if rate != SR:
        audio = scipy.signal.resample_poly(audio, SR, rate, axis=0)
    return audio


def _render_midi(midi: bytes, folder: Path) -> np.ndarray:
    (folder / "song.mid").write_bytes(midi)
    out = folder / "accompaniment.wav"
    subprocess.run(
        [
            *("fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-T", "wav", "-O", "s16"),
            *("-F", str(out), str(SOUNDFONT), str(folder / "song.mid")),
        ],
        check=True,
        capture_output=True,
    )
    return _read_wav(out)


# -- voices ----------------------------------------------------------------------------------


def _spoken_phrase(
    rng: np.random.Generator, folder: Path, k: int, gen: Generators = DEFAULT
) -> np.ndarray:
    voice = str(rng.choice(list(gen.voices)))
    words = " ".join(str(w) for w in rng.choice(WORDS, size=int(rng.integers(4, 8))))
    out = folder / f"phrase{k}.wav"
    subprocess.run(
        [
            *("espeak-ng", "-w", str(out), "-v", voice, "-p", str(int(rng.integers(*gen.pitch)))),
            *("-s", str(int(rng.integers(*gen.rate))), words),
        ],
        check=True,
        capture_output=True,
    )
    return _read_wav(out)[:, 0]


def _sung_phrase(
    rng: np.random.Generator, seconds: float, notes: list[float], formants: float = 1.0
) -> np.ndarray:
    """A glottal-pulse voice through moving vowel formants, with vibrato and syllables."""
    n = round(seconds * SR)
    t = np.arange(n) / SR
    per_note = n // len(notes)
    f0 = np.repeat(notes, per_note)
    f0 = np.concatenate([f0, np.full(n - len(f0), notes[-1])])
    f0 = scipy.signal.lfilter([0.002], [1, -0.998], f0 - f0[0]) + f0[0]  # glide between notes
    f0 *= 1 + 0.015 * np.sin(2 * np.pi * 5.5 * t) * np.minimum(t / 0.4, 1)
    phase = np.cumsum(f0) / SR
    # Rosenberg-like glottal pulses: a sharp closure gives harmonics falling about 12 dB/octave.
    cycle = phase % 1.0
    pulse = np.where(
        cycle < 0.6, 0.5 * (1 - np.cos(np.pi * cycle / 0.6)), np.cos(np.pi * (cycle - 0.6) / 0.8)
    )
    pulse = np.diff(np.clip(pulse, 0, None), prepend=0.0)
    source = pulse + 0.02 * rng.standard_normal(n)  # breath
    vowels = np.array(
        [
            [730, 1090, 2440],
            [270, 2290, 3010],
            [300, 870, 2240],
            [530, 1840, 2480],
            [570, 840, 2410],
        ]
    )
    vowels = vowels * formants
    out = np.zeros(n)
    for i in range(len(notes)):
        lo, hi = i * per_note, n if i == len(notes) - 1 else (i + 1) * per_note
        vowel = vowels[int(rng.integers(len(vowels)))]
        seg = np.zeros(hi - lo)
        for j, (freq, bw) in enumerate(zip(vowel, (90, 110, 160), strict=True)):
            r = np.exp(-np.pi * bw / SR)
            a = [1, -2 * r * np.cos(2 * np.pi * freq / SR), r * r]
            seg += scipy.signal.lfilter([1 - r], a, source[lo:hi]) * (1.0, 0.6, 0.35)[j]
        within = np.arange(hi - lo) / SR
        seg *= np.minimum(within / 0.05, 1) * np.minimum(
            (hi - lo - np.arange(hi - lo)) / (0.03 * SR), 1
        )
        # A consonant: a short burst of bright noise at the start of the syllable.
        burst = min(hi - lo, int(0.03 * SR))
        seg[:burst] += (
            np.diff(rng.standard_normal(burst), prepend=0.0)
            * 0.05
            * np.exp(-np.arange(burst) / 300)
        )
        out[lo:hi] = seg
    return out


def _reverb(rng: np.random.Generator, mono: np.ndarray) -> np.ndarray:
    """A short stereo room: decaying noise impulse responses, slightly different per side."""
    length = int(0.35 * SR)
    decay = np.exp(-np.arange(length) / (0.08 * SR))
    sides = []
    for _ in range(2):
        ir = rng.standard_normal(length) * decay * 0.02
        ir[0] = 1.0
        sides.append(scipy.signal.fftconvolve(mono, ir)[: len(mono)])
    return np.stack(sides, axis=1)


def _vocals(
    rng: np.random.Generator,
    folder: Path,
    seed: int,
    n: int,
    bar_s: float,
    root: int,
    scale: tuple[int, ...] = MAJOR,
    gen: Generators = DEFAULT,
) -> np.ndarray:
    out = np.zeros(n)
    bars = int(n / SR / bar_s)
    b = int(rng.integers(0, 2))
    k = 0
    while b < bars - 1:
        start = round(b * bar_s * SR)
        length = int(rng.integers(1, 3))
        if seed % 2 == 0:
            phrase = _spoken_phrase(rng, folder, k, gen)
        else:
            degrees = rng.choice(len(scale), size=4 * length)
            register = root + 12 * gen.singer_octave - 69
            notes = [440.0 * 2 ** ((register + scale[d]) / 12) for d in degrees]
            phrase = _sung_phrase(rng, length * bar_s * 0.95, notes, gen.formants)
        phrase = phrase[: n - start]
        out[start : start + len(phrase)] += phrase / (np.max(np.abs(phrase)) + 1e-9)
        b += length + int(rng.integers(0, 2))  # some bars without voice
        k += 1
    return _reverb(rng, out) * np.array([1.0, float(rng.uniform(0.85, 1.0))])


@functools.lru_cache(maxsize=16)
def make_song(seed: int, seconds: float = 30.0) -> Song:
    """Make one song with known stems, deterministic for (seed, seconds)."""
    rng = np.random.default_rng(seed)
    tempo = float(rng.uniform(84, 128))
    root = 48 + int(rng.integers(0, 12))
    return _make(rng, seed, seconds, tempo, root, MAJOR)


@functools.lru_cache(maxsize=32)
def make_set_song(set_name: str, seed: int, seconds: float = 30.0) -> Song:
    """Make song `seed` of the named set (`tuning` or `validation`), deterministic."""
    gen = SETS[set_name]
    assert seed in gen.seeds, f"seed {seed} is not in the {set_name} set ({gen.seeds})"
    rng = np.random.default_rng(seed)
    tempo = float(rng.uniform(*gen.tempo))
    root = 48 + int(rng.choice(gen.tonics))
    song = _make(rng, seed, seconds, tempo, root, MAJOR, gen)
    return Song(f"{set_name}{seed}", song.mixture, song.vocals, song.accompaniment)


def song_set(set_name: str, count: int, seconds: float = 30.0) -> list[Song]:
    """Return the first `count` songs of the named set."""
    seeds = SETS[set_name].seeds
    assert count <= len(seeds), f"the {set_name} set has {len(seeds)} seeds"
    return [make_set_song(set_name, seed, seconds) for seed in seeds[:count]]


def make_keyed_song(seed: int, seconds: float, tempo: float, tonic: int, minor: bool) -> Song:
    """Make a song in a given tempo (BPM) and key (tonic pitch class, 0 = C; major or minor)."""
    rng = np.random.default_rng(seed)
    return _make(rng, seed, seconds, tempo, 48 + tonic % 12, MINOR if minor else MAJOR)


def _make(
    rng: np.random.Generator,
    seed: int,
    seconds: float,
    tempo: float,
    root: int,
    scale: tuple[int, ...],
    gen: Generators = DEFAULT,
) -> Song:
    bar_s = 4 * 60 / tempo
    n = round(seconds * SR)
    bars = int(np.ceil(seconds / bar_s)) + 1
    with tempfile.TemporaryDirectory(prefix="song-") as tmp:
        folder = Path(tmp)
        acc = _render_midi(_accompaniment_midi(rng, bars, tempo, root, scale, gen), folder)
        vocals = _vocals(rng, folder, seed, n, bar_s, root, scale, gen)
    acc = np.pad(acc, ((0, max(0, n - len(acc))), (0, 0)))[:n]
    # Voice-to-accompaniment level between -5 and +2 dB, as in produced songs.
    ratio = 10 ** (float(rng.uniform(-5, 2)) / 20)
    vocals *= ratio * np.sqrt(np.mean(acc**2) / max(np.mean(vocals**2), 1e-12))
    mixture = vocals + acc
    scale = 0.8 / np.max(np.abs(mixture))
    stems = [np.ascontiguousarray(x * scale, dtype=np.float32) for x in (mixture, vocals, acc)]
    for x in stems:
        x.flags.writeable = False
    return Song(f"song{seed}", stems[0], stems[1], stems[2])
