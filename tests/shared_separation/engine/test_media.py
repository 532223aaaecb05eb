"""Decoding every accepted kind of input, encoding every delivery format, guarded ffmpeg."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import AudioFormat, ErrorCode, SeparationError, media
from tests.shared_separation.audio import (
    SR,
    decode_with_ffmpeg,
    encode,
    ffprobe_json,
    run_ffmpeg,
    stereo_tones,
)

SECONDS = 3.0


def _decode(path: Path, **kwargs: object) -> np.ndarray:
    info = media.probe(path)
    decoder = media.Decoder(path, source_channels=info.channels, **kwargs)  # type: ignore[arg-type]
    try:
        blocks = list(decoder.blocks(50_000))
    finally:
        decoder.close()
    assert all(b.dtype == np.float32 and b.shape[1] == 2 for b in blocks)
    return np.concatenate(blocks)


def _snr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SNR per channel (worst), ignoring 0.1 s at each end where codecs fade in and out."""
    n = min(len(reference), len(estimate))
    cut = slice(SR // 10, n - SR // 10)
    ref, est = reference[cut].astype(np.float64), estimate[cut].astype(np.float64)
    return float(np.min(10 * np.log10(np.sum(ref**2, 0) / np.sum((ref - est) ** 2, 0))))


def test_format_whitelist_names_are_demuxers_of_this_ffmpeg() -> None:
    """Each whitelisted name is a demuxer ffmpeg knows, spelled as it prints it."""
    listing = subprocess.run(
        ["ffmpeg", "-hide_banner", "-demuxers"], capture_output=True, text=True, check=True
    ).stdout
    names: set[str] = set()
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("D"):
            names.update(parts[1].split(","))
    listed = media.FORMAT_WHITELIST.split(",")
    assert set(listed) <= names, set(listed) - names
    for dangerous in ("hls", "concat", "dash", "image2", "tty", "ffmetadata", "sdp", "rtsp"):
        assert dangerous not in listed


# (file name, ffmpeg codec arguments, minimum SNR in dB, samples the codec may add at the end,
# samples of encoder delay the format cannot signal)
FORMATS = [
    ("a.wav", ["-c:a", "pcm_s16le"], 80, 0, 0),
    ("a.flac", ["-c:a", "flac"], 80, 0, 0),
    ("a.mp3", ["-c:a", "libmp3lame", "-b:a", "192k"], 25, 0, 0),
    # AAC frames hold 1024 samples; mp4's edit list trims the start, not the end.
    ("a.m4a", ["-c:a", "aac", "-b:a", "192k"], 30, 1024, 0),
    # Raw ADTS has no edit list: the encoder's 1024 samples of priming stay in, as everywhere.
    ("a.aac", ["-c:a", "aac", "-b:a", "192k", "-f", "adts"], 30, 2048, 1024),
    ("a.ogg", ["-c:a", "libvorbis"], 30, 0, 0),
    ("a.opus", ["-c:a", "libopus", "-b:a", "128k"], 30, 0, 0),
    ("a.webm", ["-c:a", "libopus", "-b:a", "128k"], 30, 0, 0),
    ("a.aiff", ["-c:a", "pcm_s16be"], 80, 0, 0),
    ("a.wv", ["-c:a", "wavpack"], 80, 0, 0),
    ("a.mka", ["-c:a", "flac"], 80, 0, 0),
]


@pytest.mark.parametrize(
    ("name", "args", "min_snr", "extra", "delay"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_decodes_audio_formats(
    tmp_path: Path, name: str, args: list[str], min_snr: float, extra: int, delay: int
) -> None:
    """Every format decodes to stereo 44.1 kHz float32 of the right length and content."""
    reference = stereo_tones(SECONDS)
    path = encode(reference, tmp_path / name, args)
    info = media.probe(path)
    assert info.channels == 2 and not info.has_video
    decoded = _decode(path)
    assert 0 <= len(decoded) - len(reference) <= extra
    assert _snr(reference, decoded[delay:]) >= min_snr


def test_decodes_the_audio_track_of_a_video(tmp_path: Path) -> None:
    """An H.264 + AAC mp4 yields its audio track."""
    reference = stereo_tones(SECONDS)
    raw = tmp_path / "audio.f32"
    raw.write_bytes(reference.astype("<f4").tobytes())
    video = tmp_path / "clip.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={SECONDS}",
        "-f", "f32le", "-ar", str(SR), "-ac", "2", "-i", str(raw),
        "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "192k", str(video),
    )  # fmt: skip
    info = media.probe(video)
    assert info.has_video and info.audio_codec == "aac"
    assert info.format_name == "mov,mp4,m4a,3gp,3g2,mj2"
    decoded = _decode(video)
    assert 0 <= len(decoded) - len(reference) <= 1024
    assert _snr(reference, decoded) >= 30


def test_mp3_with_cover_art_is_audio(tmp_path: Path) -> None:
    """An attached picture is not a video, and the audio decodes as usual."""
    reference = stereo_tones(SECONDS)
    plain = encode(reference, tmp_path / "plain.mp3", ["-c:a", "libmp3lame", "-b:a", "192k"])
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:size=64x64:duration=1", "-frames:v", "1",
        str(tmp_path / "cover.png"),
    )  # fmt: skip
    tagged = tmp_path / "tagged.mp3"
    run_ffmpeg(
        "-i", str(plain), "-i", str(tmp_path / "cover.png"), "-map", "0:a", "-map", "1:v",
        "-c", "copy", "-id3v2_version", "3", "-disposition:v", "attached_pic", str(tagged),
    )  # fmt: skip
    info = media.probe(tagged)
    assert info.audio_codec == "mp3" and not info.has_video
    decoded = _decode(tagged)
    assert len(decoded) == len(reference) and _snr(reference, decoded) >= 25


def test_mono_is_copied_to_both_channels_at_full_level(tmp_path: Path) -> None:
    """Mono becomes two identical channels at the source level (Spleeter's np.repeat)."""
    mono = stereo_tones(SECONDS)[:, 0]
    path = encode(mono, tmp_path / "mono.flac", ["-c:a", "flac", "-sample_fmt", "s32"])
    assert media.probe(path).channels == 1
    decoded = _decode(path)
    assert np.array_equal(decoded[:, 0], decoded[:, 1])
    assert np.max(np.abs(decoded[:, 0] - mono)) < 1e-6


@pytest.mark.parametrize("rate", [48000, 22050])
def test_other_sample_rates_are_resampled(tmp_path: Path, rate: int) -> None:
    """48 kHz and 22.05 kHz come out at 44.1 kHz, same length in time, same pitch."""
    path = encode(
        stereo_tones(SECONDS, rate), tmp_path / f"r{rate}.wav", ["-c:a", "pcm_f32le"], rate
    )
    assert media.probe(path).sample_rate == rate
    decoded = _decode(path)
    assert abs(len(decoded) - SECONDS * SR) <= 2
    assert _snr(stereo_tones(SECONDS), decoded) >= 40


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_encoder_writes_each_delivery_format(tmp_path: Path, fmt: AudioFormat) -> None:
    """mp3 at 320 kbps, 16-bit wav and flac; stereo 44.1 kHz; same duration; atomic."""
    reference = stereo_tones(SECONDS)
    dest = tmp_path / f"stem.{fmt.value}"
    encoder = media.Encoder(dest, media.codec_args(fmt))
    for start in range(0, len(reference), 40_000):
        encoder.write(reference[start : start + 40_000])
    assert not dest.exists()  # only the .part exists until finish()
    encoder.finish()
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name]
    stream = ffprobe_json(dest, "stream=codec_name,sample_rate,channels,bit_rate,sample_fmt")[
        "streams"
    ][0]
    assert (int(stream["sample_rate"]), stream["channels"]) == (SR, 2)
    expected_codec = {"mp3": "mp3", "wav": "pcm_s16le", "flac": "flac"}[fmt.value]
    assert stream["codec_name"] == expected_codec
    if fmt is AudioFormat.MP3:
        assert int(stream["bit_rate"]) == 320_000
    if fmt is AudioFormat.FLAC:
        assert stream["sample_fmt"] == "s16"
    decoded = decode_with_ffmpeg(dest)
    assert len(decoded) == len(reference)  # LAME's gapless header trims mp3's delay and padding
    assert _snr(reference, decoded) >= (30 if fmt is AudioFormat.MP3 else 80)


def test_transcode_stored_stem_to_mp3(tmp_path: Path) -> None:
    """A stored 24-bit FLAC stem becomes a 320 kbps mp3 of the same length."""
    reference = stereo_tones(SECONDS)
    src = encode(reference, tmp_path / "stem.flac", media.LOSSLESS_ARGS)
    dest = tmp_path / "stem.mp3"
    media.transcode(src, dest, "mp3")
    stream = ffprobe_json(dest, "stream=codec_name,bit_rate")["streams"][0]
    assert stream == {"codec_name": "mp3", "bit_rate": "320000"}
    assert len(decode_with_ffmpeg(dest)) == len(reference)
    assert not (tmp_path / "stem.mp3.part").exists()


def test_transcode_failure_leaves_nothing(tmp_path: Path) -> None:
    """A source that is not audio gives ENCODE_FAILED and no file."""
    src = tmp_path / "stem.flac"
    src.write_text("not flac")
    with pytest.raises(SeparationError) as caught:
        media.transcode(src, tmp_path / "stem.mp3", "mp3")
    assert caught.value.code is ErrorCode.ENCODE_FAILED
    assert isinstance(caught.value.__cause__, media.ToolFailure)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stem.flac"]


def test_decoder_checks_ffmpegs_exit_code(tmp_path: Path) -> None:
    """When ffmpeg fails (here: the file vanished after probing) decoding raises."""
    decoder = media.Decoder(tmp_path / "gone.mp3")
    try:
        with pytest.raises(SeparationError) as caught:
            list(decoder.blocks(1024))
    finally:
        decoder.close()
    assert caught.value.code is ErrorCode.DECODE_FAILED
    cause = caught.value.__cause__
    assert isinstance(cause, media.ToolFailure) and cause.returncode != 0
    assert "No such file" in cause.stderr_tail


def test_encoder_checks_ffmpegs_exit_code(tmp_path: Path) -> None:
    """An encoder that ffmpeg refuses gives ENCODE_FAILED and removes the .part."""
    dest = tmp_path / "stem.mp3"
    encoder = media.Encoder(dest, ["-c:a", "pcm_s16le", "-f", "mp3"])  # mp3 can't hold PCM
    with pytest.raises(SeparationError) as caught:
        for _ in range(50):
            encoder.write(stereo_tones(1.0))
        encoder.finish()
    assert caught.value.code is ErrorCode.ENCODE_FAILED
    assert isinstance(caught.value.__cause__, (media.ToolFailure, OSError))
    assert list(tmp_path.iterdir()) == []


def test_missing_ffmpeg_is_reported_everywhere(tmp_path: Path) -> None:
    """Every entry point says FFMPEG_MISSING when the binary cannot be run."""
    path = encode(stereo_tones(0.5), tmp_path / "a.wav", ["-c:a", "pcm_s16le"])
    calls = [
        lambda: media.require_binaries("no-such-ffmpeg", "ffprobe"),
        lambda: media.require_binaries("ffmpeg", "no-such-ffprobe"),
        lambda: media.probe(path, ffprobe="no-such-ffprobe"),
        lambda: media.Decoder(path, ffmpeg="no-such-ffmpeg"),
        lambda: media.Encoder(tmp_path / "x.mp3", media.codec_args("mp3"), ffmpeg="no-such"),
        lambda: media.transcode(path, tmp_path / "x.mp3", "mp3", ffmpeg="no-such-ffmpeg"),
    ]
    for call in calls:
        with pytest.raises(SeparationError) as caught:
            call()
        assert caught.value.code is ErrorCode.FFMPEG_MISSING
        assert "ffmpeg" in caught.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_a_probe_that_hangs_is_stopped_by_its_time_limit(tmp_path: Path) -> None:
    """A probe stuck on a file ends with a clear refusal after its limit, not never."""
    song = encode(stereo_tones(2.0), tmp_path / "song.flac", ["-c:a", "flac"])
    stuck = tmp_path / "ffprobe"
    stuck.write_text("#!/bin/sh\nexec sleep 30\n")
    stuck.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(SeparationError) as caught:
        media.probe(song, ffprobe=str(stuck), timeout=1.0)
    assert time.monotonic() - started < 10
    assert caught.value.code is ErrorCode.NOT_AUDIO
    assert "took too long" in caught.value.message
