"""Shared fixtures for the separation tests; the audio helpers live in audio.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared_separation.engine import model_store

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_ROOT = Path(os.environ.get("MODEL_ROOT", REPO_ROOT / "var" / "models"))
# Spleeter reads MODEL_PATH when its provider module is imported; point it at the provisioned
# checkpoint before anything imports spleeter, so the official Separator never tries to download.
os.environ.setdefault("MODEL_PATH", str(MODEL_ROOT))


@pytest.fixture(scope="session")
def model_root() -> Path:
    """The provisioned Spleeter model root (MODEL_ROOT)."""
    if not (MODEL_ROOT / "2stems" / "model.meta").is_file():
        pytest.fail(f"The model is not provisioned in {MODEL_ROOT}; run provision_model first.")
    return MODEL_ROOT


@pytest.fixture(scope="session")
def openvino_root(model_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model root with the checkpoint (linked) and its OpenVINO IR, converted once a session."""
    root = tmp_path_factory.mktemp("openvino-models")
    folder = model_store.model_path(root)
    folder.mkdir()
    for spec in model_store.MANIFEST:
        (folder / spec.name).symlink_to(model_store.model_path(model_root) / spec.name)
    assert model_store.provision_openvino(root, log=print)
    return root
