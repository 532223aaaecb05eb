"""Freeze the checkpoint's graph for inference: weights as constants, no training branches.

Spleeter's graph is a Keras graph: every batch normalisation and dropout sits in a `tf.cond` on
the `keras_learning_phase` placeholder (False when it is not fed). Converters cannot follow the
Switch/Merge pairs a cond leaves in a GraphDef, so `resolve_conds` decides them at build time:
it keeps the branch the predicate's value selects, drops the other, and removes the Switch and
Merge nodes. Only the network between the magnitude input and the two estimates is kept.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from .network import INPUT_TENSOR, OUTPUT_TENSORS

if TYPE_CHECKING:
    from tensorflow.core.framework.graph_pb2 import GraphDef

LEARNING_PHASE = "keras_learning_phase"
INPUT_NAME = "magnitudes"  # the frozen graph's placeholder, (segments, 512, 1024, 2) float32
OUTPUT_NODES = tuple(name.split(":")[0] for name in OUTPUT_TENSORS)


def _source(ref: str) -> tuple[str, int]:
    """Split an input reference ('^node', 'node', 'node:1') into (node, output port)."""
    name = ref.lstrip("^")
    node, sep, port = name.rpartition(":")
    if sep and port.isdigit():
        return node, int(port)
    return name, 0


def _ref(node: str, port: int) -> str:
    return node if port == 0 else f"{node}:{port}"


def _topological(graph_def: GraphDef) -> list[str]:
    """Return the node names so that every node comes after all of its inputs."""
    names = [n.name for n in graph_def.node]
    consumers: dict[str, list[str]] = {name: [] for name in names}
    waiting = {}
    for node in graph_def.node:
        sources = {_source(ref)[0] for ref in node.input}
        waiting[node.name] = len(sources)
        for src in sources:
            consumers[src].append(node.name)
    ready = deque(name for name in names if waiting[name] == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for consumer in consumers[name]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)
    if len(order) != len(names):
        raise ValueError("the graph has a cycle (a while loop): its conds cannot be resolved")
    return order


def resolve_conds(
    graph_def: GraphDef, predicate: str = LEARNING_PHASE, value: bool = False
) -> GraphDef:
    """Return a copy of `graph_def` with every cond on `predicate` decided as `value`.

    A Switch on the predicate (read directly or through Identity nodes) forwards its data to
    output 1 when the predicate is true, to output 0 when false; whatever reads the other
    output, directly or through a control edge, never runs and is dropped. A Merge then has
    exactly one live input and becomes it. Control edges are dropped too: in a frozen graph
    (no variables, no side effects) they only tied branch constants to their cond.
    """
    from tensorflow.core.framework import graph_pb2

    nodes = {n.name: n for n in graph_def.node}
    if predicate not in nodes:
        raise ValueError(f"the graph has no {predicate!r} node")

    def reads_predicate(ref: str) -> bool:
        # Through Identity nodes, and through decided Switches (a cond nested in another reads
        # the predicate through the outer cond's Switch).
        name, _ = _source(ref)
        while name in alias or nodes[name].op == "Identity":
            name = alias[name][0] if name in alias else _source(nodes[name].input[0])[0]
        return name == predicate

    skipped = 0 if value else 1  # the Switch output the predicate never selects
    dead: set[str] = set()
    alias: dict[str, tuple[str, int]] = {}  # removed node -> the (node, port) that replaces it

    def is_dead(ref: str) -> bool:
        node, port = _source(ref)
        return node in dead or (node in alias and nodes[node].op == "Switch" and port == skipped)

    for name in _topological(graph_def):
        node = nodes[name]
        if node.op == "Switch" and reads_predicate(node.input[1]):
            if is_dead(node.input[0]):
                dead.add(name)
            else:
                alias[name] = _source(node.input[0])
        elif node.op == "Merge":
            live = [ref for ref in node.input if not ref.startswith("^") and not is_dead(ref)]
            if not live:
                dead.add(name)
            elif len(live) == 1:
                alias[name] = _source(live[0])
            else:
                raise ValueError(f"{name} merges {len(live)} live branches")
        elif any(is_dead(ref) for ref in node.input):
            dead.add(name)

    def resolve(ref: str) -> str:
        node, port = _source(ref)
        while node in alias:
            # A live reader of a decided Switch reads its taken output, and of a Merge its value.
            if nodes[node].op == "Merge" and port != 0:
                raise ValueError(f"{ref} reads a Merge's branch index")
            node, port = alias[node]
        return _ref(node, port)

    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.name in dead or node.name in alias:
            continue
        kept = out.node.add()
        kept.CopyFrom(node)
        del kept.input[:]
        kept.input.extend(resolve(ref) for ref in node.input if not ref.startswith("^"))
    return out


def freeze(model_dir: Path) -> GraphDef:
    """Return the inference graph: `magnitudes` in, the two stem estimates out, weights inlined."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(
            str(model_dir / "model.meta"), clear_devices=True
        )
        assert saver is not None
        with tf.compat.v1.Session(graph=graph) as session:
            saver.restore(session, str(model_dir / "model"))
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), list(OUTPUT_NODES)
            )
    inference = resolve_conds(frozen)
    cut = tf.Graph()
    with cut.as_default():
        magnitudes = tf.compat.v1.placeholder(tf.float32, (None, 512, 1024, 2), name=INPUT_NAME)
        tf.compat.v1.import_graph_def(inference, input_map={INPUT_TENSOR: magnitudes}, name="")
        result: GraphDef = tf.compat.v1.graph_util.extract_sub_graph(
            cut.as_graph_def(), list(OUTPUT_NODES)
        )
    left = sorted({n.op for n in result.node} & {"Switch", "Merge", "Variable", "VariableV2"})
    if left:
        raise ValueError(f"the frozen graph still holds {', '.join(left)} nodes")
    return result
