"""Export entries for the ops that hold blocks: `if` -> ONNX If, `loop` -> ONNX Loop (trip count,
condition, carried values and scan outputs line up one to one), `fused` -> its body inline."""

from __future__ import annotations

from typing import Any, Sequence

from ..ir.graph import Block, Node, Value
from ..ir.types import TensorType, bool_, int64
from .dtypes import dtype_of_type
from .emitter import INT64_MAX, Emitter, Scope


def _subgraph(em: Emitter, block: Block, name: str, inputs: Sequence, out_types: Sequence,
              ) -> Any:
    """Export a block as an ONNX graph; `inputs` are (value or None, ONNX name, IR type)."""
    helper = em.helper
    outer, em.scope = em.scope, Scope(em.scope)
    try:
        infos = []
        for value, onnx_name, typ in inputs:
            if value is not None:
                em.define(value, onnx_name)
            infos.append(em.value_info(onnx_name, typ))
        em.run_nodes(block.nodes)
        outs = []
        for y, typ in zip(block.outputs, out_types):
            name = em.get(y, dtype_of_type(typ))
            final = em.fresh(f"{name}_out")
            em.scope.nodes.append(helper.make_node("Identity", [name], [final],
                                                   name=em.fresh("n_Identity")))
            outs.append(em.value_info(final, typ))
        return helper.make_graph(em.scope.nodes, em.fresh(name), infos, outs)
    finally:
        em.scope = outer


def if_(em: Emitter, node: Node) -> list:
    cond = node.inputs[0]
    types = [v.type for v in node.outputs]
    if not isinstance(cond, Value):  # decided when compiling: the branch inline
        block = node.blocks[0 if cond else 1]
        em.run_nodes(block.nodes)
        return [em.emit("Identity", [em.get(y, dtype_of_type(t))])
                for y, t in zip(block.outputs, types)]
    here = em.node
    then = _subgraph(em, node.blocks[0], "then", (), types)
    else_ = _subgraph(em, node.blocks[1], "else", (), types)
    em.node = here
    return list(em.emit("If", [em.get(cond, bool_)], outputs=len(types), then_branch=then,
                        else_branch=else_)) if len(types) != 1 else [
        em.emit("If", [em.get(cond, bool_)], then_branch=then, else_branch=else_)]


def loop(em: Emitter, node: Node) -> list:
    trip, cond, *carried = node.inputs
    body = node.blocks[0]
    n_carried = len(carried)
    here = em.node
    m = "" if trip == INT64_MAX else em.get(trip, int64)
    c = em.get(cond, bool_)
    counter, *state = body.inputs
    inputs = [(counter, em.fresh("iter"), int64_scalar()), (None, em.fresh("cond_in"),
                                                            bool_scalar())]
    inputs += [(v, em.fresh(f"carried{i}"), v.type) for i, v in enumerate(state)]
    out_types = [bool_scalar()] + [v.type for v in node.outputs[:n_carried]]
    out_types += [_item_type(v.type) for v in node.outputs[n_carried:]]
    graph = _subgraph(em, body, "body", inputs, out_types)
    em.node = here
    ins = [m, c] + [em.get(x, dtype_of_type(v.type)) for x, v in zip(carried, state)]
    outs = em.emit("Loop", ins, outputs=len(node.outputs), body=graph)
    return [outs] if len(node.outputs) == 1 else list(outs)


def fused(em: Emitter, node: Node) -> list:
    """A fused region is the ops of its body: export them inline, bound to the node's inputs."""
    block = node.blocks[0]
    for v, x in zip(block.inputs, node.inputs):
        em.define(v, em.get(x))
    em.run_nodes(block.nodes)
    return [em.get(y) for y in block.outputs]


def int64_scalar() -> TensorType:
    return TensorType(int64, ())


def bool_scalar() -> TensorType:
    return TensorType(bool_, ())


def _item_type(t: TensorType) -> TensorType:
    return TensorType(t.dtype, t.shape[1:], t.device)


