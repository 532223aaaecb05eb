"""Block-wise separation with the three stages overlapped on the machine's cores.

Stage 1 (a thread) reads decoded samples and computes the next block's STFT; stage 2 (the
caller's thread) runs the network, which releases the GIL inside TensorFlow; stage 3 (a thread)
turns the previous block's estimates into masks and audio. Blocks stay in order and the
overlap-add tail passes from one block to the next, so the output is the same as running the
stages one after another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import quality, spectral

Network = Callable[[np.ndarray], list[np.ndarray]]


@dataclass
class _Block:
    """One block of whole segments, ready for the network."""

    low: np.ndarray  # (2, frames, 1024) complex spectrum: the bins the masks apply to
    magnitudes: np.ndarray  # (segments, 512, 1024, 2): the network's input
    n_frames: int  # the frames this block finishes (its segments may read further)
    lo: int  # first and last output sample of this block to emit
    hi: int
    # The high-quality mode only: the full-band spectrum of the frames it finishes.
    full: np.ndarray | None = None
    has_next: bool = False


class _Front:
    """Cut the padded signal into blocks of `batch_segments` segments and take their STFT.

    Segments start every `hop` frames (512, the standard mode: back to back); with a shorter
    hop (the high mode) a block's last segment reads 512 - hop frames of the next block.
    """

    def __init__(
        self,
        blocks: Iterable[np.ndarray],
        batch_segments: int,
        workers: int,
        hop: int = spectral.SEGMENT_FRAMES,
        first_segments: int | None = None,
        full_band: bool = False,
    ) -> None:
        self.source = iter(blocks)
        self.batch_segments = batch_segments
        self.first_segments = min(first_segments or batch_segments, batch_segments)
        self.workers = workers
        self.hop = hop
        self.lookahead = spectral.SEGMENT_FRAMES - hop
        self.full_band = full_band
        # The padded signal starts with one frame of zeros, as in Spleeter.
        self.pending: list[np.ndarray] = [np.zeros((spectral.FRAME_LENGTH, 2), np.float32)]
        self.buffered = spectral.FRAME_LENGTH
        self.total_in = 0
        self.eof = False
        self.frame_index = 0
        self.emitted_until = spectral.FRAME_LENGTH  # padded index of the next sample to emit

    def next_block(self) -> _Block | None:
        """Return the next block, or None when the signal is exhausted."""
        step = spectral.FRAME_STEP
        # A shorter first block gets the first audio out sooner (live listeners).
        batch = self.first_segments if self.frame_index == 0 else self.batch_segments
        need = spectral.samples_needed(batch * self.hop + self.lookahead)
        while not self.eof and self.buffered < need:
            try:
                block = next(self.source)
            except StopIteration:
                self.eof = True
                break
            if len(block):
                block = np.asarray(block, dtype=np.float32)
                self.pending.append(block)
                self.buffered += len(block)
                self.total_in += len(block)
        segments = batch
        has_next = True  # the look-ahead was read, so the signal goes on past this block
        if self.eof:
            total_frames = math.ceil((self.total_in + spectral.FRAME_LENGTH) / step)
            remaining = total_frames - self.frame_index
            if self.total_in == 0 or remaining <= 0:
                return None
            segments = min(batch, math.ceil(remaining / self.hop))
            has_next = remaining > segments * self.hop
        n_frames = segments * self.hop
        stft_frames = n_frames + self.lookahead
        signal = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        want = spectral.samples_needed(stft_frames)
        if len(signal) < want:
            signal = np.concatenate([signal, np.zeros((want - len(signal), 2), np.float32)])
        spectrum = spectral.stft(signal, stft_frames, workers=self.workers)
        block_start = self.frame_index * step
        block_end = block_start + n_frames * step
        limit = block_end if not self.eof else min(block_end, self.total_in + spectral.FRAME_LENGTH)
        lo = max(self.emitted_until, block_start) - block_start
        hi = limit - block_start
        self.emitted_until = max(self.emitted_until, limit)
        self.frame_index += n_frames
        # Keep the samples the next frames still read (the 3072-sample overlap, and the
        # look-ahead of the high-quality mode).
        keep = signal[n_frames * step :]
        self.pending = [keep] if len(keep) else []
        self.buffered = len(keep)
        if self.lookahead:
            magnitudes = quality.segments(
                np.abs(spectrum[:, :, : spectral.NETWORK_BINS]), segments, self.hop
            )
        else:
            magnitudes = spectral.network_input(spectrum[:, :n_frames])
        return _Block(
            low=np.ascontiguousarray(spectrum[:, :n_frames, : spectral.NETWORK_BINS]),
            magnitudes=magnitudes,
            n_frames=n_frames,
            lo=lo,
            hi=hi,
            full=np.ascontiguousarray(spectrum[:, :n_frames]) if self.full_band else None,
            has_next=has_next,
        )


class _Back:
    """Apply the masks, invert, and carry the overlap-add tails from block to block."""

    def __init__(self, n_stems: int, workers: int) -> None:
        self.workers = workers
        self.tails = [np.zeros((2, spectral.OVERLAP), dtype=np.float32) for _ in range(n_stems)]

    def spectra(self, block: _Block, estimates: list[np.ndarray]) -> list[np.ndarray]:
        """Return each stem's masked spectrum: Spleeter's ratio masks on the low bins."""
        return [block.low * mask for mask in spectral.ratio_masks(estimates)]

    def audio(self, block: _Block, estimates: list[np.ndarray]) -> list[np.ndarray]:
        """Return each stem's (samples, 2) output for this block."""
        outs = []
        for k, spectrum in enumerate(self.spectra(block, estimates)):
            audio = spectral.istft(spectrum, workers=self.workers)
            audio[:, : spectral.OVERLAP] += self.tails[k]
            self.tails[k] = audio[:, block.n_frames * spectral.FRAME_STEP :].copy()
            outs.append(np.ascontiguousarray(audio[:, block.lo : block.hi].T))
        return outs


class _HighBack(_Back):
    """The high-quality mode: average the overlapping segments, Wiener-filter, full band."""

    def __init__(
        self, n_stems: int, workers: int, hop: int, settings: quality.HighSettings
    ) -> None:
        super().__init__(n_stems, workers)
        self.settings = settings
        self.overlap = quality.OverlapAdd(hop, settings.weight_power)
        self.wiener = quality.WienerFilter()

    def spectra(self, block: _Block, estimates: list[np.ndarray]) -> list[np.ndarray]:
        """Return [vocals, accompaniment]: filtered vocals, and the mixture minus them."""
        assert block.full is not None
        blended = self.overlap.apply(estimates, block.n_frames, block.has_next)
        vocals = self.wiener.vocals(block.low, blended)
        return quality.split_full_band(block.full, vocals, self.settings)


def run(
    blocks: Iterable[np.ndarray],
    network: Network,
    *,
    n_stems: int,
    batch_segments: int,
    workers: int,
    overlap: bool = True,
    hop_frames: int | None = None,
    first_segments: int | None = None,
    high_settings: quality.HighSettings | None = None,
) -> Iterator[list[np.ndarray]]:
    """Yield each stem's output, block after block, for the input blocks.

    With `hop_frames`, the high-quality mode (`quality.py`) with segments starting that many
    frames apart; without, Spleeter's own output. `first_segments` makes the first block shorter.
    """
    fft_workers = 1 if overlap else workers
    high = hop_frames is not None
    hop = hop_frames or spectral.SEGMENT_FRAMES
    front = _Front(blocks, batch_segments, fft_workers, hop, first_segments, full_band=high)
    settings = high_settings or quality.HighSettings()
    back = _HighBack(n_stems, fft_workers, hop, settings) if high else _Back(n_stems, fft_workers)
    if not overlap:
        while (block := front.next_block()) is not None:
            outs = back.audio(block, network(block.magnitudes))
            if block.hi > block.lo:
                yield outs
        return
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="separation")
    try:
        upcoming: Future[_Block | None] = pool.submit(front.next_block)
        finishing: tuple[_Block, Future[list[np.ndarray]]] | None = None
        first = True
        while True:
            if first and finishing is not None:
                # The first block goes out before the second one's network runs, so that a live
                # listener hears audio one block earlier; later blocks keep the full overlap.
                first = False
                done, outs = finishing[0], finishing[1].result()
                finishing = None
                if done.hi > done.lo:
                    yield outs
            block = upcoming.result()
            if block is not None:
                upcoming = pool.submit(front.next_block)
                estimates = network(block.magnitudes)
            if finishing is not None:
                done, outs = finishing[0], finishing[1].result()
                finishing = None
                if done.hi > done.lo:
                    yield outs
            if block is None:
                return
            finishing = (block, pool.submit(back.audio, block, estimates))
    finally:
        # Let a running stage finish before the caller tears down (decoder, encoders).
        pool.shutdown(wait=True, cancel_futures=True)
