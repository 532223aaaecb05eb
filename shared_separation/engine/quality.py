"""The high-quality mode: overlapping segments, Spleeter's Wiener filter, full band.

Three changes to the standard (official-equal) output, each measured by `bench/quality.py`:

- Spleeter's U-Nets see independent 512-frame segments and do worse near a segment's edges. Here
  the segments overlap: they start every `hop_frames` frames (384: a third more network work),
  and each frame's estimate is the mean of the segments that cover it, weighted by how far the
  frame sits from each segment's edges (the square root of a triangle), so every frame leans on
  the estimate in which it has the most context on both sides.
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
# Segment hop: 384 frames (segments overlap by 128) measured as well as a full second
# segmentation shifted by half a segment (hop 256, twice the network work), within 0.02 dB on the
# tuning songs, for a third more network work (README, "Separation quality"). 512: no overlap.
DEFAULT_HOP_FRAMES = 384
HOP_CHOICES = (128, 256, 320, 384, 448, 512)
# The weight of a segment's estimate at a frame: (distance to the nearer edge) ** WEIGHT_POWER.
# 0.5 measured +0.01 dB over 1 (the triangle) and 0.02 over 2 on the tuning songs.
WEIGHT_POWER = 0.5
WIENER_CHUNK = 32  # frames filtered at a time
# The band above 11 kHz: the vocals take this fraction of the power share the filtered vocals
# have in the top TOP_BINS estimated bins (per frame and channel); 0 gives it all to the
# accompaniment. See HighSettings.
HIGH_BAND_SHARE = 0.0
TOP_BINS = 64


@dataclass(frozen=True)
class HighSettings:
    """The high mode's settings that cost no network work (bench/quality.py --ablations)."""

    weight_power: float = WEIGHT_POWER
    high_band_share: float = HIGH_BAND_SHARE
    top_bins: int = TOP_BINS


class Quality(enum.StrEnum):
    """Separation quality modes."""

    STANDARD = "standard"  # equal to the official Spleeter output
    HIGH = "high"  # same weights, better separation (see this module's docstring)


def segment_weights(power: float = WEIGHT_POWER) -> np.ndarray:
    """Return the (512, 1, 1) weight of a segment's estimate at each of its frames."""
    t = np.arange(spectral.SEGMENT_FRAMES, dtype=np.float64) + 0.5
    edge = np.minimum(t, spectral.SEGMENT_FRAMES - t) / (spectral.SEGMENT_FRAMES / 2)
    return (edge**power).astype(np.float32)[:, None, None]


def split_full_band(
    full: np.ndarray, vocals: np.ndarray, settings: HighSettings
) -> list[np.ndarray]:
    """Return [vocals, accompaniment] at full band from the filtered low-band vocals.

    `full` is the mixture's (2, frames, 2049) spectrum (overwritten: it becomes the
    accompaniment), `vocals` the filtered (2, frames, 1024) vocals. Above 11 kHz the vocals take
    `high_band_share` times their power share in the top estimated bins; the accompaniment is
    the mixture minus the vocals, so the stems add up to the mixture.
    """
    low = spectral.NETWORK_BINS
    share = settings.high_band_share
    if share <= 0:
        full[:, :, :low] -= vocals
        return [vocals, full]
    top = slice(low - settings.top_bins, low)
    power = np.square(np.abs(full[:, :, top])).sum(axis=2)
    ratio = np.square(np.abs(vocals[:, :, top])).sum(axis=2) / (power + EPS)
    gain = (np.float32(share) * np.clip(ratio, 0, 1)).astype(np.float32)[:, :, None]
    out = np.empty(full.shape, np.complex64)
    out[:, :, :low] = vocals
    out[:, :, low:] = full[:, :, low:] * gain
    full -= out
    return [out, full]


def segments(magnitudes: np.ndarray, count: int, hop: int) -> np.ndarray:
    """Cut `count` 512-frame segments every `hop` frames from (2, frames, 1024) magnitudes."""
    out = np.empty((count, spectral.SEGMENT_FRAMES, spectral.NETWORK_BINS, 2), np.float32)
    for j in range(count):
        out[j] = magnitudes[:, j * hop : j * hop + spectral.SEGMENT_FRAMES].transpose(1, 2, 0)
    return out


@dataclass
class OverlapAdd:
    """Average overlapping segment estimates; carries the overlap into the next block."""

    hop: int
    power: float = WEIGHT_POWER
    weights: np.ndarray = field(init=False)
    # Each stem's weighted sum over the frames the next block shares, and their summed weight.
    carried: list[np.ndarray] | None = None
    carried_weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.weights = segment_weights(self.power)

    def apply(self, estimates: list[np.ndarray], n_frames: int, has_next: bool) -> list[np.ndarray]:
        """Return each stem's (2, n_frames, 1024) estimate from its (segments, 512, 1024, 2)."""
        count = estimates[0].shape[0]
        span = (count - 1) * self.hop + spectral.SEGMENT_FRAMES
        weight = np.zeros((span, 1, 1), np.float32)
        for j in range(count):
            weight[j * self.hop : j * self.hop + spectral.SEGMENT_FRAMES] += self.weights
        if self.carried_weight is not None:
            weight[: len(self.carried_weight)] += self.carried_weight
        out, carried = [], []
        for k, estimate in enumerate(estimates):
            total = np.zeros((span, spectral.NETWORK_BINS, 2), np.float32)
            for j in range(count):
                total[j * self.hop : j * self.hop + spectral.SEGMENT_FRAMES] += (
                    estimate[j] * self.weights
                )
            if self.carried is not None:
                total[: len(self.carried[k])] += self.carried[k]
            mean = total[:n_frames] / weight[:n_frames]
            out.append(np.ascontiguousarray(mean.transpose(2, 0, 1)))
            carried.append(total[n_frames:])
        if has_next:
            self.carried, self.carried_weight = carried, weight[n_frames:]
        else:
            self.carried = self.carried_weight = None
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
        n_frames = mixture.shape[1]
        # Two passes over the block in cache-sized chunks (the whole block's temporaries are
        # tens of MB, and this ran 2x slower through memory): the sums first, then the filter.
        block_sums = [np.zeros((5, mixture.shape[2]), dtype=f32) for _ in estimates]
        peak = 0.0
        for lo in range(0, n_frames, WIENER_CHUNK):
            part = _Chunk(mixture, estimates, lo)
            peak = max(peak, float(part.energy.max()))
            re, im = part.re, part.im
            cross_re = re[0] * re[1] + im[0] * im[1]  # x0 conj(x1)
            cross_im = im[0] * re[1] - re[0] * im[1]
            for j, mask in enumerate(part.masks):
                weighted = np.square(mask) * part.energy  # |y_j|^2 per channel
                both = mask[0] * mask[1]
                sums = block_sums[j]
                sums[:2] += weighted.sum(axis=1)
                sums[2] += (both * cross_re).sum(axis=0)
                sums[3] += (both * cross_im).sum(axis=0)
        for sums in block_sums:
            sums[4] = (sums[0] + sums[1]) * f32(0.5)  # the power: the mean over channels
        # norbert divides the mixture by this so that the regularisation is relative to it;
        # every sum is quadratic in the mixture, so it is applied to the sums afterwards.
        scale = f32(max(1.0, np.sqrt(peak) / 10))
        inverse = f32(1) / np.square(scale)
        stats = []
        for j, block in enumerate(block_sums):
            block *= inverse
            if len(self.sums) <= j:
                self.sums.append(block)
            else:
                self.sums[j] = self.sums[j] + block
            stats.append(self.sums[j][:4] / (f32(EPS) + self.sums[j][4]))
        reg = f32(np.sqrt(EPS))
        (r00, r11, r_re, r_im), (s00, s11, s_re, s_im) = stats
        out = np.empty(mixture.shape, dtype=np.complex64)
        half = f32(0.5) * inverse
        for lo in range(0, n_frames, WIENER_CHUNK):
            part = _Chunk(mixture, estimates, lo)
            e0, e1 = part.energy
            # Each source's power: the mean over channels of |y_j|^2, in norbert's scaling.
            p0, p1 = ((np.square(m[0]) * e0 + np.square(m[1]) * e1) * half for m in part.masks)
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
            re, im = part.re, part.im
            # q also undoes the scaling (the mixture here is the unscaled one).
            hi = lo + re.shape[1]
            for c, (a_re, a_im, b_re, b_im) in enumerate(
                ((g00_re, g00_im, g01_re, g01_im), (g10_re, g10_im, g11_re, g11_im))
            ):
                out[c, lo:hi].real = (a_re * re[0] - a_im * im[0] + b_re * re[1] - b_im * im[1]) * q
                out[c, lo:hi].imag = (a_re * im[0] + a_im * re[0] + b_re * im[1] + b_im * re[1]) * q
        return out


class _Chunk:
    """One chunk of frames of a block: the mixture's parts and powers, and the softmasks."""

    def __init__(self, mixture: np.ndarray, estimates: list[np.ndarray], lo: int) -> None:
        f32 = np.float32
        hi = lo + WIENER_CHUNK
        x = mixture[:, lo:hi]
        self.re = np.ascontiguousarray(x.real, dtype=f32)
        self.im = np.ascontiguousarray(x.imag, dtype=f32)
        re, im = self.re, self.im
        self.energy = np.square(re) + np.square(im)  # (2, frames, bins), unscaled
        chunk = [e[:, lo:hi] for e in estimates]
        total = chunk[0] + chunk[1] + f32(EPS)
        self.masks = [e / total for e in chunk]  # norbert's softmask initialisation
