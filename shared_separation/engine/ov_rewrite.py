"""Rewrite each U-Net's full-resolution tail into an equivalent half-resolution (polyphase) form.

Spleeter ends each U-Net with `up6` (a stride-2 5x5 transposed convolution down to one channel),
ReLU, a batch-norm affine, `up7` (a 4x4 convolution with dilation 2 to two channels, sigmoid) and
the multiplication by the input. At 512x1024 with one or two channels these ops waste the CPU
plugin's blocked layouts: they cost about a quarter of the network for a fraction of its FLOPs.

Split the full-resolution map into its four phases (row parity p, column parity q):
- the transposed convolution is a plain 3x3 convolution on its input with one output channel per
  phase, each phase using its own subset of the 5x5 taps;
- ReLU and the one-channel affine act on every sample alike, so they act on each phase alike;
- the dilation-2 convolution reads, for output phase (p, q), only samples of one other phase, so
  it is a plain convolution from the four phase channels to (phase, channel) outputs;
- the sigmoid is elementwise; one transpose interleaves the phases into the NHWC mask, which
  multiplies the NHWC input directly (a DepthToSpace instead where the Transposes differ).
The result equals the original up to float rounding; `openvino_ir.convert` checks it against
TensorFlow like any IR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import openvino as ov
import openvino.opset13 as ops

logger = logging.getLogger(__name__)

# The elementwise ops allowed between the two convolutions and after the second one.
_BINARY = {"Add": ops.add, "Subtract": ops.subtract, "Multiply": ops.multiply, "Divide": ops.divide}
_UNARY = {"Relu": ops.relu, "Sigmoid": ops.sigmoid}


class _NoMatch(Exception):
    """The graph around a transposed convolution is not the tail this module rewrites."""


@dataclass
class _Step:
    """One elementwise op: its kind, and for a binary op the constant and its input position."""

    kind: str
    constant: np.ndarray | None = None
    constant_first: bool = False


@dataclass
class _Tail:
    """The matched ops of one tail, and what the rewrite needs from them."""

    source: ov.Output  # the transposed convolution's input, NCHW
    up_weights: np.ndarray  # (C_in, 1, K, K)
    up_pad: int  # TensorFlow 'same' padding before, for stride 2
    middle: list[_Step]  # elementwise ops on the one-channel full-resolution map
    dilated_weights: np.ndarray  # (C_out, 1, K, K), dilation 2
    dilated_pad: int  # 'same' padding before, for dilation 2
    after: list[_Step]  # elementwise ops on the C_out-channel map, before the multiplication
    multiply: ov.Node
    multiply_port: int  # the Multiply input the network's estimate comes in on


def _consumer(node: ov.Node) -> ov.Node:
    """Return the single consumer of `node`'s output, ignoring ShapeOf (TF's padding arithmetic)."""
    users = [
        t.get_node()
        for t in node.output(0).get_target_inputs()
        if t.get_node().get_type_name() != "ShapeOf"
    ]
    if len(users) != 1:
        raise _NoMatch(f"{node.get_friendly_name()} has {len(users)} consumers")
    return users[0]


def _constant(output: ov.Output) -> np.ndarray | None:
    """Return the value of `output` if a Constant produces it."""
    node = output.get_node()
    return np.array(node.get_data()) if node.get_type_name() == "Constant" else None


def _steps(producer: ov.Node, channels: int) -> tuple[list[_Step], ov.Node, int]:
    """Collect the per-channel elementwise ops after `producer`; return them, next op, its port."""
    steps: list[_Step] = []
    previous, node = producer, _consumer(producer)
    while True:
        kind = node.get_type_name()
        if kind in _UNARY:
            steps.append(_Step(kind))
        elif kind in _BINARY:
            values = [_constant(node.input_value(i)) for i in (0, 1)]
            value = values[0] if values[0] is not None else values[1]
            if value is None:  # two computed inputs: the mask times the input ends the tail
                break
            # Only per-channel constants (one value, or one per channel) commute with the phases.
            if value.ndim > 4 or value.size not in (1, channels) or value.size != max(value.shape):
                raise _NoMatch(f"{node.get_friendly_name()} is not a per-channel {kind}")
            steps.append(_Step(kind, value.reshape(-1).astype(np.float32), values[0] is not None))
        else:
            break
        previous, node = node, _consumer(node)
    name = previous.get_friendly_name()
    port = [
        node.input_value(i).get_node().get_friendly_name() for i in range(node.get_input_size())
    ]
    return steps, node, port.index(name)


def _match(deconv: ov.Node) -> _Tail:
    """Match the tail starting at the transposed convolution `deconv`, or raise _NoMatch."""
    attrs = deconv.get_attributes()
    weights = _constant(deconv.input_value(1))
    if (
        weights is None
        or weights.ndim != 4
        or weights.shape[1] != 1
        or weights.shape[2] != weights.shape[3]
        or list(attrs["strides"]) != [2, 2]
        or list(attrs["dilations"]) != [1, 1]
        or list(attrs["output_padding"]) != [0, 0]
    ):
        raise _NoMatch("not a stride-2 transposed convolution to one channel")
    # TensorFlow's 'same' for stride 2: output = 2 * input, padding K - 2 split low-first.
    up_pad = (weights.shape[2] - 2) // 2
    if list(attrs["pads_begin"]) != [up_pad, up_pad]:
        raise _NoMatch(f"pads {list(attrs['pads_begin'])}, not TensorFlow's 'same'")
    shape_in, shape_out = deconv.get_input_partial_shape(0), deconv.get_output_partial_shape(0)
    if any(not shape_in[i].is_static or not shape_out[i].is_static for i in (2, 3)):
        raise _NoMatch("dynamic spatial dimensions")
    height, width = shape_in[2].get_length(), shape_in[3].get_length()
    if [shape_out[2].get_length(), shape_out[3].get_length()] != [2 * height, 2 * width]:
        raise _NoMatch("the resolution is not doubled")

    middle, to_batch, _ = _steps(deconv, 1)
    conv = _consumer(to_batch) if to_batch.get_type_name() == "SpaceToBatch" else to_batch
    dilated = _constant(conv.input_value(1)) if conv.get_type_name() == "Convolution" else None
    from_batch = _consumer(conv)
    if (
        dilated is None
        or conv is to_batch
        or from_batch.get_type_name() != "BatchToSpace"
        or dilated.ndim != 4
        or dilated.shape[1] != 1
        or dilated.shape[2] != dilated.shape[3]
        or dilated.shape[2] % 2 != 0
        or list(conv.get_attributes()["strides"]) != [1, 1]
        or list(conv.get_attributes()["dilations"]) != [1, 1]
        or list(conv.get_attributes()["pads_begin"]) != [0, 0]
        or list(conv.get_attributes()["pads_end"]) != [0, 0]
    ):
        raise _NoMatch("no dilated convolution (SpaceToBatch, Convolution, BatchToSpace) follows")
    # TF's dilated 'same' convolution pads by 2(K-1), split evenly, into a block-2 SpaceToBatch,
    # then convolves 'valid' and crops nothing: the static shapes pin that down (the pads
    # themselves are computed at run time from the input's shape).
    size = dilated.shape[2]
    batched, restored = to_batch.get_output_partial_shape(0), from_batch.get_output_partial_shape(0)
    if (
        any(not batched[i].is_static or not restored[i].is_static for i in (2, 3))
        or [batched[2].get_length(), batched[3].get_length()]
        != [height + size - 1, width + size - 1]
        or [restored[2].get_length(), restored[3].get_length()] != [2 * height, 2 * width]
    ):
        raise _NoMatch("the SpaceToBatch is not a dilation-2 'same' padding")
    after, multiply, port = _steps(from_batch, dilated.shape[0])
    if multiply.get_type_name() != "Multiply":
        raise _NoMatch(f"{multiply.get_type_name()} instead of the multiplication by the input")
    return _Tail(
        deconv.input_value(0), weights, up_pad, middle, dilated, size - 1, after, multiply, port
    )


def _phase_taps(phase: int, pad: int, size: int, transposed: bool) -> list[tuple[int, int]]:
    """Return the (input offset, tap) pairs that output phase `phase` sums, offsets at half rate.

    Stride-2 transposed convolution: output 2a+p gets input i through tap p + pad - 2(i - a).
    Dilation-2 convolution: output 2a+p reads input 2a+p+2k-pad, which has parity (p - pad) % 2.
    """
    if transposed:
        taps = [(d, phase + pad - 2 * d) for d in range(-size, size)]
        return [(d, k) for d, k in taps if 0 <= k < size]
    parity = (phase - pad) % 2
    return [(k + (phase - pad - parity) // 2, k) for k in range(size)]


def _phase_weights(weights: np.ndarray, pad: int, transposed: bool) -> tuple[np.ndarray, int, int]:
    """Return the half-resolution convolution weights (OIHW) and its pads (before, after)."""
    size = weights.shape[2]
    taps = {p: _phase_taps(p, pad, size, transposed) for p in (0, 1)}
    offsets = [d for p in (0, 1) for d, _ in taps[p]]
    low, high = -min(offsets), max(offsets)
    if transposed:  # (C_in, 1, K, K) -> (4 phases, C_in, k, k)
        out = np.zeros((4, weights.shape[0], low + high + 1, low + high + 1), np.float32)
        for p in (0, 1):
            for q in (0, 1):
                for dh, kh in taps[p]:
                    for dw, kw in taps[q]:
                        out[2 * p + q, :, dh + low, dw + low] = weights[:, 0, kh, kw]
        return out, low, high
    # (C, 1, K, K) -> (4 phases x C, 4 input phases, k, k); output phase (p, q) reads input
    # phase ((p - pad) % 2, (q - pad) % 2) only.
    channels = weights.shape[0]
    out = np.zeros((4 * channels, 4, low + high + 1, low + high + 1), np.float32)
    for p in (0, 1):
        for q in (0, 1):
            source = 2 * ((p - pad) % 2) + (q - pad) % 2
            rows = slice((2 * p + q) * channels, (2 * p + q + 1) * channels)
            for dh, kh in taps[p]:
                for dw, kw in taps[q]:
                    out[rows, source, dh + low, dw + low] = weights[:, 0, kh, kw]
    return out, low, high


def _apply(steps: list[_Step], value: ov.Output, channels: int) -> ov.Output:
    """Apply `steps` to the phase-major map `value` (4 phases x `channels` channels)."""
    for step in steps:
        if step.constant is None:
            value = _UNARY[step.kind](value).output(0)
            continue
        # One value per channel, repeated for each phase: channel index = phase * C + c.
        per_channel = np.broadcast_to(step.constant, (channels,))
        constant = ops.constant(np.tile(per_channel, 4).reshape(1, 4 * channels, 1, 1))
        pair = (constant, value) if step.constant_first else (value, constant)
        value = _BINARY[step.kind](*pair).output(0)
    return value


def _order(node: ov.Node) -> list[int] | None:
    """Return the permutation of a Transpose with a constant order, else None."""
    order = _constant(node.input_value(1)) if node.get_type_name() == "Transpose" else None
    return None if order is None else [int(v) for v in order]


def _to_nhwc(tail: _Tail, mask: ov.Output, channels: int) -> bool:
    """Multiply in NHWC if the converter's Transposes sit around the Multiply; say if it did."""
    into = tail.multiply.input_value(1 - tail.multiply_port).get_node()
    users = [t.get_node() for t in tail.multiply.output(0).get_target_inputs()]
    if _order(into) != [0, 3, 1, 2] or len(users) != 1 or _order(users[0]) != [0, 2, 3, 1]:
        return False
    shape = mask.get_partial_shape()
    height, width = shape[2].get_length(), shape[3].get_length()
    # Channel (2p + q) * C + c at (a, b) is pixel (2a + p, 2b + q) of channel c: one transpose
    # of the phase-split mask gives the NHWC mask, so the input and the estimate stay NHWC
    # and the two full-resolution transposes (and their layout reorders) go.
    split = ops.reshape(mask, ops.constant(np.array([0, 2, 2, channels, height, width])), True)
    interleaved = ops.transpose(split, ops.constant(np.array([0, 4, 1, 5, 2, 3])))
    nhwc = ops.reshape(
        interleaved, ops.constant(np.array([0, 2 * height, 2 * width, channels])), True
    )
    estimate = ops.multiply(nhwc, into.input_value(0)).output(0)
    old = users[0].output(0)
    names = old.get_names()
    for target in list(old.get_target_inputs()):
        target.replace_source_output(estimate)
    # The outputs are found by tensor name: the new estimate takes it over.
    old.get_tensor().set_names(set())
    estimate.get_tensor().set_names(names)
    estimate.get_node().set_friendly_name(users[0].get_friendly_name())
    return True


def _rewrite(tail: _Tail) -> None:
    """Replace the matched tail by its half-resolution form."""
    up, low, high = _phase_weights(tail.up_weights, tail.up_pad, True)
    phases = ops.convolution(
        tail.source, ops.constant(up), [1, 1], [low, low], [high, high], [1, 1]
    )
    middle = _apply(tail.middle, phases.output(0), 1)
    dilated, low, high = _phase_weights(tail.dilated_weights, tail.dilated_pad, False)
    mask = ops.convolution(middle, ops.constant(dilated), [1, 1], [low, low], [high, high], [1, 1])
    channels = tail.dilated_weights.shape[0]
    mask_out = _apply(tail.after, mask.output(0), channels)
    if not _to_nhwc(tail, mask_out, channels):
        # BLOCKS_FIRST reads channel (2p + q) * C + c into pixel (2a + p, 2b + q) of channel c.
        full = ops.depth_to_space(mask_out, "blocks_first", 2)
        tail.multiply.input(tail.multiply_port).replace_source_output(full.output(0))


def rewrite_tails(model: ov.Model) -> int:
    """Rewrite every matching U-Net tail of `model` in place; return how many were rewritten."""
    tails: list[_Tail] = []
    for node in model.get_ordered_ops():
        if node.get_type_name() != "ConvolutionBackpropData":
            continue
        try:
            tails.append(_match(node))
        except _NoMatch as reason:
            # Most transposed convolutions are the decoder's own, not a tail: say why at debug.
            logger.debug("%s left as is: %s", node.get_friendly_name(), reason)
    if not tails:
        logger.warning("no U-Net tail found to rewrite; the model is left as it is")
        return 0
    for tail in tails:
        _rewrite(tail)
    model.validate_nodes_and_infer_types()
    return len(tails)
