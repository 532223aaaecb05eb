"""Spleeter's two U-Nets as OpenVINO IR: the conversion, its check, and the network running it.

The IR is made from the checkpoint's own graph (`freeze.py`), so the checkpoint stays the single
source of the weights. A conversion is accepted only if the IR, loaded back from disk and run in
float32, gives the same estimates as TensorFlow on a fixed input (CHECK_MIN_DB or better).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import model_store
from .errors import ErrorCode, SeparationError
from .network import OUTPUT_TENSORS, SpleeterNetwork, cpu_has_bfloat16

# Float32 OpenVINO against float32 TensorFlow: measured above 100 dB; anything wrong in the graph
# (a branch of the training phase, a weight, an output swapped) is far below.
CHECK_MIN_DB = 80.0
CHECK_SEED = 2024
CHECK_SEGMENTS = 2  # a batch above one checks that the batch dimension stayed dynamic
DEVICE = "CPU"
# Batches up to this size get a model compiled for their static shape; larger ones share one
# dynamic-batch model.
MAX_STATIC_BATCH = 4


def check_input(segments: int = CHECK_SEGMENTS) -> np.ndarray:
    """Return the fixed (segments, 512, 1024, 2) magnitudes both runtimes are compared on."""
    rng = np.random.default_rng(CHECK_SEED)
    # Magnitudes like a song's: non-negative, louder in the low bins.
    tilt = (1.0 / np.sqrt(1.0 + np.arange(1024, dtype=np.float32)))[None, None, :, None]
    return (rng.exponential(3.0, size=(segments, 512, 1024, 2)) * tilt).astype(np.float32)


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Return the signal-to-error ratio of `estimate` against `reference` in dB."""
    ref = reference.astype(np.float64)
    err = float(np.sum((ref - estimate.astype(np.float64)) ** 2))
    return float(10 * np.log10(float(np.sum(ref**2)) / max(err, 1e-300)))


def convert(model_dir: Path, staging: Path, *, threads: int) -> dict[str, object]:
    """Write the checked IR (model_store.IR_XML and IR_BIN) into `staging`; return its record.

    Raises ValueError when the converted network does not match TensorFlow's.
    """
    import openvino as ov

    from .freeze import freeze
    from .ov_rewrite import rewrite_tails

    frozen = staging / "frozen.pb"
    frozen.write_bytes(freeze(model_dir).SerializeToString())
    model = ov.Core().read_model(str(frozen))
    # The U-Nets' full-resolution tails at half resolution: the same output, faster on CPU.
    tails = rewrite_tails(model)
    # compress_to_fp16=False: the weights stay float32; the runtime picks the arithmetic.
    ov.save_model(model, str(staging / model_store.IR_XML), compress_to_fp16=False)
    frozen.unlink()
    magnitudes = check_input()
    tensorflow = SpleeterNetwork(model_dir, threads=threads, bfloat16=False)
    try:
        expected = tensorflow(magnitudes)
    finally:
        tensorflow.close()
    got = OpenVinoNetwork(staging / model_store.IR_XML, threads=threads, bfloat16=False)(magnitudes)
    scores = {
        name.split("_")[0]: round(snr_db(e, g), 1)
        for name, e, g in zip(OUTPUT_TENSORS, expected, got, strict=True)
    }
    if min(scores.values()) < CHECK_MIN_DB:
        raise ValueError(
            f"the OpenVINO network differs from TensorFlow's ({scores} dB, "
            f"under {CHECK_MIN_DB:.0f} dB)"
        )
    return {
        "openvino": ov.get_version(),
        "rewritten_tails": tails,
        "check": {"input_seed": CHECK_SEED, "segments": CHECK_SEGMENTS, "snr_db": scores},
    }


class OpenVinoNetwork:
    """Load the IR once and map magnitude segments to the two stem estimates."""

    runtime = "openvino"

    def __init__(self, xml: Path, *, threads: int, bfloat16: bool = False) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise SeparationError(ErrorCode.INTERNAL, "OpenVINO is not installed.") from exc
        # OpenVINO picks bfloat16 by itself on CPUs that have it, so float32 is asked for
        # explicitly; bfloat16 only where the CPU computes it natively.
        native = bfloat16 and cpu_has_bfloat16()
        self.precision = "bfloat16" if native else "float32"
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if native else "f32",
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
        }
        self._config = config
        # One compiled model per batch size: with static shapes OpenVINO plans every layer for
        # the size and runs 10 to 15% faster than the dynamic-batch model (measured, bfloat16);
        # the pipeline only ever feeds 1 to batch_segments segments.
        self._compiled: dict[int, tuple[Any, list[Any]]] = {}
        try:
            self._core = ov.Core()
            self._model = self._core.read_model(str(xml))
            self._request_for(1)  # compiles now: an invalid model fails at start-up
        except RuntimeError as exc:  # what OpenVINO raises for unreadable or invalid models
            raise SeparationError(
                ErrorCode.MODEL_CORRUPT, f"The OpenVINO model {xml} could not be loaded."
            ) from exc

    def _request_for(self, batch: int) -> tuple[Any, list[Any]]:
        """Return the infer request and outputs of the model compiled for `batch` segments."""
        key = batch if batch <= MAX_STATIC_BATCH else 0  # 0: the dynamic-batch model
        if key not in self._compiled:
            model = self._model
            if key:
                model = model.clone()
                model.reshape({0: [key, *self._model.input(0).get_partial_shape()[1:]]})
            compiled = self._core.compile_model(model, DEVICE, self._config)
            # By name: the converter does not keep the graph's output order.
            outputs = [compiled.output(name) for name in OUTPUT_TENSORS]
            self._compiled[key] = (compiled.create_infer_request(), outputs)
        return self._compiled[key]

    def __call__(self, magnitudes: np.ndarray) -> list[np.ndarray]:
        """Return [vocals, accompaniment] estimates, each shaped like `magnitudes`."""
        batch = np.ascontiguousarray(magnitudes, dtype=np.float32)
        try:
            request, outputs = self._request_for(len(batch))
            # share_inputs: the request reads the array in place (it lives until infer returns).
            request.infer({0: batch}, share_inputs=True)
        except RuntimeError as exc:
            raise SeparationError(
                ErrorCode.INTERNAL, "The separation model failed to run."
            ) from exc
        # Copies: the request's output tensors are overwritten by the next call, while the
        # pipeline still turns these estimates into audio on another thread.
        return [np.array(request.get_tensor(out).data) for out in outputs]

    def close(self) -> None:
        """Free the compiled models."""
        self._compiled.clear()
