"""Spleeter's STFT framing, masks and inverse STFT, computed block by block.

Spleeter pads the waveform with one frame (4096 samples) of zeros, frames it with a periodic Hann
window (4096 samples, hop 1024, zero-padded at the end), feeds the magnitudes of the first 1024
bins to the network in independent 512-frame segments, turns the two estimates into ratio masks
(exponent 2), leaves the bins above 1024 at zero, and inverts with the same window times 2/3.
Because the segments are independent, a block of whole segments plus 3 frames of look-ahead
gives exactly the official result; only the 3072-sample overlap-add tail crosses blocks.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

FRAME_LENGTH = 4096
FRAME_STEP = 1024
SEGMENT_FRAMES = 512
NETWORK_BINS = 1024
SEPARATION_EXPONENT = 2
EPSILON = 1e-10
WINDOW_COMPENSATION = 2.0 / 3.0
OVERLAP = FRAME_LENGTH - FRAME_STEP
SEGMENT_SAMPLES = SEGMENT_FRAMES * FRAME_STEP

_WINDOW = scipy.signal.get_window("hann", FRAME_LENGTH, fftbins=True).astype(np.float32)
_SYNTHESIS = (_WINDOW * np.float32(WINDOW_COMPENSATION)).astype(np.float32)


def samples_needed(n_frames: int) -> int:
    """Return how many padded-signal samples `n_frames` frames read."""
    return (n_frames - 1) * FRAME_STEP + FRAME_LENGTH


def stft(signal: np.ndarray, n_frames: int, workers: int = 1) -> np.ndarray:
    """Frame a (samples, 2) block into a (2, n_frames, 2049) complex64 spectrum."""
    channels = np.ascontiguousarray(signal.T, dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(channels, FRAME_LENGTH, axis=1)
    frames = view[:, ::FRAME_STEP][:, :n_frames] * _WINDOW
    spectrum: np.ndarray = scipy.fft.rfft(frames, axis=-1, workers=workers)
    return spectrum.astype(np.complex64, copy=False)


def network_input(spectrum: np.ndarray) -> np.ndarray:
    """Return the network's (segments, 512, 1024, 2) magnitude input."""
    magnitude = np.abs(spectrum[:, :, :NETWORK_BINS])  # (2, frames, 1024)
    n_frames = magnitude.shape[1]
    return np.ascontiguousarray(magnitude.transpose(1, 2, 0)).reshape(
        n_frames // SEGMENT_FRAMES, SEGMENT_FRAMES, NETWORK_BINS, 2
    )


def ratio_masks(estimates: list[np.ndarray]) -> list[np.ndarray]:
    """Turn network estimates into Spleeter's ratio masks, shaped (2, frames, 1024)."""
    powered = [np.square(e, dtype=np.float32) for e in estimates]
    total = np.sum(powered, axis=0) + np.float32(EPSILON)
    share = np.float32(EPSILON / len(estimates))
    masks = []
    for p in powered:
        mask = (p + share) / total
        masks.append(mask.reshape(-1, NETWORK_BINS, 2).transpose(2, 0, 1))
    return masks


def istft(spectrum: np.ndarray, workers: int = 1) -> np.ndarray:
    """Invert a (2, frames, 1024) masked spectrum into (2, (frames + 3) * 1024) samples.

    The bins above 1024 are zero, as Spleeter's "zeros" mask extension leaves them.
    """
    frames = scipy.fft.irfft(spectrum, n=FRAME_LENGTH, axis=-1, workers=workers).astype(
        np.float32, copy=False
    )
    frames *= _SYNTHESIS
    n_frames = frames.shape[1]
    out = np.zeros((2, (n_frames + 3) * FRAME_STEP), dtype=np.float32)
    for k in range(FRAME_LENGTH // FRAME_STEP):
        part = frames[:, :, k * FRAME_STEP : (k + 1) * FRAME_STEP].reshape(2, -1)
        out[:, k * FRAME_STEP : k * FRAME_STEP + part.shape[1]] += part
    return out
