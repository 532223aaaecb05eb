"""Tempo and key of a song: onset autocorrelation, triads and key profiles (librosa, no Django).

The worker runs this on the separated accompaniment, which carries the beat and the harmony
without the voice; `manage.py analyze` runs it on any file. Accuracy on generated songs of known
tempo and key: `bench/analysis.py` (README, "Tempo and key").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .media import SAMPLE_RATE, Decoder, probe

# librosa's default rate: enough for onsets and for chroma up to about 5 kHz, and half the work.
RATE = SAMPLE_RATE // 2
# 11.6 ms frames: a one-frame error at 160 BPM is 3 %; the peak is refined below a frame.
ONSET_HOP = 256
CHROMA_HOP = 4096
MIN_BPM, MAX_BPM = 60.0, 200.0
# The prior (log-normal, in octaves: librosa's own default) picks between a tempo and its double
# where the onsets alone hardly tell (the hats' eighth notes); with the beat's multiples below
# it got 40 of the first 41 generated songs of 70 to 160 BPM right (bench/analysis.py), as
# 115 BPM did, where 105 BPM got 38 and the beat's own lag alone 38.
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0
# The lags, in beats, whose autocorrelation makes a candidate beat's score.
BEAT_MULTIPLES: tuple[float, ...] = (1, 2, 4)
# At most this much audio is read (the first five minutes): tempo and key are settled long
# before, and memory stays bounded (a fresh process peaks at 0.56 GB on a 3-minute song, 0.78 GB
# on anything of 5 minutes or more).
MAX_SECONDS = 300.0

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Key profiles of Albrecht and Shanahan (2013), from a corpus of art music: on generated songs
# (bench/analysis.py) they did best of Krumhansl-Kessler's, Temperley's and these, alone 36 of 48
# keys exact; with the chords heard (below) 42 of 48.
MAJOR_PROFILE = np.array(
    [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]
)
MINOR_PROFILE = np.array(
    [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]
)


@dataclass(frozen=True)
class Analysis:
    """A song's tempo and key, each with a confidence between 0 and 1."""

    bpm: float
    bpm_confidence: float
    tonic: str
    mode: str  # "major" or "minor"
    key_confidence: float

    @property
    def key(self) -> str:
        """Return the key as people write it, e.g. "A minor"."""
        return f"{self.tonic} {self.mode}"

    @property
    def camelot(self) -> str:
        """Return the key's Camelot wheel code (A minor 8A, C major 8B)."""
        return camelot(NAMES.index(self.tonic), self.mode == "minor")

    def as_dict(self) -> dict[str, object]:
        """Return the analysis as stored and served: the fields plus key and camelot."""
        return {**asdict(self), "key": self.key, "camelot": self.camelot}


def camelot(tonic: int, minor: bool) -> str:
    """Return the Camelot code of a key by its tonic's pitch class (0 = C)."""
    # Camelot numbers walk the circle of fifths; a minor key shares its relative major's.
    major_tonic = (tonic + 3) % 12 if minor else tonic % 12
    number = (7 * major_tonic + 7) % 12 + 1
    return f"{number}{'A' if minor else 'B'}"


def analyze_file(path: Path, *, max_seconds: float = MAX_SECONDS) -> Analysis:
    """Decode a file (guarded ffmpeg) and return its tempo and key; raise SeparationError."""
    info = probe(path)
    decoder = Decoder(path, source_channels=info.channels)
    blocks: list[np.ndarray] = []
    read = 0
    try:
        for block in decoder.blocks(SAMPLE_RATE * 10):
            blocks.append(block.mean(axis=1))
            read += len(block)
            if read >= max_seconds * SAMPLE_RATE:
                break
    finally:
        decoder.close()
    mono = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return analyze(mono, SAMPLE_RATE)


def analyze(mono: np.ndarray, rate: int) -> Analysis:
    """Return the tempo and key of a mono waveform."""
    import librosa  # A second to import: only the processes that analyze pay for it.

    y = np.asarray(mono, dtype=np.float32)
    if rate != RATE:
        y = librosa.resample(y, orig_sr=rate, target_sr=RATE, res_type="soxr_hq")
    if len(y) < RATE * 2 or not np.any(y):
        # Too short or silent: nothing to measure, say so with zero confidence.
        return Analysis(0.0, 0.0, "C", "major", 0.0)
    bpm, bpm_confidence = _tempo(y)
    tonic, minor, key_confidence = _key(y)
    return Analysis(
        bpm=round(bpm, 1),
        bpm_confidence=round(bpm_confidence, 2),
        tonic=NAMES[tonic],
        mode="minor" if minor else "major",
        key_confidence=round(key_confidence, 2),
    )


def _tempo(y: np.ndarray) -> tuple[float, float]:
    """Return the tempo in BPM and how clear the pulse is (0 to 1)."""
    import librosa

    envelope = librosa.onset.onset_strength(y=y, sr=RATE, hop_length=ONSET_HOP)
    envelope = envelope - envelope.mean()
    frames_per_minute = 60.0 * RATE / ONSET_HOP
    longest = int(np.ceil(4 * frames_per_minute / MIN_BPM)) + 2
    ac = librosa.autocorrelate(envelope, max_size=min(longest, len(envelope)))
    if len(ac) < 3 or ac[0] <= 0:
        return 0.0, 0.0
    ac = ac / ac[0]
    lags = np.arange(len(ac), dtype=float)
    with np.errstate(divide="ignore"):
        bpms = frames_per_minute / lags
    usable = (bpms >= MIN_BPM) & (bpms <= MAX_BPM)
    prior = np.exp(-0.5 * (np.log2(np.where(usable, bpms, 1.0) / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    # A beat's period also shows at two and four beats: summing them favours the beat over
    # its subdivisions, whose doubles fall between beats as often as on them.
    score = np.zeros_like(ac)
    for lag in np.nonzero(usable)[0]:
        score[lag] = sum(_peak(ac, round(lag * m)) for m in BEAT_MULTIPLES) * prior[lag]
    best = int(np.argmax(score))
    if score[best] <= 0:
        return 0.0, 0.0
    # Refine below a frame: the peak at the longest multiple that fits, parabolically.
    period = _refine(ac, best)
    for m in (4, 2):
        if best * m + 2 < len(ac):
            period = _refine(ac, best * m) / m
            break
    return frames_per_minute / period, float(np.clip(ac[best], 0.0, 1.0))


def _peak(ac: np.ndarray, lag: int) -> float:
    """Return the autocorrelation's largest value within a frame of `lag` (0 past the end)."""
    if lag + 1 >= len(ac):
        return 0.0
    return float(max(ac[lag - 1 : lag + 2].max(), 0.0))


def _refine(ac: np.ndarray, lag: int) -> float:
    """Return the fractional lag of the local maximum next to `lag` (parabolic interpolation)."""
    lag = max(1, min(len(ac) - 2, lag))
    while 1 < lag < len(ac) - 2 and ac[lag + 1] > ac[lag]:
        lag += 1
    while lag > 1 and ac[lag - 1] > ac[lag]:
        lag -= 1
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    denominator = a - 2 * b + c
    shift = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
    return lag + float(np.clip(shift, -0.5, 0.5))


def _key(y: np.ndarray) -> tuple[int, bool, float]:
    """Return the tonic's pitch class, whether the key is minor, and a confidence (0 to 1)."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=y, sr=RATE, hop_length=CHROMA_HOP, n_octaves=6)
    if not np.any(chroma):
        return 0, False, 0.0
    # Two views of the same notes: which triads sound (a key's own chords count for it, chords
    # foreign to it against it: this tells a key from its dominant's, which share six notes),
    # and how the pitch classes weigh against the key profiles.
    scores = _chord_scores(chroma) + _profile_scores(np.log1p(10 * chroma).sum(axis=1))
    order = np.argsort(scores)[::-1]
    best, second = int(order[0]), int(order[1])
    # The margin over the runner-up (most often the relative key); 0.5 or more is certain.
    confidence = float(np.clip((scores[best] - scores[second]) / 0.5, 0.0, 1.0))
    return best % 12, best >= 12, confidence


def _profile_scores(profile: np.ndarray) -> np.ndarray:
    """Return the correlation of a pitch-class profile with the 12 major then 12 minor keys."""
    if np.ptp(profile) == 0:
        return np.zeros(24)
    return np.array(
        [
            np.corrcoef(profile, np.roll(template, tonic))[0, 1]
            for template in (MAJOR_PROFILE, MINOR_PROFILE)
            for tonic in range(12)
        ]
    )


def _chord_scores(chroma: np.ndarray) -> np.ndarray:
    """Return how well the triads heard, frame by frame, belong to each of the 24 keys."""
    norms = np.linalg.norm(chroma, axis=0)
    heard = np.argmax(TRIADS @ (chroma / np.maximum(norms, 1e-9)), axis=0)
    # Each frame's triad, weighted by its loudness: how long and how loud each chord sounds.
    share = np.bincount(heard, weights=norms, minlength=24)
    share = share / max(share.sum(), 1e-9)
    return np.array(
        [
            share @ _rotate(weights, tonic)
            for weights in (MAJOR_CHORDS, MINOR_CHORDS)
            for tonic in range(12)
        ]
    )


def _rotate(weights: np.ndarray, tonic: int) -> np.ndarray:
    """Move chord weights (12 major triads, then 12 minor, from C) to another tonic."""
    return np.concatenate([np.roll(weights[:12], tonic), np.roll(weights[12:], tonic)])


def _triads() -> np.ndarray:
    """Return the 24 triad templates: the major ones on C to B, then the minor ones."""
    rows = []
    for third in (4, 3):
        for root in range(12):
            row = np.zeros(12)
            row[[root, (root + third) % 12, (root + 7) % 12]] = 1.0
            rows.append(row)
    return np.array(rows)


def _chord_weights(chords: dict[tuple[int, int], float]) -> np.ndarray:
    """Return the weights of a key's chords by (root above the tonic, 0 major / 1 minor)."""
    weights = np.full(24, FOREIGN_CHORD)
    for (root, minor), weight in chords.items():
        weights[12 * minor + root] = weight
    return weights


TRIADS = _triads()
# A chord outside the key counts against it.
FOREIGN_CHORD = -0.5
# The key's own triads, the tonic's first, then the subdominant's and dominant's: I IV V vi ii
# iii in major; i iv V (major, the harmonic minor's, or minor) VI III VII in minor.
MAJOR_CHORDS = _chord_weights(
    {(0, 0): 1.0, (5, 0): 0.7, (7, 0): 0.7, (9, 1): 0.5, (2, 1): 0.4, (4, 1): 0.3}
)
MINOR_CHORDS = _chord_weights(
    {(0, 1): 1.0, (5, 1): 0.7, (7, 0): 0.7, (7, 1): 0.7, (8, 0): 0.5, (3, 0): 0.4, (10, 0): 0.3}
)
