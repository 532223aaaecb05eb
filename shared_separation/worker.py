"""The one engine of a worker process: checked when the worker starts, loaded once per child."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from shared_separation.engine import SeparationEngine, media, model_store
from shared_separation.engine.network import use_bfloat16

logger = logging.getLogger(__name__)

_engine: SeparationEngine | None = None
# Set when the worker starts: whether it consumes a separation queue (then it preloads the model).
serves_separation = False
_lock = threading.Lock()


def check_prerequisites() -> None:
    """Fail fast, without loading TensorFlow, if ffmpeg or the model is missing."""
    media.require_binaries("ffmpeg", "ffprobe")
    model_store.verify(settings.MODEL_ROOT, checksums=False)


def get_engine() -> SeparationEngine:
    """Return this process's engine, building it on first use."""
    global _engine
    with _lock:
        if _engine is None:
            logger.info(
                "loading the separation engine from %s (runtime setting %s, precision setting %s)",
                settings.MODEL_ROOT,
                settings.SEPARATION_RUNTIME,
                settings.SEPARATION_PRECISION,
            )
            _engine = SeparationEngine(
                settings.MODEL_ROOT,
                threads=settings.SEPARATION_THREADS or None,
                batch_segments=settings.SEPARATION_BATCH_SEGMENTS,
                bfloat16=use_bfloat16(settings.SEPARATION_PRECISION),
                runtime=settings.SEPARATION_RUNTIME,
            )
            logger.info("separation network: %s, %s", _engine.runtime, _engine.precision)
            started = time.monotonic()
            _engine.warm_up()
            logger.info("the network is warm (%.1f s)", time.monotonic() - started)
        return _engine
