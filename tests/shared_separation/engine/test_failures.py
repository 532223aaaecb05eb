"""Bad input, bad model, missing ffmpeg: one SeparationError with the right code, no file left."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import (
    ErrorCode,
    Output,
    SeparationEngine,
    SeparationError,
    media,
)
from tests.shared_separation.audio import (
    SR,
    decode_with_ffmpeg,
    encode,
    run_ffmpeg,
    sdr,
    stereo_tones,
    synth_song,
)

STEMS = ("vocals", "accompaniment")


def _outputs(folder: Path, ext: str = "mp3") -> dict[str, Output]:
    if ext == "flac":
        return {stem: Output.lossless(folder / f"{stem}.flac") for stem in STEMS}
    return {stem: Output.for_format(folder / f"{stem}.{ext}", ext) for stem in STEMS}


def _refused(
    engine: SeparationEngine, src: Path, code: ErrorCode, **kwargs: object
) -> SeparationError:
    """Run separate_file on `src`, expect `code`, and check that the output folder stays empty."""
    out = src.parent / "out"
    out.mkdir(exist_ok=True)
    with pytest.raises(SeparationError) as caught:
        engine.separate_file(src, _outputs(out), **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert error.code is code, (error.code, error.message)
    assert list(out.iterdir()) == []
    # A clear sentence for people, without the server's paths in it.
    assert error.message.endswith(".") and len(error.message) > 15
    assert str(src.parent) not in error.message
    return error


def _png(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    png = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png)
    return path


def _wav_without_samples(path: Path) -> Path:
    fmt = struct.pack("<HHIIHH", 1, 2, SR, SR * 4, 4, 16)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    return path


def _video_with_empty_audio_track(path: Path) -> Path:
    # Matroska keeps a track that received no frames (mp4 would drop it).
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc=duration=2:rate=10", "-f", "lavfi", "-i", "sine=d=2",
        "-map", "0", "-map", "1", "-af", "atrim=end_sample=0", "-c:v", "libx264",
        "-c:a", "pcm_s16le", str(path),
    )  # fmt: skip
    return path


BAD_FILES = {
    "text renamed .mp3": (
        lambda p: (p / "notes.mp3").write_text("These are lyrics, not audio.\n" * 40),
        "notes.mp3",
        ErrorCode.NOT_AUDIO,
    ),
    "empty file": (lambda p: (p / "empty.mp3").write_bytes(b""), "empty.mp3", ErrorCode.EMPTY_FILE),
    "random bytes": (
        lambda p: (p / "noise.mp3").write_bytes(np.random.default_rng(7).bytes(64_000)),
        "noise.mp3",
        ErrorCode.NOT_AUDIO,
    ),
    "png image": (lambda p: _png(p / "cover.mp3"), "cover.mp3", ErrorCode.NOT_AUDIO),
    "wav without samples": (
        lambda p: _wav_without_samples(p / "silence.wav"),
        "silence.wav",
        ErrorCode.NO_SAMPLES,
    ),
    "video with an empty audio track": (
        lambda p: _video_with_empty_audio_track(p / "clip.mkv"),
        "clip.mkv",
        ErrorCode.NO_SAMPLES,
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused(engine: SeparationEngine, tmp_path: Path, case: str) -> None:
    """Each bad upload gives its error code and leaves the output folder empty."""
    make, name, code = BAD_FILES[case]
    make(tmp_path)
    error = _refused(engine, tmp_path / name, code)
    if case == "png image":
        assert "image" in error.message
    if code is ErrorCode.NOT_AUDIO:
        assert isinstance(error.__cause__, media.ToolFailure)


def test_file_over_max_duration_is_refused_by_probe(
    engine: SeparationEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 20 s file with a 10 s limit is refused before any decoding starts."""
    src = encode(stereo_tones(20.0), tmp_path / "long.flac", ["-c:a", "flac"])
    # Were a decoder started, this would fail with FFMPEG_MISSING instead.
    monkeypatch.setattr(engine, "ffmpeg", "no-such-ffmpeg")
    error = _refused(engine, src, ErrorCode.TOO_LONG, max_duration=10.0)
    assert "0:20" in error.message and "0:10" in error.message


def _flac_with_lying_header(path: Path, seconds: float, claimed: float) -> Path:
    """Write a FLAC whose STREAMINFO claims `claimed` seconds but which holds `seconds`."""
    encode(stereo_tones(seconds), path, ["-c:a", "flac"])
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO is the first block
    info = int.from_bytes(data[8:26], "big")  # the first 144 bits of STREAMINFO
    shift = 144 - 108 - 36  # total samples: 36 bits at bit offset 108
    mask = ((1 << 36) - 1) << shift
    info = (info & ~mask) | (round(claimed * SR) << shift)
    data[8:26] = info.to_bytes(18, "big")
    path.write_bytes(bytes(data))
    return path


def test_lying_header_is_stopped_by_the_decoding_cap(
    engine: SeparationEngine, tmp_path: Path
) -> None:
    """A FLAC claiming 2 s passes the probe, but decoding stops past the 10 s limit."""
    src = _flac_with_lying_header(tmp_path / "liar.flac", seconds=30.0, claimed=2.0)
    assert media.probe(src).duration == pytest.approx(2.0)
    assert len(decode_with_ffmpeg(src)) == 30 * SR  # ffmpeg does decode all of it
    error = _refused(engine, src, ErrorCode.TOO_LONG, max_duration=10.0)
    assert "0:10" in error.message


def _claim_samples(path: Path, samples: int) -> None:
    """Rewrite the total-samples field of a FLAC's STREAMINFO."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0
    info = int.from_bytes(data[8:26], "big")
    shift = 144 - 108 - 36
    info = (info & ~(((1 << 36) - 1) << shift)) | (samples << shift)
    data[8:26] = info.to_bytes(18, "big")
    path.write_bytes(bytes(data))


def _flac_bomb(path: Path) -> Path:
    """Write a FLAC of about 20 KB that decodes to two hours of silence."""
    run_ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "7200",
        "-c:a", "flac", "-frame_size", "65535", "-strict", "experimental", str(path),
    )  # fmt: skip
    assert path.stat().st_size < 64_000
    return path


def test_small_flac_of_hours_of_silence_is_refused_by_probe(
    engine: SeparationEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 20 KB FLAC that honestly says 2 hours is refused by its length, before decoding."""
    src = _flac_bomb(tmp_path / "bomb.flac")
    monkeypatch.setattr(engine, "ffmpeg", "no-such-ffmpeg")  # a decoder would fail differently
    error = _refused(engine, src, ErrorCode.TOO_LONG, max_duration=3600.0)
    assert "2:00:00" in error.message


def test_small_flac_of_hours_of_silence_with_a_lying_header_is_cut_off(
    engine: SeparationEngine, tmp_path: Path
) -> None:
    """The same bomb claiming 2 s passes the probe; decoding stops at the limit, quickly."""
    src = _flac_bomb(tmp_path / "bomb.flac")
    _claim_samples(src, 2 * 8000)
    assert media.probe(src).duration == pytest.approx(2.0)
    started = time.monotonic()
    _refused(engine, src, ErrorCode.TOO_LONG, max_duration=10.0)
    # Stopped near 10 s of audio, not after decoding (and separating) two hours.
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_truncated_mp3_gives_the_valid_part(engine: SeparationEngine, tmp_path: Path) -> None:
    """An mp3 cut in the middle is separated up to the cut, like players play it.

    The header still claims the full length; what counts is what decodes. The result reports
    the decoded duration, and the stems equal the separation of the decoded part.
    """
    full = encode(synth_song(20.0, seed=4), tmp_path / "full.mp3", ["-b:a", "192k"])
    data = full.read_bytes()
    src = tmp_path / "cut.mp3"
    src.write_bytes(data[: len(data) // 2 + 77])  # in the middle of a frame
    info = media.probe(src)
    decoded = decode_with_ffmpeg(src)
    assert len(decoded) / SR < info.duration - 5
    out = tmp_path / "out"
    outputs = _outputs(out, "flac")
    result = engine.separate_file(src, outputs)
    assert result.duration == len(decoded) / SR
    expected = engine.separate_waveform(decoded)
    for stem in STEMS:
        assert sdr(expected[stem], decode_with_ffmpeg(outputs[stem].path)) > 60
    assert sorted(p.name for p in out.iterdir()) == ["accompaniment.flac", "vocals.flac"]


# -- playlists: refused by the whitelist before they open anything --------------------------


class _FifoWatch:
    """A FIFO that notices whether anybody opens it for reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        with self.path.open("wb"):  # blocks until a reader opens the other end
            self.opened.set()

    def was_opened(self) -> bool:
        """Tell whether a reader opened the FIFO, then release the waiting writer."""
        seen = self.opened.wait(1.0)
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._thread.join(5)
        os.close(fd)
        return seen


class _Listener:
    """A TCP listener on 127.0.0.1 that counts connections."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> int:
        """Stop listening and return how many connections arrived."""
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
        return self.connections


def _hls(path: Path, target: str) -> Path:
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n"
    )
    return path


def _ffconcat(path: Path, target: str) -> Path:
    path.write_text(f"ffconcat version 1.0\nfile '{target}'\n")
    return path


def _playlist(kind: str, path: Path, target: Path) -> Path:
    if kind == "hls":
        return _hls(path, str(target))
    # The concat demuxer's default safe mode refuses absolute paths: name it relatively.
    return _ffconcat(path, str(target.relative_to(path.parent)))


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[_FifoWatch]:
    """A watched FIFO named like an mp3, in a folder of its own."""
    folder = tmp_path / "target"
    folder.mkdir()
    watch = _FifoWatch(folder / "secret.mp3")
    yield watch
    if not watch.opened.is_set():
        watch.was_opened()


def _plain_ffprobe(path: Path, *options: str) -> None:
    cmd = ["ffprobe", "-v", "quiet", *options, str(path)]
    subprocess.run(cmd, capture_output=True, timeout=20, check=False)


@pytest.mark.parametrize("kind", ["hls", "ffconcat"])
def test_playlist_of_a_local_file_is_refused_unopened(
    engine: SeparationEngine, tmp_path: Path, fifo: _FifoWatch, kind: str
) -> None:
    """An HLS playlist or ffconcat list renamed .mp3 never opens the file it names."""
    src = _playlist(kind, tmp_path / "song.mp3", fifo.path)
    error = _refused(engine, src, ErrorCode.NOT_AUDIO)
    assert ("HLS playlist" if kind == "hls" else "ffconcat") in error.message
    # ffmpeg's decoder is guarded on its own too, not only the probe in front of it.
    decoder = media.Decoder(src)
    with pytest.raises(SeparationError) as caught:
        list(decoder.blocks(1024))
    decoder.close()
    assert caught.value.code is ErrorCode.NOT_AUDIO
    assert "not on whitelist" in str(caught.value.__cause__)
    assert not fifo.was_opened()


@pytest.mark.parametrize("kind", ["hls", "ffconcat"])
def test_unguarded_ffprobe_would_open_the_playlist_target(
    tmp_path: Path, fifo: _FifoWatch, kind: str
) -> None:
    """Control: without the whitelists ffprobe does open the target, so the test above bites."""
    _plain_ffprobe(_playlist(kind, tmp_path / "song.mp3", fifo.path))
    assert fifo.was_opened()


def test_playlist_of_an_url_is_refused_unopened(engine: SeparationEngine, tmp_path: Path) -> None:
    """An HLS playlist naming an http URL makes no connection, by either whitelist alone."""
    listener = _Listener()
    try:
        src = _hls(tmp_path / "song.mp3", f"http://127.0.0.1:{listener.port}/segment.mp3")
        _refused(engine, src, ErrorCode.NOT_AUDIO)
        decoder = media.Decoder(src)
        with pytest.raises(SeparationError):
            list(decoder.blocks(1024))
        decoder.close()
        # The protocol whitelist alone also stops it, should the hls demuxer ever be allowed.
        _plain_ffprobe(src, "-format_whitelist", "hls", "-protocol_whitelist", "file,pipe")
        assert listener.connections == 0
        # Control: where http is allowed, the playlist does reach for the URL. (A local playlist
        # gets ffmpeg's default whitelist "file,crypto,data", hence the explicit option.)
        _plain_ffprobe(src, "-protocol_whitelist", "file,http,tcp")
    finally:
        connections = listener.close()
    assert connections >= 1


# -- the engine's own failures -----------------------------------------------------------------


def test_cancelled_before_start(engine: SeparationEngine, tmp_path: Path) -> None:
    """A job cancelled before it starts raises CANCELLED and writes nothing."""
    src = encode(stereo_tones(5.0), tmp_path / "a.flac", ["-c:a", "flac"])
    error = _refused(engine, src, ErrorCode.CANCELLED, cancelled=lambda: True)
    assert error.message == "The separation was cancelled."


@pytest.mark.slow
def test_cancelled_midway_removes_partial_outputs(
    engine: SeparationEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling after stems are half written removes the .part files too."""
    monkeypatch.setattr(engine, "batch_segments", 1)
    src = encode(synth_song(40.0, seed=5), tmp_path / "song.flac", ["-c:a", "flac"])
    out = tmp_path / "out"
    partial_seen: list[bool] = []

    def cancelled() -> bool:
        parts = list(out.glob("*.part"))
        if parts and all(p.stat().st_size > 0 for p in parts):
            partial_seen.append(True)
            return True
        return False

    _refused(engine, src, ErrorCode.CANCELLED, cancelled=cancelled)
    assert partial_seen  # it really stopped in the middle of writing


@pytest.mark.slow
def test_progress_rises_to_exactly_one(
    engine: SeparationEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress fractions never fall, stay below 1 while working, and end at exactly 1.0."""
    monkeypatch.setattr(engine, "batch_segments", 1)
    src = encode(synth_song(30.0, seed=6), tmp_path / "song.mp3", ["-b:a", "192k"])
    seen: list[float] = []
    out = tmp_path / "out"
    engine.separate_file(src, _outputs(out), progress=seen.append)
    assert len(seen) >= 4
    assert all(a <= b for a, b in itertools.pairwise(seen))
    assert 0 < seen[0] < 0.5 and all(f < 1.0 for f in seen[:-1])
    assert seen[-1] == 1.0
    assert sorted(p.name for p in out.iterdir()) == ["accompaniment.mp3", "vocals.mp3"]


class _Interrupted(Exception):
    """Stands for an exception from outside the engine, like Celery's SoftTimeLimitExceeded."""


@pytest.mark.slow
def test_callback_exception_passes_through_after_cleanup(
    engine: SeparationEngine, tmp_path: Path
) -> None:
    """An exception from the caller's side keeps its type; the outputs are removed."""
    src = encode(stereo_tones(5.0), tmp_path / "a.flac", ["-c:a", "flac"])
    out = tmp_path / "out"

    def progress(_fraction: float) -> None:
        # Encoders are fed from their own threads: give ffmpeg a moment to open its outputs.
        deadline = time.monotonic() + 10
        while len(list(out.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(p.suffix for p in out.iterdir()) == [".part", ".part"]
        raise _Interrupted

    with pytest.raises(_Interrupted):
        engine.separate_file(src, _outputs(out), progress=progress)
    assert list(out.iterdir()) == []


def test_unwritable_output_folder(engine: SeparationEngine, tmp_path: Path) -> None:
    """An output folder that cannot be made is ENCODE_FAILED, chained to the OSError."""
    src = encode(stereo_tones(2.0), tmp_path / "a.flac", ["-c:a", "flac"])
    (tmp_path / "taken").write_text("a file where the folder should be")
    out = tmp_path / "ok"
    outputs = {
        "vocals": Output.lossless(out / "vocals.flac"),
        "accompaniment": Output.lossless(tmp_path / "taken" / "accompaniment.flac"),
    }
    with pytest.raises(SeparationError) as caught:
        engine.separate_file(src, outputs)
    assert caught.value.code is ErrorCode.ENCODE_FAILED
    assert isinstance(caught.value.__cause__, OSError)
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_encoder_failure_removes_the_other_stem(engine: SeparationEngine, tmp_path: Path) -> None:
    """If one stem cannot be written, the other one is not left behind either."""
    src = encode(stereo_tones(5.0), tmp_path / "a.flac", ["-c:a", "flac"])
    out = tmp_path / "out"
    outputs = {
        "vocals": Output.lossless(out / "vocals.flac"),
        "accompaniment": Output(out / "accompaniment.mp3", ("-c:a", "pcm_s16le", "-f", "mp3")),
    }
    with pytest.raises(SeparationError) as caught:
        engine.separate_file(src, outputs)
    assert caught.value.code is ErrorCode.ENCODE_FAILED
    assert list(out.iterdir()) == []


def test_missing_model_folder(tmp_path: Path) -> None:
    """An empty model root gives MODEL_MISSING, with how to fix it."""
    with pytest.raises(SeparationError) as caught:
        SeparationEngine(tmp_path / "models")
    assert caught.value.code is ErrorCode.MODEL_MISSING
    assert "provision_model" in caught.value.message


def _copy_model(model_root: Path, dest: Path, flip: tuple[str, int] | None = None) -> Path:
    shutil.copytree(model_root / "2stems", dest / "2stems")
    if flip is not None:
        name, offset = flip
        path = dest / "2stems" / name
        data = bytearray(path.read_bytes())
        data[offset] ^= 0xFF  # same size, different content
        path.write_bytes(bytes(data))
    return dest


@pytest.mark.parametrize("name", ["model.index", "model.data-00000-of-00001", "checkpoint"])
def test_corrupt_model_file(model_root: Path, tmp_path: Path, name: str) -> None:
    """One altered byte in any checkpoint file gives MODEL_CORRUPT naming the file."""
    root = _copy_model(model_root, tmp_path, (name, 40))
    with pytest.raises(SeparationError) as caught:
        SeparationEngine(root)
    assert caught.value.code is ErrorCode.MODEL_CORRUPT
    assert name in caught.value.message


@pytest.mark.parametrize(("name", "offset"), [("model.meta", 5000), ("model.index", 40)])
def test_corrupt_model_without_checksums(
    model_root: Path, tmp_path: Path, name: str, offset: int
) -> None:
    """Even unverified, a corrupt graph or weights index fails as MODEL_CORRUPT, chained.

    On TensorFlow, the runtime that reads them (OpenVINO runs its own checked IR instead).
    """
    root = _copy_model(model_root, tmp_path, (name, offset))
    with pytest.raises(SeparationError) as caught:
        SeparationEngine(root, verify_checksums=False, runtime="tensorflow")
    assert caught.value.code is ErrorCode.MODEL_CORRUPT
    assert caught.value.__cause__ is not None


def test_ffmpeg_missing(model_root: Path) -> None:
    """An engine without ffmpeg refuses to start."""
    with pytest.raises(SeparationError) as caught:
        SeparationEngine(model_root, ffmpeg="no-such-ffmpeg")
    assert caught.value.code is ErrorCode.FFMPEG_MISSING
