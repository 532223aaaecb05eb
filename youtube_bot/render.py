"""Turn a stem into a video YouTube likes, and a thumbnail, with ffmpeg.

The still parts (brand, title, artist, site) are drawn once into a picture; the video loops
that picture under a moving waveform of the stem, so each frame costs one overlay, not a
redraw of every text. Every ffmpeg run's exit code is checked.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from core.jobs.media import PROTOCOL_WHITELIST

WIDTH, HEIGHT = 1920, 1080
THUMB_WIDTH, THUMB_HEIGHT = 1280, 720
THUMB_MAX_BYTES = 2 * 1024 * 1024
AUDIO_RATE = 48000
AUDIO_BITRATE = "384k"
# The waveform's box on the 1920x1080 frame.
WAVE_X, WAVE_Y, WAVE_W, WAVE_H = 120, 590, 1680, 300
_MARGIN = 120
_STDERR_KEEP = 2000
_MAX_VOLUME = re.compile(r"max_volume:\s*(-?inf|-?[\d.]+) dB")


class RenderError(Exception):
    """ffmpeg could not render; `detail` holds the end of its stderr for the logs."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Card:
    """What the picture says and in which colours (hex, as the brand palette has them)."""

    brand: str
    title: str
    artist: str
    label: str  # "Instrumental" or "Acapella"
    site: str  # the address shown, e.g. "vocals-remover.com"
    background: str
    text: str
    accent: str


@dataclass(frozen=True)
class RenderOptions:
    """How to encode."""

    font: Path
    fps: int = 25
    preset: str = "superfast"
    threads: int = 0  # 0: ffmpeg decides
    timeout: float = 3600.0


def _run(cmd: list[str], what: str, timeout: float) -> str:
    """Run ffmpeg and return its stderr; raise RenderError on any failure."""
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except OSError as exc:
        raise RenderError(f"{what}: ffmpeg could not be run ({exc}).") from exc
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"{what}: ffmpeg took longer than {timeout:.0f} s.") from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise RenderError(
            f"{what}: ffmpeg exited with {done.returncode}.", stderr[-_STDERR_KEEP:].strip()
        )
    return stderr


def _ffmpeg(*args: str) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-y", *args]


def _input(path: Path) -> list[str]:
    # Only local files: a stem never makes ffmpeg open a URL.
    return ["-protocol_whitelist", PROTOCOL_WHITELIST, "-i", "file:" + str(path)]


def _stem_input(path: Path) -> Any:
    """Return the stem as an ffmpeg-python input, opened under the same whitelist as _input."""
    return ffmpeg.input("file:" + str(path), protocol_whitelist=PROTOCOL_WHITELIST)


def _compile(stream: Any, loglevel: str) -> list[str]:
    """Return the command line of an ffmpeg-python graph, with the flags of _ffmpeg()."""
    stream = stream.global_args("-nostdin", "-hide_banner", "-loglevel", loglevel)
    return [str(arg) for arg in stream.overwrite_output().compile()]


def peak_db(stem: Path, *, timeout: float = 600.0) -> float:
    """Return the loudest sample of an audio file in dBFS (-inf for digital silence)."""
    measure = _stem_input(stem).audio.filter("volumedetect").output("-", f="null")
    stderr = _run(_compile(measure, "info"), "Measuring the stem", timeout)
    match = _MAX_VOLUME.search(stderr)
    if match is None:
        raise RenderError("Measuring the stem: ffmpeg reported no volume.", stderr[-_STDERR_KEEP:])
    return float(match.group(1))


def _escape(value: str) -> str:
    """Escape a value for an ffmpeg filter graph option (filter, then graph level)."""
    for char in ("\\", ":", "'"):
        value = value.replace(char, "\\" + char)
    for char in ("\\", "'", "[", "]", ",", ";"):
        value = value.replace(char, "\\" + char)
    return value


def _colour(hex_colour: str) -> str:
    return "0x" + hex_colour.lstrip("#")


def _fit(text: str, size: int, width: int) -> tuple[str, int]:
    """Return the text and a font size that fits the width (DejaVu Bold is ~0.62 em a glyph)."""
    text = " ".join(text.split())
    smallest = int(size * 0.6)
    needed = int(width / (0.62 * max(len(text), 1)))
    if needed >= smallest:
        return text, min(size, needed)
    keep = int(width / (0.62 * smallest)) - 1
    return text[:keep].rstrip() + "…", smallest


def _card_filter(card: Card, font: Path, folder: Path) -> str:
    """Return the drawtext chain for the card; texts go through files, so nothing is parsed."""
    width = WIDTH - 2 * _MARGIN
    lines = [
        (card.brand, 52, 110, card.accent),
        (*_fit(card.title, 96, width), 250, card.text),
        (*_fit(card.artist, 64, width), 380, card.text),
        (f"{card.label} version", 44, 480, card.accent),
        (f"Make your own at {card.site}", 48, 960, card.text),
    ]
    parts = []
    for index, (text, size, y, colour) in enumerate(lines):
        path = folder / f"line{index}.txt"
        path.write_text(str(text), encoding="utf-8")
        parts.append(
            "drawtext="
            f"fontfile='{_escape(str(font))}':textfile='{_escape(str(path))}':expansion=none:"
            f"fontsize={size}:fontcolor={_colour(str(colour))}:x={_MARGIN}:y={y}"
        )
    return ",".join(parts)


def render_card(card: Card, dest: Path, options: RenderOptions) -> Path:
    """Draw the still picture (brand, title, artist, site) as a 1920x1080 PNG."""
    if not options.font.is_file():
        raise RenderError(f"The font {options.font} is missing (install fonts-dejavu-core).")
    with tempfile.TemporaryDirectory(prefix="card-") as tmp:
        graph = f"color=c={_colour(card.background)}:s={WIDTH}x{HEIGHT}:d=1," + _card_filter(
            card, options.font, Path(tmp)
        )
        _run(
            _ffmpeg(
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                graph,
                "-frames:v",
                "1",
                "-update",
                "1",
                "-f",
                "image2",
                str(dest),
            ),
            "Drawing the card",
            options.timeout,
        )
    return dest


def render_video(
    stem: Path, card_png: Path, dest: Path, options: RenderOptions, *, wave: str = "#ffffff"
) -> Path:
    """Encode the card and a moving waveform of the stem as H.264 High + AAC-LC, faststart."""
    fps = options.fps
    # The card is decoded once and repeated in memory (a looped image input would decode the
    # PNG again for every frame); the waveform is blended onto its box only.
    graph = (
        f"[0:v]format=yuv420p,loop=loop=-1:size=1:start=0,setpts=N/{fps}/TB[card];"
        f"[1:a]aformat=channel_layouts=mono,"
        f"showwaves=s={WAVE_W}x{WAVE_H}:mode=cline:rate={fps}:colors={_colour(wave)}[wave];"
        f"[card][wave]overlay={WAVE_X}:{WAVE_Y}:shortest=1:format=yuv420,fps={fps}[v]"
    )
    part = dest.with_name(dest.name + ".part")
    threads = ["-threads", str(options.threads)] if options.threads else []
    cmd = _ffmpeg(
        "-loglevel",
        "error",
        "-i",
        str(card_png),
        *_input(stem),
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        "1:a:0",
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        options.preset,
        "-tune",
        "stillimage",
        "-crf",
        "20",
        # A closed GOP of two seconds and two B-frames, as YouTube's upload guide asks.
        "-g",
        str(2 * fps),
        "-bf",
        "2",
        "-flags",
        "+cgop",
        "-c:a",
        "aac",
        "-profile:a",
        "aac_low",
        "-b:a",
        AUDIO_BITRATE,
        "-ar",
        str(AUDIO_RATE),
        "-ac",
        "2",
        *threads,
        "-shortest",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(part),
    )
    try:
        _run(cmd, "Rendering the video", options.timeout)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def render_thumbnail(
    stem: Path, card_png: Path, dest: Path, options: RenderOptions, *, wave: str = "#ffffff"
) -> Path:
    """Write a 1280x720 JPEG of the card with the whole stem's waveform, under 2 MB."""
    # A graph of named steps reads better than a labelled filter string: the stem's waveform
    # as a picture, laid over the card's box, scaled down to a JPEG-friendly frame.
    waveform = (
        _stem_input(stem)
        .audio.filter("aformat", channel_layouts="mono")
        .filter("showwavespic", s=f"{WAVE_W}x{WAVE_H}", colors=_colour(wave))
    )
    picture = (
        ffmpeg.input(str(card_png))
        .overlay(waveform, x=WAVE_X, y=WAVE_Y)
        .filter("scale", THUMB_WIDTH, THUMB_HEIGHT)
        .filter("format", "yuvj420p")
    )
    for quality in (3, 6, 10, 16):
        jpeg = picture.output(
            str(dest), vframes=1, update=1, f="image2", vcodec="mjpeg", **{"q:v": quality}
        )
        _run(_compile(jpeg, "error"), "Rendering the thumbnail", options.timeout)
        if dest.stat().st_size < THUMB_MAX_BYTES:
            return dest
    raise RenderError("The thumbnail stays over 2 MB even at low quality.")


def render_all(stem: Path, card: Card, folder: Path, options: RenderOptions) -> tuple[Path, Path]:
    """Render the video and the thumbnail of a stem into a folder; return their paths."""
    card_png = render_card(card, folder / "card.png", options)
    video = render_video(stem, card_png, folder / "video.mp4", options, wave=card.accent)
    thumbnail = render_thumbnail(
        stem, card_png, folder / "thumbnail.jpg", options, wave=card.accent
    )
    return video, thumbnail


def render_preview(
    stem: Path, dest: Path, *, seconds: float = 30.0, timeout: float = 600.0
) -> Path:
    """Write the first seconds of the stem as an MP3 for the song's page, fading out."""
    fade = min(3.0, seconds / 4)
    part = dest.with_name(dest.name + ".part")
    cmd = _ffmpeg(
        "-loglevel", "error", *_input(stem), "-t", f"{seconds:.3f}",
        "-af", f"afade=t=out:st={seconds - fade:.3f}:d={fade:.3f}",
        "-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-ac", "2", "-f", "mp3", str(part),
    )  # fmt: skip
    try:
        _run(cmd, "Rendering the preview", timeout)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    return dest
