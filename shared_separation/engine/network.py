"""Spleeter's two U-Nets, run from the official checkpoint's own graph."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ErrorCode, SeparationError

INPUT_TENSOR = "strided_slice_3:0"
OUTPUT_TENSORS = ("vocals_spectrogram/mul:0", "accompaniment_spectrogram/mul:0")
STEMS = ("vocals", "accompaniment")
PRECISIONS = ("auto", "float32", "bfloat16")
# CPU flags (as Linux names them) of native bfloat16 arithmetic, which oneDNN uses for the convs.
BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Say whether this CPU computes bfloat16 natively; without it bfloat16 is only slower."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return not BFLOAT16_FLAGS.isdisjoint(value.split())
    return False


def use_bfloat16(precision: str, *, cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Resolve a precision setting (auto, float32, bfloat16) for this CPU."""
    if precision == "auto":
        return cpu_has_bfloat16(cpuinfo)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    return precision == "bfloat16"


class SpleeterNetwork:
    """Load the checkpoint once and map magnitude segments to the two stem estimates."""

    runtime = "tensorflow"

    def __init__(self, model_dir: Path, *, threads: int, bfloat16: bool = False) -> None:
        self.precision = "bfloat16" if bfloat16 else "float32"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        tf.compat.v1.disable_eager_execution()
        self._op_error = tf.errors.OpError  # what a failed session.run raises
        self._graph = tf.Graph()
        try:
            with self._graph.as_default():
                saver = tf.compat.v1.train.import_meta_graph(
                    str(model_dir / "model.meta"), clear_devices=True
                )
                self._input = self._graph.get_tensor_by_name(INPUT_TENSOR)
                self._outputs = [self._graph.get_tensor_by_name(n) for n in OUTPUT_TENSORS]
        except Exception as exc:  # protobuf's DecodeError, KeyError, ValueError, OSError...
            raise SeparationError(
                ErrorCode.MODEL_CORRUPT, f"The model graph in {model_dir} could not be loaded."
            ) from exc
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=threads,
            inter_op_parallelism_threads=1,
            allow_soft_placement=True,
        )
        if bfloat16:
            rewrite = config.graph_options.rewrite_options
            rewrite.auto_mixed_precision_onednn_bfloat16 = 1  # RewriterConfig.ON
        self._session = tf.compat.v1.Session(graph=self._graph, config=config)
        try:
            assert saver is not None
            saver.restore(self._session, str(model_dir / "model"))
        except Exception as exc:  # TensorFlow raises many unrelated types here.
            raise SeparationError(
                ErrorCode.MODEL_CORRUPT, f"The model weights in {model_dir} could not be restored."
            ) from exc

    def __call__(self, magnitudes: np.ndarray) -> list[np.ndarray]:
        """Return [vocals, accompaniment] estimates, each shaped like `magnitudes`."""
        try:
            results = self._session.run(self._outputs, feed_dict={self._input: magnitudes})
        except self._op_error as exc:
            raise SeparationError(
                ErrorCode.INTERNAL, "The separation model failed to run."
            ) from exc
        return [np.asarray(r, dtype=np.float32) for r in results]

    def close(self) -> None:
        """Free the session."""
        self._session.close()
