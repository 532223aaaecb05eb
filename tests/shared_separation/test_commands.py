"""The `separate` and `provision_model` commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audio import make_keyed_song, make_song

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **(env or {})},
        check=False,
    )


def _probe(path: Path) -> dict[str, object]:
    entries = "format=duration,format_name:stream=codec_name,bit_rate"
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    info: dict[str, object] = json.loads(out.stdout)
    return info


@pytest.mark.slow
def test_separate_writes_each_stem_per_input_with_a_progress_line(tmp_path: Path) -> None:
    first = make_song(tmp_path / "First Song.mp3", 12)
    second = make_song(tmp_path / "second.wav", 6, seed=2)
    out = tmp_path / "out"
    done = _manage("separate", str(first), str(second), "--stem", "both", "--format", "mp3",
                   "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name, seconds in (("First Song", 12.0), ("second", 6.0)):
        for stem in ("vocals", "accompaniment"):
            path = out / name / f"{stem}.mp3"
            assert str(path) in done.stdout
            info = _probe(path)
            assert info["format"]["format_name"] == "mp3"  # type: ignore[index]
            assert abs(float(info["format"]["duration"]) - seconds) < 0.1  # type: ignore[index]
    # Not a terminal: one line per 10 %, ending at 100 %, then a summary per file.
    assert "First Song.mp3 [" in done.stderr and "100%" in done.stderr
    assert "x realtime" in done.stderr


@pytest.mark.slow
def test_separate_one_stem_in_flac(tmp_path: Path) -> None:
    song = make_song(tmp_path / "song.flac", 5)
    done = _manage("separate", str(song), "--stem", "vocals", "--format", "flac",
                   "--out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "o" / "song").iterdir()) == ["vocals.flac"]


@pytest.mark.slow
def test_bad_inputs_are_named_and_leave_nothing_while_good_ones_still_run(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all\n" * 100)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    good = make_song(tmp_path / "good.mp3", 4)
    out = tmp_path / "out"
    done = _manage("separate", str(text), str(empty), str(good), "--out", str(out))
    assert done.returncode != 0
    assert "could not be read as audio" in done.stderr
    assert "empty" in done.stderr
    assert "2 of 3 file(s) could not be separated" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good"]
    assert not any(p.suffix == ".part" for p in out.rglob("*"))


def test_separate_refuses_a_song_over_the_limit(tmp_path: Path) -> None:
    song = make_song(tmp_path / "long.mp3", 8)
    done = _manage("separate", str(song), "--max-duration", "5", "--out", str(tmp_path / "o"))
    assert done.returncode != 0
    assert "over the limit of 0:05" in done.stderr
    assert not (tmp_path / "o" / "long").exists() or not any((tmp_path / "o" / "long").iterdir())


def test_separate_says_what_to_run_when_the_model_is_missing(tmp_path: Path) -> None:
    song = make_song(tmp_path / "song.mp3", 2)
    done = _manage("separate", str(song), "--out", str(tmp_path / "o"),
                   env={"MODEL_ROOT": str(tmp_path / "no-model")})  # fmt: skip
    assert done.returncode != 0
    assert "provision_model" in done.stderr


def test_separate_names_a_missing_file(tmp_path: Path) -> None:
    done = _manage("separate", str(tmp_path / "nope.mp3"))
    assert done.returncode != 0
    assert "No such file" in done.stderr


def test_provision_model_keeps_a_verified_model(openvino_root: Path) -> None:
    done = _manage("provision_model", "--no-official", env={"MODEL_ROOT": str(openvino_root)})
    assert done.returncode == 0, done.stderr
    assert "Model already present and verified" in done.stdout
    assert "OpenVINO model already present and verified" in done.stdout


def _limit_file_size() -> None:
    """Let this process write no file over 8 MB, as a full disk would (EFBIG, not a signal)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))


@pytest.mark.slow
def test_provision_model_still_succeeds_when_the_conversion_fails(
    model_root: Path, tmp_path: Path
) -> None:
    """The checkpoint is ready, the IR is not: a warning, no partial IR, TensorFlow serves."""
    folder = tmp_path / "models" / "2stems"
    folder.mkdir(parents=True)
    for name in ("checkpoint", "model.data-00000-of-00001", "model.index", "model.meta"):
        (folder / name).symlink_to(model_root / "2stems" / name)
    done = subprocess.run(
        [sys.executable, "manage.py", "provision_model", "--no-official"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
             "MODEL_ROOT": str(tmp_path / "models")},
        preexec_fn=_limit_file_size,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2stems model ready" in done.stdout
    assert "conversion failed" in done.stdout and "will run TensorFlow" in done.stderr
    assert sorted(p.name for p in folder.iterdir() if "openvino" in p.name) == []


def test_analyze_prints_the_tempo_and_key_of_each_file_as_a_json_line(tmp_path: Path) -> None:
    minor = make_keyed_song(tmp_path / "Minor Song.mp3", 8, bpm=90, tonic=9, minor=True)
    major = make_keyed_song(tmp_path / "major.flac", 8, bpm=128, tonic=0, minor=False)
    done = _manage("analyze", str(minor), str(major))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(minor), str(major)]
    for line, bpm, key, code in ((lines[0], 90, "A minor", "8A"), (lines[1], 128, "C major", "8B")):
        assert abs(line["bpm"] / bpm - 1) <= 0.02, line
        assert (line["key"], line["camelot"]) == (key, code), line
        assert 0 < line["bpm_confidence"] <= 1 and 0 < line["key_confidence"] <= 1
    assert "Minor Song.mp3: analysing" in done.stderr and "major.flac: done in" in done.stderr


def test_analyze_says_which_file_is_not_audio_and_exits_non_zero(tmp_path: Path) -> None:
    good = make_keyed_song(tmp_path / "good.wav", 6, bpm=110, tonic=2, minor=True)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"This is a text file pretending to be an MP3.\n" * 50)
    done = _manage("analyze", str(bad), str(good))
    assert done.returncode != 0
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["file"] == str(bad) and first["code"] == "not_audio" and "bpm" not in first
    assert "could not be read" in first["error"]
    assert second["key"] == "D minor"
    assert "1 of 2 file(s) could not be analysed" in done.stderr
