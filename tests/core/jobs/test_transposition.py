"""A new key and tempo: the values accepted, the key named, the render cached once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage

from core.jobs import deliveries, media
from core.jobs.models import Separation
from core.jobs.transposition import InvalidShift, Shift, bpm_after, key_after, parse
from tests.factories import finished_job


def test_values_in_range_are_parsed_and_tempo_rounded_to_whole_percents() -> None:
    assert parse("-6", "0.7") == Shift(-6, 0.7)
    assert parse(" +6 ", "1.3") == Shift(6, 1.3)
    assert parse("3", "1.0999") == Shift(3, 1.1)
    assert parse(None, None) == parse("", "") == Shift(0, 1.0)
    assert Shift(0, 1.0).identity and not Shift(1, 1.0).identity


@pytest.mark.parametrize(
    ("pitch", "tempo", "field"),
    [
        ("13", None, "pitch"),
        ("7", None, "pitch"),
        ("-7", None, "pitch"),
        ("1.5", None, "pitch"),
        ("up", None, "pitch"),
        (None, "0", "tempo"),
        (None, "1.31", "tempo"),
        (None, "0.69", "tempo"),
        (None, "fast", "tempo"),
        (None, "nan", "tempo"),
        (None, "inf", "tempo"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    pitch: str | None, tempo: str | None, field: str
) -> None:
    with pytest.raises(InvalidShift) as caught:
        parse(pitch, tempo)
    assert caught.value.field == field
    assert field in caught.value.message


@pytest.mark.parametrize(
    ("tonic", "mode", "semitones", "expected"),
    [
        ("A", "minor", 1, "B♭ minor"),
        ("C", "major", -2, "B♭ major"),
        ("C", "major", 1, "D♭ major"),
        ("E", "minor", -3, "C♯ minor"),
        ("Bb", "major", 6, "E major"),
        ("F#", "minor", 2, "G♯ minor"),
        ("G", "major", -1, "F♯ major"),
        ("Eb", "minor", 0, "E♭ minor"),
    ],
)
def test_the_new_key_is_spelled_with_the_fewest_accidentals(
    tonic: str, mode: str, semitones: int, expected: str
) -> None:
    analysis = {"tonic": tonic, "mode": mode, "key": f"{tonic} {mode}", "key_confidence": 0.8}
    assert key_after(analysis, semitones) == expected


def test_an_unknown_or_unsure_key_names_nothing() -> None:
    assert key_after(None, 2) is None
    assert key_after({"tonic": "A", "mode": "minor", "key_confidence": 0}, 2) is None
    assert bpm_after({"bpm": 120.0}, Shift(0, 1.1)) == 132
    assert bpm_after({}, Shift(0, 1.1)) is None


@pytest.mark.django_db
def test_a_render_is_stored_once_in_the_deliveries_folder_and_goes_with_it(
    tmp_path: Path, redis_server: str
) -> None:
    deliveries._redis.cache_clear()
    job = finished_job(tmp_path)
    separation = job.separation
    shift = Shift(3, 1.2)
    name = deliveries.transposed(separation, job.stem, "mp3", shift)
    preview = deliveries.transposed(separation, job.stem, "mp3", shift, preview=True)
    assert name.startswith(deliveries.folder(separation) + "/")
    assert preview != name and default_storage.exists(preview)
    stamp = default_storage.get_modified_time(name)
    assert deliveries.transposed(separation, job.stem, "mp3", shift) == name
    assert default_storage.get_modified_time(name) == stamp  # served, not rendered again
    local = tmp_path / "render.mp3"
    with default_storage.open(name, "rb") as fh:
        local.write_bytes(fh.read())
    assert media.probe(local).duration == pytest.approx(3.0 / 1.2, abs=0.06)  # MP3's padding
    # No shift is the plain delivery, not a second copy of it.
    assert deliveries.transposed(separation, job.stem, "mp3", Shift()) == deliveries.encoded(
        separation, job.stem, "mp3"
    )
    assert deliveries.delete_folder(separation.pk) >= 3
    assert not default_storage.exists(name) and not default_storage.exists(preview)


@pytest.mark.django_db
def test_many_asking_at_once_render_it_once(
    tmp_path: Path, redis_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, float]] = []
    real = media.transpose

    def counting(src: Path, dest: Path, fmt: str, **kwargs: Any) -> None:
        calls.append((kwargs["semitones"], kwargs["tempo"]))
        real(src, dest, fmt, **kwargs)
        time.sleep(0.5)  # the others arrive while it renders

    monkeypatch.setattr(media, "transpose", counting)
    deliveries._redis.cache_clear()
    job = finished_job(tmp_path)
    separations = [Separation.objects.get(pk=job.separation_id) for _ in range(5)]
    barrier = threading.Barrier(len(separations))
    names: list[str] = []

    def ask(separation: Separation) -> None:
        barrier.wait()
        names.append(deliveries.transposed(separation, job.stem, "mp3", Shift(-4, 0.85)))

    threads = [threading.Thread(target=ask, args=(s,)) for s in separations]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(names) == 5 and len(set(names)) == 1
    assert calls == [(-4, 0.85)]
