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

from . import spectral

Network = Callable[[np.ndarray], list[np.ndarray]]


@dataclass
class _Block:
    """One block of whole segments, ready for the network."""

    low: np.ndarray  # (2, frames, 1024) complex spectrum: the bins the masks apply to
    magnitudes: np.ndarray  # (segments, 512, 1024, 2): the network's input
    n_frames: int
    lo: int  # first and last output sample of this block to emit
    hi: int


class _Front:
    """Cut the padded signal into blocks of `batch_segments` segments and take their STFT."""

    def __init__(self, blocks: Iterable[np.ndarray], batch_segments: int, workers: int) -> None:
        self.source = iter(blocks)
        self.batch_segments = batch_segments
        self.workers = workers
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
        batch_frames = self.batch_segments * spectral.SEGMENT_FRAMES
        need = spectral.samples_needed(batch_frames)
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
        if self.eof:
            total_frames = math.ceil((self.total_in + spectral.FRAME_LENGTH) / step)
            remaining = total_frames - self.frame_index
            if self.total_in == 0 or remaining <= 0:
                return None
            segments = min(self.batch_segments, math.ceil(remaining / spectral.SEGMENT_FRAMES))
            n_frames = segments * spectral.SEGMENT_FRAMES
        else:
            n_frames = batch_frames
        signal = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        want = spectral.samples_needed(n_frames)
        if len(signal) < want:
            signal = np.concatenate([signal, np.zeros((want - len(signal), 2), np.float32)])
        spectrum = spectral.stft(signal, n_frames, workers=self.workers)
        block_start = self.frame_index * step
        block_end = block_start + n_frames * step
        limit = block_end if not self.eof else min(block_end, self.total_in + spectral.FRAME_LENGTH)
        lo = max(self.emitted_until, block_start) - block_start
        hi = limit - block_start
        self.emitted_until = max(self.emitted_until, limit)
        self.frame_index += n_frames
        # Keep the samples the next frames still read (the 3072-sample overlap).
        keep = signal[n_frames * step :]
        self.pending = [keep] if len(keep) else []
        self.buffered = len(keep)
        return _Block(
            low=np.ascontiguousarray(spectrum[:, :, : spectral.NETWORK_BINS]),
            magnitudes=spectral.network_input(spectrum),
            n_frames=n_frames,
            lo=lo,
            hi=hi,
        )


class _Back:
    """Apply the masks, invert, and carry the overlap-add tails from block to block."""

    def __init__(self, n_stems: int, workers: int) -> None:
        self.workers = workers
        self.tails = [np.zeros((2, spectral.OVERLAP), dtype=np.float32) for _ in range(n_stems)]

    def audio(self, block: _Block, estimates: list[np.ndarray]) -> list[np.ndarray]:
        """Return each stem's (samples, 2) output for this block."""
        outs = []
        for k, mask in enumerate(spectral.ratio_masks(estimates)):
            audio = spectral.istft(block.low * mask, workers=self.workers)
            audio[:, : spectral.OVERLAP] += self.tails[k]
            self.tails[k] = audio[:, block.n_frames * spectral.FRAME_STEP :].copy()
            outs.append(np.ascontiguousarray(audio[:, block.lo : block.hi].T))
        return outs


def run(
    blocks: Iterable[np.ndarray],
    network: Network,
    *,
    n_stems: int,
    batch_segments: int,
    workers: int,
    overlap: bool = True,
) -> Iterator[list[np.ndarray]]:
    """Yield each stem's output, block after block, for the input blocks."""
    fft_workers = 1 if overlap else workers
    front = _Front(blocks, batch_segments, fft_workers)
    back = _Back(n_stems, fft_workers)
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
        while True:
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
