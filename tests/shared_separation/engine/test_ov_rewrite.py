"""The half-resolution rewrite of the U-Nets' tails: the same estimates, from other ops."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import model_store, ov_rewrite
from shared_separation.engine.network import OUTPUT_TENSORS
from shared_separation.engine.openvino_ir import CHECK_MIN_DB, check_input, snr_db
from shared_separation.engine.ov_rewrite import rewrite_tails

pytestmark = pytest.mark.slow


def _run(model: object, magnitudes: np.ndarray) -> list[np.ndarray]:
    """Return the model's two estimates in float32 on two threads."""
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2}
    compiled = ov.Core().compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    request.infer({0: magnitudes})
    return [np.array(request.get_tensor(compiled.output(name)).data) for name in OUTPUT_TENSORS]


def _types(model: object) -> list[str]:
    return [node.get_type_name() for node in model.get_ordered_ops()]  # type: ignore[attr-defined]


@pytest.mark.parametrize("nhwc", [True, False], ids=["nhwc-multiply", "depth-to-space"])
def test_the_rewritten_tails_give_the_same_estimates(
    tmp_path: Path, model_root: Path, monkeypatch: pytest.MonkeyPatch, nhwc: bool
) -> None:
    import openvino as ov

    from shared_separation.engine.freeze import freeze

    frozen = tmp_path / "frozen.pb"
    frozen.write_bytes(freeze(model_store.model_path(model_root)).SerializeToString())
    original = ov.Core().read_model(str(frozen))
    rewritten = ov.Core().read_model(str(frozen))

    if not nhwc:  # the DepthToSpace form, for graphs without the converter's Transposes
        monkeypatch.setattr(ov_rewrite, "_to_nhwc", lambda *_: False)
    assert rewrite_tails(rewritten) == 2
    assert ("DepthToSpace" in _types(rewritten)) is not nhwc
    # Each tail's transposed convolution to one channel and its dilated convolution are gone.
    assert _types(original).count("ConvolutionBackpropData") == 12
    assert _types(rewritten).count("ConvolutionBackpropData") == 10
    assert "SpaceToBatch" not in _types(rewritten)

    magnitudes = check_input()
    for name, expected, got in zip(
        OUTPUT_TENSORS, _run(original, magnitudes), _run(rewritten, magnitudes), strict=True
    ):
        assert got.shape == magnitudes.shape
        assert snr_db(expected, got) >= CHECK_MIN_DB, name


def test_a_model_without_the_tail_is_left_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    import openvino as ov
    import openvino.opset13 as ops

    source = ops.parameter([1, 4, 8, 8], ov.Type.f32)
    weights = ops.constant(np.ones((4, 1, 5, 5), np.float32))
    up = ops.convolution_backprop_data(source, weights, [2, 2], [1, 1], [2, 2])
    model = ov.Model([ops.relu(up)], [source])
    before = _types(model)
    with caplog.at_level(logging.WARNING, logger="shared_separation.engine.ov_rewrite"):
        assert rewrite_tails(model) == 0
    assert _types(model) == before
    assert "no U-Net tail found" in caplog.text
