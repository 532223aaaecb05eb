"""Pick the runtime of the network: OpenVINO IR when it was provisioned, else TensorFlow."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from . import model_store
from .errors import SeparationError
from .network import SpleeterNetwork

logger = logging.getLogger(__name__)

RUNTIMES = ("auto", "tensorflow", "openvino")


class Network(Protocol):
    """What the pipeline runs: magnitudes (segments, 512, 1024, 2) in, [vocals, accompaniment]."""

    runtime: str
    precision: str

    def __call__(self, magnitudes: np.ndarray) -> list[np.ndarray]: ...

    def close(self) -> None: ...


def load_network(
    model_root: Path, *, runtime: str, threads: int, bfloat16: bool, checksums: bool = True
) -> Network:
    """Load the network for a runtime setting; `auto` falls back to TensorFlow with a warning.

    `openvino` requires the checked IR of the provisioning step and raises SeparationError
    without it; `auto` uses it when it is present and intact.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; expected one of {RUNTIMES}")
    folder = model_store.model_path(model_root)
    if runtime != "tensorflow":
        try:
            xml = model_store.verify_openvino(model_root, checksums=checksums)
            from .openvino_ir import OpenVinoNetwork

            return OpenVinoNetwork(xml, threads=threads, bfloat16=bfloat16)
        except SeparationError as exc:
            if runtime == "openvino":
                raise
            logger.warning("the OpenVINO network cannot be used (%s); running TensorFlow", exc)
    return SpleeterNetwork(folder, threads=threads, bfloat16=bfloat16)
