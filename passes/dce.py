"""Dead code elimination: remove what no output, side effect or later draw depends on.

Kept always: nodes with an effect (`assert`, the list appends of autodiff), random draws (an
unused `rand` still advances the generator, and the draws after it must match eager's — PyTorch's
generator semantics), and the write-back outputs of mutations (they are graph outputs). Removed:
pure nodes whose outputs nobody reads, the unread outputs of `if` nodes (with their yields in both
arms), loop scan outputs nobody reads (with their items' yields), and loop-carried values that
neither the loop's outputs nor the rest of the body need — the fillers and flags that script and
autodiff emit.
"""

from __future__ import annotations

from ..ir.graph import Block, Graph, Node, Value
from .rewrite import is_pure


def dce(graph: Graph, log: list) -> bool:
    """Remove dead nodes, `if` outputs and loop-carried values in place; True if anything went."""
    before = len(log)
    graph.nodes = _sweep(graph.nodes, {v for v in graph.outputs if isinstance(v, Value)}, log)
    return len(log) > before


def _sweep(nodes: list, live: set, log: list) -> list:
    """The nodes that are needed for `live` (or cannot go), in order; `live` gains their reads."""
    kept: list = []
    for node in reversed(nodes):
        needed = any(v in live for v in node.outputs)
        if not needed and is_pure(node):
            log.append(("removed", node, f"{node.op.name}: result unused"))
            continue
        if node.op.control:
            _prune_control(node, live, log)
        live.update(x for x in node.inputs if isinstance(x, Value))
        kept.append(node)
    kept.reverse()
    return kept


def _prune_control(node: Node, live: set, log: list) -> None:
    if node.op.name == "if":
        unused = [j for j, v in enumerate(node.outputs) if v not in live]
        if unused:
            log.append(("rewritten", node, f"if: dropped {len(unused)} unused output(s)"))
            _drop_outputs(node, unused)
            for b in node.blocks:
                b.outputs = [y for j, y in enumerate(b.outputs) if j not in unused]
        for b in node.blocks:
            _sweep_block(b, live, log)
        return
    body = node.blocks[0]
    n_carried = len(node.inputs) - 2
    scans = [j for j in range(n_carried, len(node.outputs)) if node.outputs[j] not in live]
    if scans:  # an unread scan output: its items need not be yielded
        log.append(("rewritten", node, f"loop: dropped {len(scans)} unused scan output(s)"))
        _drop_outputs(node, scans)
        body.outputs = [y for j, y in enumerate(body.outputs) if j - 1 not in scans]
    dead = _dead_carried(node, live)
    if dead:
        log.append(("rewritten", node, f"loop: dropped {len(dead)} unused carried value(s)"))
        _drop_outputs(node, dead)
        node.inputs = node.inputs[:2] + [x for j, x in enumerate(node.inputs[2:]) if j not in dead]
        body.inputs = body.inputs[:1] + [v for j, v in enumerate(body.inputs[1:]) if j not in dead]
        body.outputs = body.outputs[:1] + [y for j, y in enumerate(body.outputs[1:])
                                           if j not in dead]
    _sweep_block(body, live, log)


def _sweep_block(block: Block, outer_live: set, log: list) -> None:
    """Sweep a block against its yields; what it reads from outside becomes live outside."""
    inner = {y for y in block.outputs if isinstance(y, Value)}
    block.nodes = _sweep(block.nodes, inner, log)
    outer_live.update(inner)


def _dead_carried(node: Node, live: set) -> list:
    """Carried positions whose loop output is unread and whose value the body needs only to
    carry itself forward (a fixpoint: dropping one may free another)."""
    body = node.blocks[0]
    candidates = {j for j, v in enumerate(node.outputs[:len(node.inputs) - 2]) if v not in live}
    while candidates:
        needed = {y for j, y in enumerate(body.outputs)
                  if j == 0 or (j - 1) not in candidates}
        needed = {y for y in needed if isinstance(y, Value)}
        _needed_reads(body.nodes, needed)
        freed = {j for j in candidates if body.inputs[j + 1] in needed}
        if not freed:
            break
        candidates -= freed
    return sorted(candidates)


def _needed_reads(nodes: list, live: set) -> None:
    """Grow `live` with everything the nodes that are needed (or impure) read, blocks included."""
    for node in reversed(nodes):
        if any(v in live for v in node.outputs) or not is_pure(node):
            live.update(x for x in node.inputs if isinstance(x, Value))
            for b in node.blocks:
                inner = {y for y in b.outputs if isinstance(y, Value)}
                _needed_reads(b.nodes, inner)
                live.update(inner)


def _drop_outputs(node: Node, positions: list) -> None:
    node.outputs = [v for j, v in enumerate(node.outputs) if j not in positions]
    for i, v in enumerate(node.outputs):
        v.index = i

