"""A new key and tempo for a stem: the shift a visitor asks for, checked, and the key it gives.

The web page (GET parameters) and the API (`pitch`, `tempo` query parameters) parse the same
way, so a value refused on one is refused on the other, before anything is encoded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MIN_SEMITONES = -6
MAX_SEMITONES = 6
MIN_TEMPO = 0.7
MAX_TEMPO = 1.3
# Whole percents only: a rendering is cached per value, so 1.0999 and 1.1 must be one file.
TEMPO_DECIMALS = 2
PREVIEW_SECONDS = 30.0

# How a key is spelled: the spelling with fewer flats or sharps (D♭ major, not C♯ major; C♯
# minor, not D♭ minor); F♯ major and E♭ minor, six either way, as most charts write them.
_MAJOR = ("C", "D♭", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
_MINOR = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "G♯", "A", "B♭", "B")
_PITCH_CLASS = {
    "C": 0, "B#": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "Fb": 4, "E#": 5, "F": 5,
    "F#": 6, "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11, "Cb": 11,
}  # fmt: skip


class InvalidShift(ValueError):
    """A pitch or tempo out of range or not a number; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Shift:
    """Semitones up (or down, negative) and a tempo factor (1.1 = 10 % faster, pitch kept)."""

    semitones: int = 0
    tempo: float = 1.0

    @property
    def identity(self) -> bool:
        """Return whether the shift changes nothing (the plain delivery serves it)."""
        return self.semitones == 0 and self.tempo == 1.0

    @property
    def percent(self) -> int:
        """Return the tempo in percent of the original's."""
        return round(self.tempo * 100)

    def suffix(self) -> str:
        """Return the part of a file name that tells this shift: `p+3.t110`."""
        return f"p{self.semitones:+d}.t{self.percent}"

    def label(self) -> str:
        """Return the shift for a file name or a page: "+3 semitones, 110 % tempo"."""
        parts = []
        if self.semitones:
            unit = "semitone" if abs(self.semitones) == 1 else "semitones"
            parts.append(f"{self.semitones:+d} {unit}")
        if self.tempo != 1.0:
            parts.append(f"{self.percent} % tempo")
        return ", ".join(parts)


def _semitones(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidShift("pitch", "pitch: a whole number of semitones, -6 to 6.") from None
    if not MIN_SEMITONES <= number <= MAX_SEMITONES:
        raise InvalidShift(
            "pitch", f"pitch: {number} semitones is out of range (-6 to 6 semitones)."
        )
    return number


def _tempo(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise InvalidShift("tempo", "tempo: a factor such as 1.1, from 0.7 to 1.3.") from None
    if not math.isfinite(number) or not MIN_TEMPO <= round(number, TEMPO_DECIMALS) <= MAX_TEMPO:
        raise InvalidShift("tempo", f"tempo: {value.strip()} is out of range (0.7 to 1.3).")
    return round(number, TEMPO_DECIMALS)


def parse(pitch: str | None, tempo: str | None) -> Shift:
    """Return the shift of a request's `pitch` (semitones) and `tempo` (factor); raise if bad.

    An absent or empty value means no change.
    """
    return Shift(
        semitones=_semitones(pitch) if pitch else 0,
        tempo=_tempo(tempo) if tempo else 1.0,
    )


def key_after(analysis: dict[str, Any] | None, semitones: int) -> str | None:
    """Return the song's key moved by `semitones` ("B♭ major"), or None if it is not known."""
    analysis = analysis or {}
    tonic, mode = analysis.get("tonic"), analysis.get("mode")
    if (
        not analysis.get("key_confidence")
        or tonic not in _PITCH_CLASS
        or mode
        not in (
            "major",
            "minor",
        )
    ):
        return None
    names = _MINOR if mode == "minor" else _MAJOR
    return f"{names[(_PITCH_CLASS[tonic] + semitones) % 12]} {mode}"


def bpm_after(analysis: dict[str, Any] | None, shift: Shift) -> int | None:
    """Return the song's tempo in BPM once played at the shift's tempo, or None if unknown."""
    bpm = (analysis or {}).get("bpm")
    return round(float(bpm) * shift.tempo) if bpm else None


def form(analysis: dict[str, Any] | None, shift: Shift | None = None) -> dict[str, Any]:
    """Return what the key and tempo form shows: each key choice with its key, the tempo range."""
    shift = shift or Shift()
    keys = []
    for n in range(MIN_SEMITONES, MAX_SEMITONES + 1):
        key = key_after(analysis, n)
        steps = "original key" if n == 0 else f"{n:+d} semitone{'s' if abs(n) != 1 else ''}"
        keys.append({"value": n, "label": f"{steps} ({key})" if key else steps, "key": key or ""})
    return {
        "keys": keys,
        "semitones": shift.semitones,
        "percent": shift.percent,
        "tempo_min": round(MIN_TEMPO * 100),
        "tempo_max": round(MAX_TEMPO * 100),
        "bpm": bpm_after(analysis, Shift()),
    }
