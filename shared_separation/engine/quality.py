"""The high-quality mode: cross-faded boundary segments, Spleeter's Wiener filter, full band.

Three changes to the standard (official-equal) output, each measured by `bench/quality.py`:

- Spleeter's U-Nets see independent 512-frame segments and do worse near a segment's edges. Extra
  network inputs centred on every segment boundary (`patch_frames` wide, packed side by side into
  512-frame inputs) give a second estimate there; the two are cross-faded with triangular weights
  that favour the boundary-centred one where the segment's own is weakest.
- Spleeter's multichannel Wiener filter (`Separator(..., MWF=True)`, norbert's `wiener` with one
  EM iteration) reimplemented in numpy for 2 channels and 2 sources, block by block. Norbert
  estimates each source's spatial covariance over the whole song; here it accumulates over the
  blocks seen so far, so memory stays bounded.
- The accompaniment is the mixture minus the vocals, at full band: Spleeter's masks leave the band
  above 11 kHz empty in both stems, and it belongs to the accompaniment far more often.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from . import spectral

EPS = float(np.finfo(np.float32).eps)  # norbert's default for complex64 input
# Patch width: 512 frames (a second segmentation, shifted by half a segment, near enough) gained
# +0.38 / +0.37 dB over the official output in bench/quality.py, for 1.58x the standard mode's
# CPU time (1.84x on a 3-minute song); 256 (two patches packed per network input) +0.24 / +0.23
# dB for 1.30x (1.45x) (README, "Separation quality").
DEFAULT_PATCH_FRAMES = 512


class Quality(enum.StrEnum):
    """Separation quality modes."""

    STANDARD = "standard"  # equal to the official Spleeter output
    HIGH = "high"  # same weights, better separation (see this module's docstring)


@dataclass
class Patches:
    """Boundary patches of one block, packed for the network."""

    packed: np.ndarray  # (n, 512, 1024, 2) network input, zero-filled after the last patch
    count: int
    width: int


def boundaries(n_frames: int, has_next: bool) -> list[int]:
    """Return the block-local segment boundaries that need a patch (inner ones and the end)."""
    inner = list(range(spectral.SEGMENT_FRAMES, n_frames, spectral.SEGMENT_FRAMES))
    return [*inner, n_frames] if has_next else inner


def pack_patches(magnitudes: np.ndarray, bounds: list[int], width: int) -> Patches:
    """Cut `width` frames around each boundary from (2, frames, 1024) magnitudes and pack them.

    `magnitudes` must reach `width // 2` frames past the last boundary.
    """
    half = width // 2
    per = spectral.SEGMENT_FRAMES // width
    rows = -(-len(bounds) // per) if bounds else 0
    packed = np.zeros((rows * per, width, spectral.NETWORK_BINS, 2), dtype=np.float32)
    for i, b in enumerate(bounds):
        packed[i] = magnitudes[:, b - half : b + half].transpose(1, 2, 0)
    packed = packed.reshape(rows, spectral.SEGMENT_FRAMES, spectral.NETWORK_BINS, 2)
    return Patches(packed=packed, count=len(bounds), width=width)


def unpack_patches(estimate: np.ndarray, patches: Patches) -> np.ndarray:
    """Return one stem's patch estimates as (count, 2, width, 1024)."""
    flat = estimate.reshape(-1, patches.width, spectral.NETWORK_BINS, 2)[: patches.count]
    return flat.transpose(0, 3, 1, 2)


def _triangle(width: int) -> np.ndarray:
    half = width // 2
    d = np.arange(-half, half, dtype=np.float32) + np.float32(0.5)
    return (1 - np.abs(d) / half).astype(np.float32)[None, :, None]


@dataclass
class CrossFade:
    """Blend segment estimates with boundary patches; carries the half patch past a block."""

    width: int
    carried: list[np.ndarray] | None = None  # each stem's (2, width // 2, 1024), next block's

    def apply(
        self, own: list[np.ndarray], patched: list[np.ndarray], bounds: list[int], has_next: bool
    ) -> list[np.ndarray]:
        """Return each stem's blended (2, frames, 1024) estimate for this block."""
        half = self.width // 2
        weight = _triangle(self.width)
        n_frames = own[0].shape[1]
        out = []
        for k, est in enumerate(own):
            est = est.copy()
            if self.carried is not None:
                w = weight[:, half:]
                est[:, :half] = (1 - w) * est[:, :half] + w * self.carried[k]
            for i, b in enumerate(bounds):
                lo, hi = b - half, min(b + half, n_frames)
                w = weight[:, : hi - lo]
                est[:, lo:hi] = (1 - w) * est[:, lo:hi] + w * patched[k][i, :, : hi - lo]
            out.append(est)
        if has_next and bounds:
            self.carried = [np.ascontiguousarray(p[len(bounds) - 1, :, half:]) for p in patched]
        else:
            self.carried = None
        return out


@dataclass
class WienerFilter:
    """Spleeter's MWF (norbert.wiener, 1 EM iteration) with covariances accumulated over blocks.

    Written out for 2 channels and 2 sources in real arithmetic (numpy's mixed complex and real
    products are several times slower): the softmask estimates are y_j = m_j x with real m_j,
    so their powers and cross terms come from |x|^2 and x0 conj(x1), computed once.
    """

    # Per source: sums over frames of |y0|^2, |y1|^2, Re and Im of y0 conj(y1), and the power.
    sums: list[np.ndarray] = field(default_factory=list)

    def vocals(self, mixture: np.ndarray, estimates: list[np.ndarray]) -> np.ndarray:
        """Return the filtered vocals (2, frames, bins) from the mixture and magnitude estimates.

        `mixture` is the complex (2, frames, bins) spectrum; estimates are [vocals,
        accompaniment] magnitudes of the same shape.
        """
        f32 = np.float32
        re = np.ascontiguousarray(mixture.real, dtype=f32)
        im = np.ascontiguousarray(mixture.imag, dtype=f32)
        energy = np.square(re) + np.square(im)  # (2, frames, bins)
        # norbert divides the mixture by this so that the regularisation is relative to it.
        scale = f32(max(1.0, float(np.sqrt(energy.max())) / 10))
        energy *= f32(1) / np.square(scale)
        cross_re = (re[0] * re[1] + im[0] * im[1]) / np.square(scale)  # x0 conj(x1)
        cross_im = (im[0] * re[1] - re[0] * im[1]) / np.square(scale)
        total = estimates[0] + estimates[1] + f32(EPS)
        powers, stats = [], []
        for j, est in enumerate(estimates):
            mask = est / total  # norbert's softmask initialisation
            weighted = np.square(mask) * energy  # |y_j|^2 per channel
            power = (weighted[0] + weighted[1]) * f32(0.5)
            both = mask[0] * mask[1]
            block = np.stack(
                [
                    weighted[0].sum(axis=0),
                    weighted[1].sum(axis=0),
                    (both * cross_re).sum(axis=0),
                    (both * cross_im).sum(axis=0),
                    power.sum(axis=0),
                ]
            )
            if len(self.sums) <= j:
                self.sums.append(block)
            else:
                self.sums[j] = self.sums[j] + block
            stats.append(self.sums[j][:4] / (f32(EPS) + self.sums[j][4]))
            powers.append(power)
        reg = f32(np.sqrt(EPS))
        (r00, r11, r_re, r_im), (s00, s11, s_re, s_im) = stats
        p0, p1 = powers
        # The mixture's model covariance C = p0 R0 + p1 R1 + reg I (Hermitian, c01 = u + iv).
        c00 = p0 * r00 + p1 * s00 + reg
        c11 = p0 * r11 + p1 * s11 + reg
        u = p0 * r_re + p1 * s_re
        v = p0 * r_im + p1 * s_im
        q = p0 / (c00 * c11 - np.square(u) - np.square(v))
        # The vocals' gain p0 R0 C^-1 with C^-1 = [[c11, -c01], [-conj(c01), c00]] / det.
        dot = r_re * u + r_im * v
        g00_re, g00_im = r00 * c11 - dot, r_re * v - r_im * u
        g01_re, g01_im = r_re * c00 - r00 * u, r_im * c00 - r00 * v
        g10_re, g10_im = r_re * c11 - r11 * u, r11 * v - r_im * c11
        g11_re, g11_im = r11 * c00 - dot, r_im * u - r_re * v
        # q also undoes the scaling (the mixture below is the unscaled one).
        out = np.empty(mixture.shape, dtype=np.complex64)
        for c, (a_re, a_im, b_re, b_im) in enumerate(
            ((g00_re, g00_im, g01_re, g01_im), (g10_re, g10_im, g11_re, g11_im))
        ):
            out[c].real = (a_re * re[0] - a_im * im[0] + b_re * re[1] - b_im * im[1]) * q
            out[c].imag = (a_re * im[0] + a_im * re[0] + b_re * im[1] + b_im * re[1]) * q
        return out
