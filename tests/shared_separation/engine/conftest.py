"""Session-wide engine and official Spleeter, each loaded once (loading costs seconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from shared_separation.engine import SeparationEngine

OfficialSeparate = Callable[[str, np.ndarray], dict[str, np.ndarray]]


@pytest.fixture(scope="session")
def engine(model_root: Path) -> SeparationEngine:
    """The engine under test on TensorFlow, loaded once per session."""
    return SeparationEngine(model_root, runtime="tensorflow")


@pytest.fixture(scope="session")
def openvino_engine(openvino_root: Path) -> SeparationEngine:
    """The engine on the OpenVINO IR in float32, the arithmetic the official output uses."""
    return SeparationEngine(openvino_root, runtime="openvino", bfloat16=False)


@pytest.fixture(scope="session")
def official(model_root: Path) -> OfficialSeparate:
    """Return a cached `official(key, waveform)` running Spleeter's own Separator."""
    from spleeter.model.provider import ModelProvider
    from spleeter.separator import Separator

    # MODEL_PATH is read when spleeter's provider is imported; if something imported it earlier
    # with another value, point it at the provisioned model so that it never downloads.
    ModelProvider.DEFAULT_MODEL_PATH = str(model_root)
    separator = Separator("spleeter:2stems", multiprocess=False)
    cache: dict[str, dict[str, np.ndarray]] = {}

    def separate(key: str, waveform: np.ndarray) -> dict[str, np.ndarray]:
        if key not in cache:
            cache[key] = separator.separate(np.array(waveform, dtype=np.float32))
        return cache[key]

    return separate
