"""Real ffmpeg renders a short clip; ffprobe and the MP4 atoms say whether YouTube will like it."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from core.jobs.media import PROTOCOL_WHITELIST
from tests.audio import make_song
from tests.youtube_bot.conftest import silence
from youtube_bot import render


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def _top_level_atoms(path: Path) -> list[str]:
    """Return the MP4's top-level box types in file order."""
    atoms = []
    with path.open("rb") as fh:
        while header := fh.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0]
                fh.seek(size - 16, 1)
            else:
                fh.seek(size - 8, 1)
            atoms.append(kind.decode("latin-1"))
            if size == 0:
                break
    return atoms


CARD = render.Card(
    brand="Vocals Remover",
    title="A title with: colons, 'quotes', [brackets] and 100% \\ backslashes, quite long too",
    artist="Ünïcödé Artist; & Friends",
    label="Instrumental",
    site="vocals-remover.com",
    background="#3730a3",
    text="#ffffff",
    accent="#c7d2fe",
)


@pytest.fixture(scope="module")
def rendered_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("render")
    stem = make_song(folder / "stem.flac", 6.0)
    options = render.RenderOptions(font=Path(settings.YOUTUBE_FONT), fps=25)
    video, thumbnail = render.render_all(stem, CARD, folder, options)
    return stem, video, thumbnail


def test_video_is_h264_high_yuv420p_1080p_with_aac_lc_48k_stereo(
    rendered_files: tuple[Path, Path, Path],
) -> None:
    _stem, video, _thumb = rendered_files
    info = _probe(video)
    streams = {s["codec_type"]: s for s in info["streams"]}
    v, a = streams["video"], streams["audio"]
    assert (v["codec_name"], v["profile"], v["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (v["width"], v["height"]) == (1920, 1080)
    assert v["r_frame_rate"] == "25/1"
    assert (a["codec_name"], a["profile"]) == ("aac", "LC")
    assert (int(a["sample_rate"]), a["channels"]) == (48000, 2)
    # The encoder aims at 384 kbps; a short synthetic clip needs a little less.
    assert 250_000 <= int(a["bit_rate"]) <= 420_000
    assert "mp4" in info["format"]["format_name"]


def test_video_lasts_as_long_as_the_stem(rendered_files: tuple[Path, Path, Path]) -> None:
    _stem, video, _thumb = rendered_files
    assert float(_probe(video)["format"]["duration"]) == pytest.approx(6.0, abs=0.1)


def test_video_is_faststart(rendered_files: tuple[Path, Path, Path]) -> None:
    _stem, video, _thumb = rendered_files
    atoms = _top_level_atoms(video)
    assert "moov" in atoms and "mdat" in atoms
    assert atoms.index("moov") < atoms.index("mdat"), atoms


def test_thumbnail_is_a_1280x720_jpeg_under_2_mb(rendered_files: tuple[Path, Path, Path]) -> None:
    _stem, _video, thumb = rendered_files
    assert thumb.read_bytes()[:3] == b"\xff\xd8\xff"
    stream = _probe(thumb)["streams"][0]
    assert stream["codec_name"] == "mjpeg"
    assert (stream["width"], stream["height"]) == (1280, 720)
    assert thumb.stat().st_size < 2 * 1024 * 1024


def test_peak_tells_a_silent_stem_from_music(tmp_path: Path) -> None:
    assert render.peak_db(silence(tmp_path / "quiet.flac", 2.0)) < -80.0
    assert render.peak_db(make_song(tmp_path / "loud.flac", 2.0)) > -20.0


def test_a_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    options = render.RenderOptions(font=tmp_path / "nope.ttf")
    with pytest.raises(render.RenderError, match="fonts-dejavu-core"):
        render.render_card(CARD, tmp_path / "card.png", options)


def test_an_unreadable_stem_is_a_render_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(render.RenderError, match="exited with"):
        render.peak_db(bad)


def test_commands_built_with_ffmpeg_python_keep_the_input_guard(tmp_path: Path) -> None:
    stem = tmp_path / "stem.flac"
    measure = render._stem_input(stem).audio.filter("volumedetect").output("-", f="null")
    cmd = render._compile(measure, "info")
    # Only local files: the whitelist comes before the input, the input is a file: URL.
    at = cmd.index("-i")
    assert cmd[at - 2 : at + 2] == ["-protocol_whitelist", PROTOCOL_WHITELIST, "-i", f"file:{stem}"]
    assert {"-nostdin", "-hide_banner", "-y"} <= set(cmd)
