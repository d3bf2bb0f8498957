"""Freezing: a module's parameters and buffers become constants, and the per-channel affine
chain that follows a convolution or a linear layer (a batch norm in eval mode, a bias, a scale)
folds into that layer's weight and bias, as PyTorch's `torch.jit.freeze` does.

Batch norm is not one op here: `nn.functional.batch_norm` in eval mode records
`sub(x, mean)`, `div(_, sqrt(var + eps))`, `mul(_, weight)`, `add(_, bias)`, each constant
viewed to broadcast over the channel dim. Once the state is constant, folding computes those
operands, and what is left after the layer is a chain of add/sub/mul/div by per-channel
constants: PyTorch's frozen-graph passes (FoldFrozenConvBatchnorm, FoldFrozenConvAddOrSub,
FoldFrozenConvMulOrDiv and their linear forms) fold exactly such chains.

    1. inline_state     each state input (`graph.meta["params"]`, after the user's inputs)
                        becomes a `constant` node holding a copy of its array; the graph no
                        longer takes it, so later changes to the module are not seen
    2. fold, dce        constant folding computes what the state alone determines (views of
                        the running statistics, sqrt(var + eps), weight.t()), with the size limit
                        raised to the largest state tensor: folding never makes a constant
                        larger than one the model already holds
    3. fold_affine      from each producer (PRODUCERS: conv2d, matmul, addmm), follow the chain
                        of SHIFTS and SCALES by per-channel constants while each value in it has
                        one reader, accumulating y = layer(x) * scale + shift per channel (in
                        float64); then emit the layer with weight * scale (and, for addmm, bias *
                        scale + shift) or the layer plus one add of the shift; it fires only when
                        that removes nodes
    4. dce              drops the old layer, the chain and the constants only they read

`freeze_graph` runs these on a copy and returns it with one `PassRun` per stage.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..ir.errors import DualgraphError
from ..ir.graph import Graph, Node, Value, operand_type
from ..ir.meta import reduce_dims
from ..ir.registry import get
from ..ir.text import INLINE_LIMIT, print_graph
from ..ir.types import TensorType
from ..ir.verify import verify
from .dce import dce
from .fold import FOLD_LIMIT, fold_constants
from .manager import PassRun, _dump_set, _print_diff
from .rewrite import clone, replace_uses


class FreezeError(DualgraphError, RuntimeError):
    """A graph that cannot be frozen (it changes its state, or its state is off the CPU)."""


@dataclass(frozen=True)
class Producer:
    """Where an op that computes `x @ weight` or `conv(x, weight)` keeps what freezing rescales:
    the weight's input position and the weight axis indexing output channels, the output's
    channel dim (negative: from the end), the input position of a bias the op adds itself
    (addmm's `input`), and the rank the weight must have."""

    weight: int
    axis: int
    channel: int
    bias: int | None = None
    weight_rank: int | None = None


# The one place that names the ops this pass reads.
PRODUCERS: dict = {
    "conv2d": Producer(weight=1, axis=0, channel=1),                    # conv1d is conv2d too
    "matmul": Producer(weight=1, axis=1, channel=-1, weight_rank=2),    # linear without bias
    "addmm": Producer(weight=2, axis=1, channel=-1, bias=0, weight_rank=2),  # linear with bias
}
SHIFTS = ("add", "sub")   # y = a + c, a - c, c - a (alpha=1)
SCALES = ("mul", "div")   # y = a * c, c * a, a / c (rounding_mode=None)
THROUGH = ("squeeze",)    # views that keep the channel (conv1d squeezes conv2d's height of 1)
ADD = "add"               # the op that applies a folded shift


# ------------------------------------------------------------------------------ the pipeline

def freeze_graph(graph: Graph, state: Mapping[str, np.ndarray],
                 fold_layers: bool = True) -> tuple[Graph, list]:
    """A frozen copy of `graph` (state inputs as constants, folded, affine chains folded into
    their layers when `fold_layers`) and the `PassRun` of each stage, for `explain()`."""
    g = clone(graph)
    limit = max([FOLD_LIMIT] + [int(np.asarray(a).size) for a in state.values()])
    stages: list = [("freeze", lambda g, log: inline_state(g, state, log)),
                    ("fold", lambda g, log: fold_constants(g, log, limit)),
                    ("dce", dce)]
    if fold_layers:
        stages += [("fold_bn", fold_affine), ("dce", dce)]
    runs = [_run(name, fn, g) for name, fn in stages]
    name_constants(g)
    return g, runs


def _run(name: str, fn: Callable, g: Graph) -> PassRun:
    """One stage as the pass manager runs a pass: timed, verified under DUALGRAPH_CHECK, dumped
    under DUALGRAPH_DUMP, its log kept."""
    dump = _dump_set()
    before = print_graph(g) if (name in dump or "all" in dump) else None
    log: list = []
    start = time.perf_counter()
    changed = bool(fn(g, log))
    seconds = time.perf_counter() - start
    if os.environ.get("DUALGRAPH_CHECK"):
        verify(g)
    if before is not None:
        _print_diff(name, before, print_graph(g))
    return PassRun(name, seconds, changed, [(kind, node.op.name, node.meta.get("source", ""),
                                             what) for kind, node, what in log])


# ------------------------------------------------------------------------- 1. inline state

def inline_state(graph: Graph, state: Mapping[str, np.ndarray], log: list) -> bool:
    """Replace the graph's state inputs by constants holding copies of `state[name]`; True if
    there were any. Raises FreezeError when the graph writes its state back (a batch norm in
    training mode updates its running statistics) or when a state input is off the CPU."""
    n_user = graph.meta.get("user_inputs", len(graph.inputs))
    names = list(graph.meta.get("params", ()))
    values = graph.inputs[n_user:]
    if len(names) != len(values):
        raise FreezeError(f"freeze: the graph has {len(values)} state inputs but "
                          f"meta['params'] names {len(names)}")
    changed = [m for m in graph.meta.get("mutations", ()) if m[0] == "state"]
    if changed:
        which = ", ".join(names[m[1]] for m in changed)
        raise FreezeError(f"freeze: the graph changes its state ({which}), as a batch norm in "
                          "training mode updates its running statistics; constants cannot "
                          "change: call .eval() before capturing")
    mapping: dict = {}
    consts: list = []
    for name, v in zip(names, values):
        if name not in state:
            raise FreezeError(f"freeze: no array given for the state input %{name}")
        typ = v.type
        if typ.device.type != "cpu":
            raise FreezeError(f"freeze: the state input %{name} is on {typ.device}; frozen "
                              "constants live on the CPU: freeze the module on the CPU")
        array = np.array(state[name], dtype=typ.dtype.np, copy=True)
        if tuple(array.shape) != tuple(typ.shape):
            raise FreezeError(f"freeze: the array for %{name} has shape {list(array.shape)}, "
                              f"the graph's input is {typ}")
        node = Node(get("constant"), [], {"value": array}, [typ])
        node.meta["tensor"] = _fresh_name(graph.tensors, name)
        graph.tensors[node.meta["tensor"]] = array
        consts.append(node)
        mapping[v] = node.output
        log.append(("frozen", node, f"%{name}: now a constant"))
    graph.nodes = consts + graph.nodes
    graph.inputs = graph.inputs[:n_user]
    graph.meta["params"] = []
    replace_uses(graph, mapping)
    return bool(consts)


def _fresh_name(taken: Mapping, base: str) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def name_constants(graph: Graph) -> None:
    """Keep `graph.tensors` to the constants the graph holds, and name every constant too large
    to print inline (so the text form refers to it as `@name`)."""
    held: dict = {}
    unnamed: list = []
    for node in graph.all_nodes():
        if node.op.name != "constant":
            continue
        name = node.meta.get("tensor")
        if name is not None:
            held[name] = node.attrs["value"]
        elif np.asarray(node.attrs["value"]).size > INLINE_LIMIT:
            unnamed.append(node)
    for node in unnamed:
        name = node.meta["tensor"] = _fresh_name(held, node.meta.pop("folded_from", "folded"))
        held[name] = node.attrs["value"]
    graph.tensors = held


# ---------------------------------------------------------------------------- 3. fold_affine

def fold_affine(graph: Graph, log: list) -> bool:
    """Fold per-channel add/sub/mul/div chains after PRODUCERS into the producer's weight and
    bias (see the module docstring); True if any chain folded."""
    readers = _readers(graph)
    mapping: dict = {}
    owners = [graph] + [b for node in graph.all_nodes() for b in node.blocks]
    for owner in owners:
        nodes = owner.nodes
        for node in list(nodes):
            if node.op.name in PRODUCERS:
                found = _fold_chain(node, nodes, readers, mapping, log)
                if found is not None:
                    last, emitted = found
                    at = nodes.index(last)
                    nodes[at:at] = emitted
    replace_uses(graph, mapping)
    return bool(mapping)


def _readers(graph: Graph) -> dict:
    """{Value: number of reads}: node inputs, block yields and graph outputs all count."""
    count: dict = {}

    def read(x: Any) -> None:
        if isinstance(x, Value):
            count[x] = count.get(x, 0) + 1

    for node in graph.all_nodes():
        for x in node.inputs:
            read(x)
        for b in node.blocks:
            for y in b.outputs:
                read(y)
    for v in graph.outputs:
        read(v)
    return count


def _constant(x: Any) -> np.ndarray | None:
    """A constant operand's data: a constant node's array or a numeric literal; else None."""
    if isinstance(x, Value):
        node = x.node
        if node is not None and node.op.name == "constant":
            return np.asarray(node.attrs["value"])
        return None
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return np.asarray(x)
    return None


def _channel_vector(c: np.ndarray, typ: TensorType, ch: int) -> np.ndarray | None:
    """`c` as one float64 value per channel of `typ` (dim `ch`), or None when it varies along
    another dim or would broadcast the value to a larger shape."""
    rank, n = len(typ.shape), typ.shape[ch]
    if c.ndim > rank or not isinstance(n, int) or c.dtype.kind not in "biuf":
        return None
    shape = (1,) * (rank - c.ndim) + c.shape
    if any(d != 1 for k, d in enumerate(shape) if k != ch) or shape[ch] not in (1, n):
        return None
    return np.broadcast_to(c.astype(np.float64).reshape(-1), (n,)).copy()


def _single_reader(v: Value, nodes: list, readers: dict) -> Node | None:
    """The one node of `nodes` that reads `v`, if it is read exactly once and there."""
    if readers.get(v, 0) != 1:
        return None
    for node in nodes:
        if any(x is v for x in node.inputs):
            return node
    return None


def _fold_chain(node: Node, nodes: list, readers: dict, mapping: dict, log: list) -> Any:
    """Fold the chain after producer `node`; (the chain's last node, the nodes to insert before
    it) when it folds, else None (the graph is left as it was)."""
    spec = PRODUCERS[node.op.name]
    if not isinstance(node.inputs[spec.weight], Value):
        return None
    weight = _constant(node.inputs[spec.weight])
    out = node.output
    typ = out.type
    if (weight is None or not isinstance(typ, TensorType) or typ.dtype.np.kind != "f"
            or weight.dtype.kind != "f"
            or (spec.weight_rank is not None and weight.ndim != spec.weight_rank)):
        return None
    ch = spec.channel % len(typ.shape) if typ.shape else None
    if ch is None or not isinstance(typ.shape[ch], int) or \
            weight.shape[spec.axis] != typ.shape[ch]:
        return None
    n = typ.shape[ch]
    scale, shift, shifted = np.ones(n), np.zeros(n), False
    through: list = []
    chain: list = []
    cur = out
    while True:
        user = _single_reader(cur, nodes, readers)
        if user is None:
            break
        if user.op.name in THROUGH and not chain:
            kept = _squeezed_channel(user, cur.type, ch)
            if kept is None:
                break
            through.append(user)
            cur, ch = user.output, kept
            continue
        step = _affine_step(user, cur, ch)
        if step is None:
            break
        kind, c = step
        if kind == "add":
            shift, shifted = shift + c, True
        elif kind == "sub":
            shift, shifted = shift - c, True
        elif kind == "rsub":
            scale, shift, shifted = -scale, c - shift, True
        elif kind == "mul":
            scale, shift = scale * c, shift * c
        else:  # div
            scale, shift = scale / c, shift / c
        chain.append(user)
        cur = user.output
    emits_add = shifted and spec.bias is None
    if len(chain) <= emits_add:
        return None  # nothing would be removed (a lone bias add stays as it is)
    if not np.all(np.isfinite(scale)) or not np.all(np.isfinite(shift)):
        return None  # a zero variance or scale: folding would put inf/NaN into the weight
    emitted = _rewrite(node, spec, weight, scale, shift, emits_add, through, cur, ch)
    if emitted is None:
        return None
    mapping[cur] = emitted[-1].output
    ops = ", ".join(u.op.name for u in chain)
    log.append(("folded", node, f"{node.op.name}: folded {ops} into its weight"
                                + (" and bias" if shifted else "")))
    return chain[-1], emitted


def _squeezed_channel(node: Node, typ: TensorType, ch: int) -> int | None:
    """The channel's dim after a squeeze, or None if the squeeze removes it."""
    dims = reduce_dims(node.op.name, node.attrs.get("dim"), len(typ.shape))  # verified graph
    removed = [d for d in dims if typ.shape[d] == 1]
    if ch in removed:
        return None
    return ch - sum(1 for d in removed if d < ch)


def _affine_step(user: Node, cur: Value, ch: int) -> tuple | None:
    """(kind, per-channel float64 vector) when `user` computes cur+c, cur-c, c-cur, cur*c, c*cur
    or cur/c with the same type as `cur`; None otherwise."""
    name = user.op.name
    if name not in SHIFTS + SCALES or len(user.inputs) != 2 or user.output.type != cur.type:
        return None
    if user.attrs.get("alpha", 1) != 1 or user.attrs.get("rounding_mode") is not None:
        return None
    a, b = user.inputs
    if a is cur and b is not cur:
        other, first = b, True
    elif b is cur and a is not cur:
        other, first = a, False
    else:
        return None
    c = _constant(other)
    if c is None:
        return None
    vec = _channel_vector(c.astype(cur.type.dtype.np), cur.type, ch)
    if vec is None:
        return None
    if name == "div":
        return ("div", vec) if first else None
    if name == "sub":
        return ("sub", vec) if first else ("rsub", vec)
    return (name, vec)


def _new_node(opname: str, inputs: list, attrs: dict, meta: dict) -> Node:
    """A node whose output types come from the op's meta function (so the verifier agrees)."""
    op = get(opname)
    attrs = op.full_attrs(attrs)
    node = Node(op, inputs, attrs, op.meta_all([operand_type(x) for x in inputs], attrs))
    node.meta = dict(meta)
    return node


def _const_node(array: np.ndarray, meta: dict) -> Node:
    node = _new_node("constant", [], {"value": array}, meta)
    node.meta.pop("tensor", None)
    return node


def _rewrite(node: Node, spec: Producer, weight: np.ndarray, scale: np.ndarray,
             shift: np.ndarray, emits_add: bool, through: list, last: Value,
             ch: int) -> list | None:
    """The nodes computing the folded layer: new constants, the layer, the views it went
    through, and the add of the shift when the layer has no bias of its own."""
    emitted: list = []
    axis_shape = [1] * weight.ndim
    axis_shape[spec.axis] = -1
    new_w = (weight.astype(np.float64) * scale.reshape(axis_shape)).astype(weight.dtype)
    w_node = _const_node(new_w, node.inputs[spec.weight].node.meta)
    original = node.inputs[spec.weight].node.meta.get("tensor")
    if original is not None:
        w_node.meta["folded_from"] = f"{original}_folded"  # the name `name_constants` gives it
    emitted.append(w_node)
    inputs = list(node.inputs)
    inputs[spec.weight] = w_node.output
    if spec.bias is not None:
        bias = _constant(inputs[spec.bias])
        beta = node.attrs.get("beta", 1)
        if bias is None or beta == 0 or bias.dtype.kind != "f":
            return None
        new_b = (bias.astype(np.float64) * scale + shift / beta).astype(bias.dtype)
        b_node = _const_node(new_b, {})
        emitted.append(b_node)
        inputs[spec.bias] = b_node.output
    layer = _new_node(node.op.name, inputs, node.attrs, node.meta)
    if layer.output.type != node.output.type:
        return None
    emitted.append(layer)
    cur = layer.output
    for view in through:
        again = _new_node(view.op.name, [cur], view.attrs, view.meta)
        emitted.append(again)
        cur = again.output
    if emits_add:
        typ = cur.type
        shape = [-1] + [1] * (len(typ.shape) - 1 - ch)  # broadcasts over dim ch of the value
        c_node = _const_node(shift.astype(typ.dtype.np).reshape(shape), {})
        emitted.append(c_node)
        add = _new_node(ADD, [cur, c_node.output], {}, node.meta)
        emitted.append(add)
        cur = add.output
    if cur.type != last.type:
        return None
    return emitted
