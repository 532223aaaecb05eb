"""The network's runtime: OpenVINO IR when provisioned and intact, else TensorFlow."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import ErrorCode, SeparationEngine, SeparationError, model_store
from shared_separation.engine.network import SpleeterNetwork
from shared_separation.engine.openvino_ir import OpenVinoNetwork, check_input, snr_db
from shared_separation.engine.runtime import load_network
from tests.shared_separation.audio import sdr, synth_song

pytestmark = pytest.mark.slow


def _root_with(tmp_path: Path, model_root: Path, ir_from: Path | None) -> Path:
    """A model root linking the checkpoint, with a copy of `ir_from`'s IR if given."""
    folder = model_store.model_path(tmp_path / "models")
    folder.mkdir(parents=True)
    for spec in model_store.MANIFEST:
        (folder / spec.name).symlink_to(model_store.model_path(model_root) / spec.name)
    if ir_from is not None:
        for name in (model_store.IR_XML, model_store.IR_BIN, model_store.IR_MANIFEST):
            shutil.copyfile(model_store.model_path(ir_from) / name, folder / name)
    return tmp_path / "models"


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_auto_runs_the_provisioned_ir(openvino_root: Path) -> None:
    engine = SeparationEngine(openvino_root)
    assert (engine.runtime, engine.precision) == ("openvino", "float32")


def test_without_ir_auto_warns_and_runs_tensorflow_while_openvino_is_refused(
    tmp_path: Path, model_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _root_with(tmp_path, model_root, None)
    with caplog.at_level(logging.WARNING, logger="shared_separation.engine.runtime"):
        network = load_network(root, runtime="auto", threads=1, bfloat16=False)
    assert network.runtime == "tensorflow"
    assert "OpenVINO network cannot be used" in caplog.text and "missing" in caplog.text
    with pytest.raises(SeparationError) as refused:
        load_network(root, runtime="openvino", threads=1, bfloat16=False)
    assert refused.value.code is ErrorCode.MODEL_MISSING
    assert "provision_model" in refused.value.message
    with pytest.raises(ValueError, match="unknown runtime"):
        load_network(root, runtime="onnx", threads=1, bfloat16=False)


def test_a_corrupt_ir_is_detected_and_never_run(
    tmp_path: Path, model_root: Path, openvino_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _root_with(tmp_path, model_root, openvino_root)
    assert model_store.verify_openvino(root).name == model_store.IR_XML
    weights = model_store.model_path(root) / model_store.IR_BIN
    _flip_byte(weights, weights.stat().st_size // 2)
    with pytest.raises(SeparationError) as corrupt:
        model_store.verify_openvino(root)
    assert corrupt.value.code is ErrorCode.MODEL_CORRUPT
    # Without checksums (verify_checksums=False) a size change is still caught.
    with weights.open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(SeparationError):
        model_store.verify_openvino(root, checksums=False)
    with pytest.raises(SeparationError) as refused:
        SeparationEngine(root, runtime="openvino")
    assert refused.value.code is ErrorCode.MODEL_CORRUPT
    with caplog.at_level(logging.WARNING, logger="shared_separation.engine.runtime"):
        assert SeparationEngine(root).runtime == "tensorflow"
    assert "corrupt" in caplog.text


def test_an_ir_made_by_an_older_converter_is_not_run(
    tmp_path: Path, model_root: Path, openvino_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An intact IR of another format (before the tail rewrite): provisioning must remake it."""
    root = _root_with(tmp_path, model_root, openvino_root)
    manifest_path = model_store.model_path(root) / model_store.IR_MANIFEST
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format"] == model_store.IR_FORMAT
    del manifest["format"]  # as the first converter wrote it
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(SeparationError) as outdated:
        model_store.verify_openvino(root)
    assert outdated.value.code is ErrorCode.MODEL_MISSING
    assert "older converter" in outdated.value.message
    with caplog.at_level(logging.WARNING, logger="shared_separation.engine.runtime"):
        assert SeparationEngine(root).runtime == "tensorflow"
    assert "older converter" in caplog.text


def test_an_ir_openvino_cannot_read_fails_with_its_cause(
    tmp_path: Path, model_root: Path, openvino_root: Path
) -> None:
    """Files that match their manifest but are not a model: MODEL_CORRUPT, chained."""
    root = _root_with(tmp_path, model_root, openvino_root)
    folder = model_store.model_path(root)
    (folder / model_store.IR_XML).write_text("<net><layers><layer id='0'/></net>")
    manifest = json.loads((folder / model_store.IR_MANIFEST).read_text())
    for entry in manifest["files"]:
        path = folder / entry["name"]
        entry["size"], entry["sha256"] = path.stat().st_size, model_store.sha256_file(path)
    (folder / model_store.IR_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(SeparationError) as failed:
        SeparationEngine(root, runtime="openvino")
    assert failed.value.code is ErrorCode.MODEL_CORRUPT
    assert isinstance(failed.value.__cause__, RuntimeError)


def test_openvino_runs_any_batch_and_matches_tensorflow(
    model_root: Path, openvino_root: Path
) -> None:
    """One to five segments per call: the float32 estimates agree."""
    ours = OpenVinoNetwork(model_store.verify_openvino(openvino_root), threads=2)
    theirs = SpleeterNetwork(model_store.model_path(model_root), threads=2)
    for segments in (1, 3, 5):
        magnitudes = check_input(segments)
        for a, b in zip(theirs(magnitudes), ours(magnitudes), strict=True):
            assert a.shape == b.shape == magnitudes.shape
            assert snr_db(a, b) > 80.0
    theirs.close()


@pytest.mark.parametrize("hop_frames", [384, 256])
def test_high_quality_mode_on_openvino_equals_tensorflow(
    openvino_engine: SeparationEngine,
    engine: SeparationEngine,
    hop_frames: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The high mode feeds overlapping segments: same output on either runtime."""
    song = np.asarray(synth_song(40.0, seed=7))
    results = []
    for each in (engine, openvino_engine):
        monkeypatch.setattr(each, "hop_frames", hop_frames)
        results.append(each.separate_waveform(song, quality="high"))
    theirs, ours = results
    for stem in engine.stems:
        assert ours[stem].shape == theirs[stem].shape == song.shape
        assert sdr(theirs[stem], ours[stem]) > 80.0
