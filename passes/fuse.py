"""Elementwise fusion: groups of elementwise ops become one `fused` node, one generated kernel.

Walking a node list in order, each elementwise op that has a scalar template joins the group of
a producer whose result has the same shape (merging the groups of several producers at once when
it can), or starts a group. A value used outside its group is still written out; everything else
stays in registers. Groups of one op are left alone.

A join is legal when the group can still be scheduled: every node is given a key — its position,
or for a group the key just after its latest outside producer — and every outside reader of a
group's values must have a larger key than the group. Readers already seen are checked when the
group grows; readers to come are later nodes or groups that take their keys from their
producers. The nodes are then emitted in key order, so no node moves before what it reads, and
nodes outside groups (random draws, effects, mutations' write-backs, control flow) keep their
relative order. `if`/`loop` bodies are fused inside; no group crosses a block's edge.

A row-wise op (one whose registry record has `rows`: softmax, log_softmax, layer_norm) heads a
group of its own, which its elementwise consumers of the same shape join (layer norm's weight and
bias, a scale after softmax): the kernel generator runs them in the op's row loop
(runtime/row_kernels.py). Such a group is never merged with another.

Only values on the CPU fuse (the device with a kernel generator: dualgraph/runtime/fusion.py);
float16 stays unfused (Numba has no half arithmetic). Why a candidate did not fuse goes to the
log, so `f.explain()` shows it.
"""

from __future__ import annotations

from typing import Any

from ..ir.graph import Block, Graph, Node, Value, operand_type
from ..ir.registry import ELEMENTWISE, get
from ..ir.types import TensorType
from .rewrite import Emitter, carried_meta, merged_meta, reads

FUSIBLE_DEVICES = ("cpu",)


class _Group:
    __slots__ = ("members", "key", "shape", "users", "row")

    def __init__(self, node: Node, key: tuple, row: bool = False) -> None:
        self.members = [node]
        self.key = key
        self.shape = tuple(node.outputs[0].type.shape)
        self.users: list = []  # outside nodes seen reading a member's value
        self.row = row  # headed by a row-wise op (softmax, layer_norm): its consumers join


def row_head(node: Node) -> bool:
    """Whether the node is a row-wise op (its registry record has `rows`, one value per element)
    that may head a group: its elementwise consumers then run inside its row loop."""
    rows = node.op.rows
    if rows is None or rows.per_row or len(node.outputs) != 1 or node.blocks:
        return False
    out, x = node.outputs[0].type, operand_type(node.inputs[0])
    return (isinstance(out, TensorType) and isinstance(x, TensorType)
            and out.device.type in FUSIBLE_DEVICES and out.dtype.name in ("float32", "float64")
            and x.dtype is out.dtype and tuple(x.shape) == tuple(out.shape) and bool(out.shape)
            and all(v is None or isinstance(v, (bool, int, float)) for v in node.attrs.values()))


def fuse(graph: Graph, log: list) -> bool:
    """Replace groups of elementwise nodes by fused nodes in place; True if any formed."""
    made: list = []
    graph.nodes = _fuse_list(graph.nodes, set(graph.outputs), made, log)
    if not made:
        return False
    mapping, inside = {}, set()
    for node, members, yields in made:
        mapping.update(zip(yields, node.outputs))
        inside.update(members)
    bodies = {id(node.blocks[0]) for node, _, _ in made}
    for node in graph.all_nodes():
        if node not in inside:
            node.inputs = [mapping.get(x, x) if isinstance(x, Value) else x for x in node.inputs]
        for b in node.blocks:
            if id(b) not in bodies:
                b.outputs = [mapping.get(y, y) if isinstance(y, Value) else y for y in b.outputs]
    graph.outputs = [mapping.get(v, v) if isinstance(v, Value) else v for v in graph.outputs]
    return True


def why_not_fusible(node: Node) -> str | None:
    """None if the node may join a group, else the reason it may not."""
    op = node.op
    if op.kind != ELEMENTWISE or op.control or op.region or node.blocks:
        return "not an elementwise op"
    if op.random or op.effect or op.graph_only or len(node.outputs) != 1:
        return "a random draw or an effect"
    if op.template is None:
        return f"{op.name} has no scalar template"
    out = node.outputs[0].type
    if not isinstance(out, TensorType):
        return "its result is not a tensor"
    if out.device.type not in FUSIBLE_DEVICES:
        return f"no kernel generator for {out.device.type} tensors"
    if out.dtype.name == "float16":
        return "float16 (generated kernels have no half arithmetic)"
    for x in node.inputs:
        t = x.type if isinstance(x, Value) else None
        if isinstance(t, TensorType):
            if t.dtype.name == "float16":
                return "a float16 input"
            if len(t.shape) > len(out.shape) or any(
                    d != 1 and d != out.shape[len(out.shape) - len(t.shape) + k]
                    for k, d in enumerate(t.shape)):
                return "an input whose shape broadcasts only at run time"
        elif isinstance(x, Value) and t not in (int, float, bool):
            return f"an input of type {t}"
    if callable(op.template) and not op.template(node.attrs, _compute_dtype(node)):
        return f"{op.name} has no template for these attributes"
    return None


def _compute_dtype(node: Node) -> Any:
    try:
        return node.op.dtype_rule([operand_type(x) for x in node.inputs], node.attrs)[1]
    except Exception:  # the verifier reports bad nodes; here it only means "do not fuse"
        return None


def _fuse_list(nodes: list, escaping: set, made: list, log: list) -> list:
    """Fuse within one node list; `escaping` holds the values read after it (the graph's
    outputs or the block's yields)."""
    for node in nodes:
        for b in node.blocks:
            b.nodes = _fuse_list(b.nodes, set(b.outputs), made, log)
    nodes = _split_epilogues(nodes, escaping, log)
    position = {node: i for i, node in enumerate(nodes)}
    group_of: dict = {}
    groups: list = []

    def key_of(node: Node) -> tuple:
        g = group_of.get(node)
        return g.key if g is not None else (position[node], 0)

    def producer(x: Any) -> Node | None:
        return x.node if isinstance(x, Value) and x.node in position else None

    def new_group(node: Node, read: set, row: bool = False) -> _Group:
        """A group of one, keyed just after its latest producer."""
        inputs = [p for p in map(producer, read) if p is not None]
        key = max((key_of(p) for p in inputs), default=(-1, 0))
        groups.append(_Group(node, (key[0], key[1] + 1), row))
        return groups[-1]

    for node in nodes:
        read = reads([node])
        reason = why_not_fusible(node)
        joined = None
        if reason is not None and row_head(node):  # heads a group of its own; never joins one
            joined = new_group(node, read, row=True)
            group_of[node] = joined
        elif reason is None:
            joined = _join(node, read, position, group_of, key_of, producer, log)
            if joined is None:
                joined = new_group(node, read)
            group_of[node] = joined
        elif node.op.kind == ELEMENTWISE and any(producer(x) in group_of for x in read):
            log.append(("kept", node, f"{node.op.name} not fused: {reason}"))
        for x in read:
            p = producer(x)
            g = group_of.get(p) if p is not None else None
            if g is not None and g is not joined:
                g.users.append(node)
    fused = {}
    real = [g for g in {id(g): g for g in group_of.values()}.values() if len(g.members) > 1]
    written = {id(g): reads(n for n in nodes if group_of.get(n) is not g) | escaping
               for g in real}  # before any body takes its members' reads away
    for g in real:
        fused[id(g)] = _build(g, written[id(g)], group_of, made, log)
    order = []
    for node in nodes:
        g = group_of.get(node)
        if g is None or len(g.members) == 1:
            order.append((key_of(node), position[node], node))
        elif node is g.members[-1]:
            order.append((g.key, position[node], fused[id(g)]))
    order.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in order]


def _split_epilogues(nodes: list, escaping: set, log: list) -> list:
    """Replace each op that has an `epilogue` rule (addmm) and a reader that could fuse with its
    tail by its core and that tail, so the tail joins the reader's group: the product is then
    read once by one kernel doing bias, activation and residual. Only where every reader is a
    node of this list reading the value directly, and the tail itself can fuse. Where the one
    reader is a view keeping the last dim (a linear layer's rows viewed back to [B, T, n]), the
    view moves between the core and a tail whose other operands are rows broadcast over every
    leading dim, so the tail fuses with the view's readers instead."""
    readers: dict = {}
    for node in nodes:
        for x in reads([node]):
            readers.setdefault(x, []).append(node)
    out, skip = [], set()
    for node in nodes:
        if node in skip:
            continue
        rule = node.op.algebra.epilogue
        y = node.outputs[0] if rule is not None and len(node.outputs) == 1 else None
        users = readers.get(y, []) if y is not None else []
        view = _view_through(y, users, escaping, readers) if y is not None else None
        target = view.outputs[0] if view is not None else y
        if view is not None:
            users = readers.get(target, [])
        if y is None or not _fusible_readers(target, users, escaping):
            out.append(node)
            continue
        emitted: list = []
        emit = Emitter(emitted, carried_meta(node))
        new = rule(node, emit)
        if view is not None and new is not None:
            emitted, new = _view_before_tail(emitted, new, view, emit)
        tail = [n for n in emitted if n.op.kind == ELEMENTWISE]
        if new is None or new.type != target.type or not tail or any(
                why_not_fusible(n) is not None for n in tail):
            out.append(node)
            continue
        for u in users:
            u.inputs = [new if x is target else x for x in u.inputs]
        if view is not None:
            skip.add(view)
        out += emitted
        log.append(("rewritten", node, f"{node.op.name} split into "
                    f"{', '.join(n.op.name for n in emitted)}: its elementwise tail fuses with "
                    f"{', '.join(dict.fromkeys(u.op.name for u in users))}"))
    return out


def _fusible_readers(y: Value, users: list, escaping: set) -> bool:
    """`y` is read only by nodes of the list, directly, one of which could fuse over its shape."""
    return y not in escaping and any(
        why_not_fusible(u) is None and u.outputs[0].type.shape == y.type.shape
        for u in users) and not any(y not in u.inputs or u.blocks for u in users)


def _view_through(y: Value, users: list, escaping: set, readers: dict) -> Node | None:
    """The one reader of `y` when it is a reshaping view that keeps the last dim, else None."""
    if len(users) != 1 or y in escaping:
        return None
    v = users[0]
    alg = v.op.algebra
    if not (alg.reshape_like and v.op.kind == "view" and len(v.outputs) == 1
            and v.inputs == [y] and not v.blocks):
        return None
    shape, before = tuple(v.outputs[0].type.shape), tuple(y.type.shape)
    return v if shape and before and shape[-1] == before[-1] else None


def _view_before_tail(emitted: list, new: Value, view: Node, emit: Emitter) -> tuple:
    """Re-emit an epilogue as core, `view` of the core's product, then the tail over the view;
    (nodes, result), or (emitted, None) where a tail operand is not a row broadcast over every
    leading dim (a full matrix would not broadcast the same way after the view)."""
    core, tail = emitted[:1], emitted[1:]
    if not core or core[0].op.kind == ELEMENTWISE or any(
            n.op.kind != ELEMENTWISE for n in tail):
        return emitted, None
    made = {n.outputs[0] for n in emitted}
    for n in tail:
        for x in n.inputs:
            shape = tuple(x.type.shape) if isinstance(x, Value) and x not in made else ()
            if any(d != 1 for d in shape[:-1]):
                return emitted, None
    out: list = []
    emit.emitted = out
    out.append(core[0])
    mapping = {core[0].outputs[0]: emit(view.op, [core[0].outputs[0]], dict(view.attrs))}
    for n in tail:
        mapping[n.outputs[0]] = emit(n.op, [mapping.get(x, x) for x in n.inputs],
                                     dict(n.attrs))
    return out, mapping.get(new)


def _join(node: Node, read: set, position: dict, group_of: dict, key_of: Any, producer: Any,
          log: list) -> _Group | None:
    """Add `node` to the group(s) of its producers of the same shape, merging them, if the
    schedule allows; the group it joined, or None."""
    shape = tuple(node.outputs[0].type.shape)
    candidates = []
    for x in node.inputs:
        p = producer(x)
        g = group_of.get(p) if p is not None else None
        if g is not None and g not in candidates:
            if g.shape == shape:
                candidates.append(g)
            else:
                log.append(("kept", node, f"{node.op.name} not fused with {p.op.name}: shapes "
                                          f"{list(g.shape)} and {list(shape)} differ"))
    if not candidates:
        return None
    # a row-headed group takes consumers one group at a time (its head stays its first node)
    tries = [candidates] if len(candidates) > 1 and not any(g.row for g in candidates) else []
    tries += [[g] for g in sorted(candidates, key=lambda g: -len(g.members))]
    for merge in tries:
        blocker = _blocker(node, merge, read, group_of, key_of, producer)
        if blocker is None:
            target = merge[0]
            for g in merge[1:]:
                target.members += g.members
                target.users += g.users
                target.key = max(target.key, g.key)
                for m in g.members:
                    group_of[m] = target
            target.members.append(node)
            target.members.sort(key=lambda m: position[m])
            target.key = _merged_key(node, merge, read, group_of, key_of, producer)
            members = set(target.members)
            target.users = [u for u in dict.fromkeys(target.users) if u not in members]
            return target
        if merge is tries[-1]:
            log.append(("kept", node, f"{node.op.name} not fused: {blocker} reads the group's "
                                      "values and must run before it"))
    return None


def _merged_key(node: Node, merge: list, read: set, group_of: dict, key_of: Any,
                producer: Any) -> tuple:
    outside = [p for p in map(producer, read) if p is not None and group_of.get(p) not in merge]
    key = max((key_of(p) for p in outside), default=(-1, 0))
    return max([g.key for g in merge] + [(key[0], key[1] + 1)])


def _blocker(node: Node, merge: list, read: set, group_of: dict, key_of: Any,
             producer: Any) -> str | None:
    """The op of an outside reader that would have to run before the merged group, or None."""
    new_key = _merged_key(node, merge, read, group_of, key_of, producer)
    members = {m for g in merge for m in g.members} | {node}
    for g in merge:
        for u in g.users:
            if u not in members and not key_of(u) > new_key:
                return u.op.name
    return None


def _build(g: _Group, outside_reads: set, group_of: dict, made: list, log: list) -> Node:
    """The fused node for a group: its body holds the members; it writes the members' values
    that anything outside the group reads."""
    members = set(g.members)
    mapping: dict = {}
    body = Block("body")
    inputs: list = []
    for m in g.members:
        for x in m.inputs:
            if isinstance(x, Value) and x.node not in members and x not in mapping:
                v = Value(x.type, None)
                mapping[x] = v
                body.inputs.append(v)
                inputs.append(x)
    body.nodes = list(g.members)
    for m in g.members:
        m.inputs = [mapping.get(x, x) if isinstance(x, Value) else x for x in m.inputs]
    yields = [v for m in g.members for v in m.outputs if v in outside_reads]
    body.outputs = list(yields)
    names = ", ".join(m.op.name for m in g.members)
    node = Node(get("fused"), inputs, {"kernel": names}, [v.type for v in yields], [body])
    node.meta.update(merged_meta(g.members))
    made.append((node, g.members, yields))
    log.append(("fused", node, f"fused[{names}]: {len(g.members)} ops in one kernel, "
                               f"{len(yields)} value(s) written"))
    return node

