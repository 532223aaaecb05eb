"""The chunked STFT and inverse STFT against a plain float64 transcription of Spleeter's."""

from __future__ import annotations

import numpy as np
import pytest

from shared_separation.engine import spectral


def _frames(signal: np.ndarray, n_frames: int) -> np.ndarray:
    starts = np.arange(n_frames) * spectral.FRAME_STEP
    index = starts[:, None] + np.arange(spectral.FRAME_LENGTH)[None, :]
    return signal.T.astype(np.float64)[:, index]  # (2, frames, 4096)


# Frame counts below, at and across the chunk size, and the high mode's look-ahead sizes.
@pytest.mark.parametrize("n_frames", [1, 63, 64, 65, 512, 1024 + 32, 1024 + 256])
def test_stft_and_istft_equal_the_unchunked_transforms(n_frames: int) -> None:
    rng = np.random.default_rng(n_frames)
    signal = rng.standard_normal((spectral.samples_needed(n_frames), 2)).astype(np.float32)
    window = spectral._WINDOW.astype(np.float64)
    expected = np.fft.rfft(_frames(signal, n_frames) * window, axis=-1)

    spectrum = spectral.stft(signal, n_frames)

    assert spectrum.shape == expected.shape and spectrum.dtype == np.complex64
    assert np.abs(spectrum - expected).max() <= 1e-6 * np.abs(expected).max()

    low = spectrum[:, :, : spectral.NETWORK_BINS]
    frames = np.fft.irfft(low.astype(np.complex128), n=spectral.FRAME_LENGTH, axis=-1)
    frames *= spectral._SYNTHESIS.astype(np.float64)
    added = np.zeros((2, (n_frames + 3) * spectral.FRAME_STEP))
    for j in range(n_frames):
        added[:, j * spectral.FRAME_STEP : j * spectral.FRAME_STEP + spectral.FRAME_LENGTH] += (
            frames[:, j]
        )

    audio = spectral.istft(low)

    assert audio.shape == added.shape and audio.dtype == np.float32
    assert np.abs(audio - added).max() <= 1e-6 * np.abs(added).max()
