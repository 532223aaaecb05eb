"""The graph pass that decides Keras's learning-phase conds before the conversion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from shared_separation.engine.freeze import LEARNING_PHASE, resolve_conds

X = np.array([[1.0, -2.0, 3.0]], dtype=np.float32)


def _keras_like_graph() -> object:
    """Two conds on the learning phase, as Keras builds batch norm and dropout, one nested."""
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    # Keras of TensorFlow 1, which built Spleeter's graph, made Switch/Merge conds (v1 control
    # flow); TensorFlow 2 makes If nodes unless told otherwise.
    tf.compat.v1.disable_control_flow_v2()
    graph = tf.Graph()
    try:
        with graph.as_default():
            _build(tf)
    finally:
        tf.compat.v1.enable_control_flow_v2()
    return graph.as_graph_def()


def _build(tf: Any) -> None:
    """Add the graph's nodes to the default graph."""
    phase = tf.compat.v1.placeholder_with_default(False, (), name=LEARNING_PHASE)
    x = tf.compat.v1.placeholder(tf.float32, (None, 3), name="x")
    weight = tf.constant(2.0, name="weight")
    # Each branch holds its own constants, tied to the branch by control edges.
    first = tf.cond(phase, lambda: x * weight * tf.constant(10.0), lambda: x * weight + 1.0)
    second = tf.cond(
        phase,
        lambda: tf.nn.relu(first),
        lambda: tf.cond(phase, lambda: first * 0.0, lambda: first - tf.constant(0.5)),
    )
    tf.identity(second * 3.0, name="out")


def _run(graph_def: object, feed_phase: bool | None = None) -> np.ndarray:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
        feed: dict[str, object] = {"x:0": X}
        if feed_phase is not None:
            feed[f"{LEARNING_PHASE}:0"] = feed_phase
        with tf.compat.v1.Session(graph=graph) as session:
            out: np.ndarray = session.run("out:0", feed_dict=feed)
    return out


def _ops(graph_def: object) -> set[str]:
    return {node.op for node in graph_def.node}  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [False, True])
def test_conds_are_decided_as_the_running_graph_decides_them(value: bool) -> None:
    graph_def = _keras_like_graph()
    assert {"Switch", "Merge"} <= _ops(graph_def)
    resolved = resolve_conds(graph_def, value=value)
    assert not {"Switch", "Merge"} & _ops(resolved)
    np.testing.assert_array_equal(_run(resolved), _run(graph_def, feed_phase=value))


def test_the_branch_not_taken_is_gone() -> None:
    resolved = resolve_conds(_keras_like_graph(), value=False)
    # The training branch's multiply by 10 and its relu never run at inference.
    assert "Relu" not in _ops(resolved)
    values = [n.attr["value"].tensor.float_val for n in resolved.node if n.op == "Const"]
    assert [10.0] not in [list(v) for v in values]
    assert all(not ref.startswith("^") for n in resolved.node for ref in n.input)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda g: g.node.remove(next(n for n in g.node if n.name == LEARNING_PHASE)),
        lambda g: next(n for n in g.node if n.op == "Identity").input.append("out"),
    ],
    ids=["no-learning-phase", "cycle"],
)
def test_graphs_it_cannot_decide_are_refused(mutate: Callable[[object], None]) -> None:
    graph_def = _keras_like_graph()
    mutate(graph_def)
    with pytest.raises(ValueError, match=r"learning_phase|cycle"):
        resolve_conds(graph_def)
