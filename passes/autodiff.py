"""The autodiff pass: a graph's backward graph, built by running each op's VJP rule under the
tracer — the same rules eager autograd runs, so there is no second set of derivative formulas.

`differentiate(graph, wrt)` returns a forward graph (the original plus *residual* outputs: the
values the VJP rules read) and a backward graph (output gradients and residuals in, input
gradients out). Control flow is differentiated structurally:

- `if`: the backward graph has an `if` on the same condition whose arms run the backward of the
  arm taken; a value one arm saves becomes an extra output of the forward `if` (the other arm
  yields a filler), so each residual is a plain value outside.
- `loop`: the forward loop also counts its iterations and appends, per iteration, what the body's
  VJPs read to a residual list; the backward loop runs the body's backward that many times in
  reverse, reading the lists by iteration (and a scan output's gradient at that iteration, the
  gradient of the item the body yielded). This covers `while` loops whose trip count depends on
  the data — reverse mode through them is what `lax.while_loop` cannot do.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from dualgraph.autograd.grad_mode import no_grad
from dualgraph.autograd.vjp import Ctx, fit_grads
from dualgraph.dispatch import interpreting
from dualgraph.ir.errors import DualgraphError
from dualgraph.ir.graph import MODULE, Block, Graph, Node, Value, operand_type, walk
from dualgraph.ir.registry import get
from dualgraph.ir.types import ListType, TensorType, int64
from dualgraph.ir.verify import verify
from dualgraph.jit.blocks import BlockTracer
from dualgraph.size import SymDim

IF, LOOP, FULL, ADD = get("if"), get("loop"), get("full"), get("add")
SCALAR_TENSOR = get("scalar_tensor")
LIST_NEW, LIST_APPEND, LIST_GET = get("list_new"), get("list_append"), get("list_get")


class AutodiffError(DualgraphError):
    """The graph holds something graph autodiff cannot differentiate."""


class Gradient:
    """The result of `differentiate`: forward and backward graphs and how they connect."""

    def __init__(self, forward: Graph, backward: Graph, grad_outputs: list, wrt: list,
                 n_outputs: int) -> None:
        self.forward = forward  # outputs: the original's, then residuals
        self.backward = backward  # inputs: a grad per `grad_outputs`, then residuals
        self.grad_outputs = grad_outputs  # indices of outputs that carry gradients
        self.wrt = wrt  # indices of inputs the backward gives gradients for, in order
        self.n_outputs = n_outputs  # the original graph's outputs (the rest are residuals)


def differentiate(graph: Graph, wrt: Sequence[bool]) -> Gradient:
    """Build forward-with-residuals and backward graphs of `graph`, differentiating the outputs
    with respect to the inputs marked in `wrt` (floating-point tensors only)."""
    fwd = copy_graph(graph)
    n_user = graph.meta.get("n_user_outputs", len(graph.outputs))
    wrt_idx = [i for i, (v, w) in enumerate(zip(fwd.inputs, wrt)) if w and _floating(v.type)]
    active = {fwd.inputs[i] for i in wrt_idx}
    _activity(fwd.nodes, active)
    bwd = Graph(name=f"{graph.name}_backward")
    tracer = BlockTracer(bwd)
    ad = _Autodiff(fwd, bwd, tracer, active)
    grads: dict = {}
    grad_outputs = []
    top = _TopScope(ad)
    with no_grad(), interpreting(tracer):
        for i, o in enumerate(fwd.outputs[:n_user]):
            if isinstance(o, Value) and o in active:
                grad_outputs.append(i)
                ad.accumulate(grads, o, tracer.wrap(bwd.add_input(o.type, f"grad_{i}")))
        ad.backprop(fwd.nodes, grads, top)
        outs = []
        for i in wrt_idx:
            v = fwd.inputs[i]
            g = grads.get(v)
            outs.append(tracer.value_of(g) if g is not None else
                        tracer.current(tracer.filler(v.type)))
    bwd.outputs = outs
    _bind_symbols(fwd, bwd, top)
    if os.environ.get("DUALGRAPH_CHECK"):  # the tests run with it: both graphs must verify
        verify(fwd)
        verify(bwd)
    return Gradient(fwd, bwd, grad_outputs, wrt_idx, len(graph.outputs))


def copy_graph(graph: Graph) -> Graph:
    """A deep copy of a graph's structure (nodes, blocks, values); tensors and meta shared."""
    mapping: dict = {}

    def val(x: Any) -> Any:
        return mapping[x] if isinstance(x, Value) else x

    def fresh(v: Value) -> Value:
        mapping[v] = Value(v.type, v.name)
        return mapping[v]

    def nodes(src: list) -> list:
        out = []
        for n in src:
            blocks = []
            for b in n.blocks:
                nb = Block(b.name, [fresh(i) for i in b.inputs])
                nb.nodes = nodes(b.nodes)
                nb.outputs = [val(y) for y in b.outputs]
                blocks.append(nb)
            new = Node(n.op, [val(x) for x in n.inputs], n.attrs, [o.type for o in n.outputs],
                       blocks)
            new.meta = dict(n.meta)
            for o, no in zip(n.outputs, new.outputs):
                no.name = o.name
                mapping[o] = no
            out.append(new)
        return out

    g = Graph([fresh(v) for v in graph.inputs], name=graph.name)
    g.nodes = nodes(graph.nodes)
    g.outputs = [val(v) for v in graph.outputs]
    g.tensors = graph.tensors
    g.meta = dict(graph.meta)
    return g


def _floating(t: Any) -> bool:
    return isinstance(t, TensorType) and t.dtype.is_floating_point


def backprop_in_graph(graph: Graph, tracer: BlockTracer, seeds: Sequence, leaves: Sequence,
                      frozen: frozenset | set = frozenset()) -> dict:
    """Gradients built into `graph` itself, where the tracer that is capturing it emits them:
    `seeds` are (value, its gradient tensor) pairs, the result maps each of `leaves` that the
    seeds depend on to its gradient tensor. Nodes in `frozen` (ids: those recorded under
    no_grad) pass no gradient. What a traced training step's `loss.backward()` runs; the VJPs
    read forward values directly, so there are no residuals."""
    active = set(leaves)
    _activity(graph.nodes, active, frozen)
    ad = _Autodiff(graph, graph, tracer, active, frozen)
    grads: dict = {}
    with no_grad():
        for v, g in seeds:
            if v in active:
                ad.accumulate(grads, v, g)
        ad.backprop(list(graph.nodes), grads, _SameGraphScope(ad))
    return {v: grads[v] for v in leaves if v in grads}


def _activity(nodes: list, active: set, frozen: frozenset | set = frozenset()) -> None:
    """Add to `active` every value that depends differentiably on an active one (through no
    node of `frozen`)."""
    for n in nodes:
        if id(n) in frozen:
            continue
        if n.op.name == "if":
            for b in n.blocks:
                _activity(b.nodes, active)
            for i, o in enumerate(n.outputs):
                if _floating(o.type) and any(b.outputs[i] in active for b in n.blocks
                                             if isinstance(b.outputs[i], Value)):
                    active.add(o)
        elif n.op.name == "loop":
            body = n.blocks[0]
            while True:
                before = len(active)
                for k, (x, bi) in enumerate(zip(n.inputs[2:], body.inputs[1:])):
                    y = body.outputs[1 + k]
                    if _floating(bi.type) and (x in active or (isinstance(y, Value)
                                                                and y in active)):
                        active.add(bi)
                _activity(body.nodes, active)
                if len(active) == before:
                    break
            for bi, o in zip(body.inputs[1:], n.outputs):
                if bi in active:
                    active.add(o)
            n_carried = len(n.inputs) - 2
            for o, y in zip(n.outputs[n_carried:], body.outputs[1 + n_carried:]):  # scans
                if _floating(o.type) and isinstance(y, Value) and y in active:
                    active.add(o)
        elif n.op.differentiable and any(x in active for x in n.input_values()):
            active.update(o for o in n.outputs if _floating(o.type))


def _outer_uses(block: Block) -> list:
    """Values a block reads (its nodes', nested ones', and its yields) defined outside it."""
    inside = set(block.inputs)
    for n in walk(block.nodes):
        inside.update(n.outputs)
        for b in n.blocks:
            inside.update(b.inputs)
    found: dict = {}
    for n in walk(block.nodes):
        for x in n.inputs:
            if isinstance(x, Value) and x not in inside:
                found[x] = None
        for b in n.blocks:
            for y in b.outputs:
                if isinstance(y, Value) and y not in inside:
                    found[y] = None
    for y in block.outputs:
        if isinstance(y, Value) and y not in inside:
            found[y] = None
    return list(found)


def _shape(t: TensorType) -> tuple:
    """A type's shape as VJP rules see it: symbolic sizes as SymDims (which compute)."""
    return tuple(SymDim(d) if isinstance(d, str) else d for d in t.shape)


class _Autodiff:
    def __init__(self, fwd: Graph, bwd: Graph, tracer: BlockTracer, active: set,
                 frozen: frozenset | set = frozenset()) -> None:
        self.fwd, self.bwd, self.tracer, self.active = fwd, bwd, tracer, active
        self.frozen = frozen

    def accumulate(self, grads: dict, v: Value, g: Any) -> None:
        grads[v] = g if v not in grads else grads[v] + g

    def zeros(self, t: Any) -> Any:
        return self.tracer.filler(t)

    # ---------------------------------------------------------------------------- walking
    def backprop(self, nodes: list, grads: dict, scope: Any) -> None:
        for node in reversed(nodes):
            if id(node) in self.frozen:
                continue
            if node.op.name == "if":
                self.if_vjp(node, grads, scope)
            elif node.op.name == "loop":
                self.loop_vjp(node, nodes, grads, scope)
            elif node.op.differentiable:
                self.node_vjp(node, grads, scope)

    def node_vjp(self, node: Node, grads: dict, scope: Any) -> None:
        op = node.op
        gs = [grads.get(o) for o in node.outputs]
        if all(g is None for g in gs):
            return
        needs = tuple(isinstance(x, Value) and x in self.active for x in node.inputs)
        if not any(needs):
            return
        inputs = []
        for i, x in enumerate(node.inputs):
            if not isinstance(x, Value):
                inputs.append(x)
            elif i in op.save_inputs:
                inputs.append(scope.fetch(x))
            else:
                inputs.append(None)
        output = None
        if op.save_output:
            keep = op.save_output  # True, or the indices of the outputs the rule reads
            output = scope.fetch(node.outputs[0]) if op.num_outputs == 1 else tuple(
                scope.fetch(o) if keep is True or i in keep else None
                for i, o in enumerate(node.outputs))
        types = [x.type if isinstance(x, Value) else None for x in node.inputs]
        ctx = Ctx(op, tuple(inputs), output, node.attrs,
                  tuple(_shape(t) if isinstance(t, TensorType) else None for t in types),
                  tuple(t.dtype if isinstance(t, TensorType) else None for t in types),
                  tuple(t.device if isinstance(t, TensorType) else None for t in types), needs)
        if op.num_outputs == 1:
            g: Any = gs[0]
        else:
            g = tuple(gi if gi is not None or not _floating(o.type) else self.zeros(o.type)
                      for gi, o in zip(gs, node.outputs))
        with self.tracer.in_module(node.meta.get(MODULE) or ""):  # its module's backward
            results = fit_grads(op.vjp(ctx, g), ctx)
        for x, r in zip(node.inputs, results):
            if r is not None and isinstance(x, Value):
                self.accumulate(grads, x, r)

    # ------------------------------------------------------------------------------ if
    def if_vjp(self, node: Node, grads: dict, scope: Any) -> None:
        tr = self.tracer
        gouts = [grads.get(o) for o in node.outputs]
        if all(g is None for g in gouts):
            return
        free = [v for v in dict.fromkeys(
            v for b in node.blocks for v in _outer_uses(b)) if v in self.active]
        if not free:
            return
        cond = node.inputs[0]
        cond_b = scope.fetch(cond) if isinstance(cond, Value) else cond
        blocks = []
        for k, block in enumerate(node.blocks):
            arm = _IfScope(self, node, k, scope)
            bblock = arm.bblock = Block(block.name)
            with tr.into(bblock):
                local: dict = {}
                for y, g in zip(block.outputs, gouts):
                    if g is not None and isinstance(y, Value) and y in self.active:
                        self.accumulate(local, y, g)
                self.backprop(block.nodes, local, arm)
                bblock.outputs = [tr.value_of(local[f]) if f in local else
                                  tr.current(self.zeros(f.type)) for f in free]
            blocks.append(bblock)
        cond_value = tr.value_of(cond_b) if not isinstance(cond_b, bool) else cond_b
        out = tr.append(Node(IF, [cond_value], {}, [f.type for f in free], blocks))
        for f, o in zip(free, out.outputs):
            self.accumulate(grads, f, tr.wrap(o))

    # ---------------------------------------------------------------------------- loop
    def loop_vjp(self, node: Node, siblings: list, grads: dict, scope: Any) -> None:
        tr = self.tracer
        body = node.blocks[0]
        carried = body.inputs[1:]
        act = [k for k, bi in enumerate(carried) if bi in self.active]
        free = [v for v in _outer_uses(body) if v in self.active]
        scans = [(y, grads[o]) for o, y in zip(node.outputs[len(carried):],
                                               body.outputs[1 + len(carried):])
                 if grads.get(o) is not None and isinstance(y, Value) and y in self.active]
        if not any(grads.get(node.outputs[k]) is not None for k in act) and not scans and \
                not free:
            return
        if not act and not free:
            return
        inner = _LoopScope(self, node, siblings, scope)
        count = inner.trip_count()
        bblock = inner.bblock = Block("body")
        k_in = Value(int)
        bblock.inputs = [k_in]
        entries = []
        for k in act:
            g = grads.get(node.outputs[k])
            entries.append(tr.current(g) if g is not None else tr.current(self.zeros(
                carried[k].type)))
            bblock.inputs.append(Value(carried[k].type))
        for f in free:
            entries.append(tr.current(self.zeros(f.type)))
            bblock.inputs.append(Value(f.type))
        with tr.into(bblock):
            step = tr.wrap(tr._emit(SCALAR_TENSOR, [k_in], {}))
            inner.index = (count - 1) - step  # the forward iteration this one reverses
            local: dict = {}
            for k, gv in zip(act, bblock.inputs[1:]):
                y = body.outputs[1 + k]
                if isinstance(y, Value) and y in self.active:
                    self.accumulate(local, y, tr.wrap(gv))
            for y, g in scans:  # a scan output's gradient, at the iteration reversed
                self.accumulate(local, y, g[inner.index])
            self.backprop(body.nodes, local, inner)
            yields: list = [True]
            for k in act:
                g = local.get(carried[k])
                yields.append(tr.value_of(g) if g is not None else
                              tr.current(self.zeros(carried[k].type)))
            for f, acc in zip(free, bblock.inputs[1 + len(act):]):
                g = local.get(f)
                yields.append(tr.value_of(tr.wrap(acc) + g) if g is not None else acc)
            bblock.outputs = yields
        out = tr.append(Node(LOOP, [tr.value_of(count), True, *entries], {},
                             [v.type for v in bblock.inputs[1:]], [bblock]))
        outs = iter(out.outputs)
        for k in act:
            x = node.inputs[2 + k]
            o = next(outs)
            if isinstance(x, Value) and x in self.active:
                self.accumulate(grads, x, tr.wrap(o))
        for f in free:
            self.accumulate(grads, f, tr.wrap(next(outs)))


class _TopScope:
    """Residuals of the graph's own scope: forward outputs, backward inputs."""

    def __init__(self, ad: _Autodiff) -> None:
        self.ad = ad
        self.saved: dict = {}

    def fetch(self, v: Value) -> Any:
        ad = self.ad
        known = self.saved.get(v)
        if known is None:
            if not isinstance(v.type, (TensorType, ListType)):
                raise AutodiffError(f"a VJP needs the non-tensor value %{v.name} ({v.type}); "
                                    "graph autodiff saves tensors only")
            ad.fwd.outputs.append(v)
            known = self.saved[v] = ad.bwd.add_input(v.type, f"saved_{len(self.saved)}")
        return _backward_value(ad.tracer, known)


class _SameGraphScope:
    """Residuals of a backward built into its forward's own graph: the forward values."""

    def __init__(self, ad: _Autodiff) -> None:
        self.ad = ad

    def fetch(self, v: Value) -> Any:
        return _backward_value(self.ad.tracer, v)


class _IfScope:
    """Residuals defined in one arm of an `if`: yielded out as new outputs of the node."""

    def __init__(self, ad: _Autodiff, node: Node, arm: int, parent: Any) -> None:
        self.ad, self.node, self.arm, self.parent = ad, node, arm, parent
        self.block = node.blocks[arm]
        self.saved: dict = {}
        self.bblock: Block | None = None

    def fetch(self, v: Value) -> Any:
        if v.node is None or not any(n is v.node for n in self.block.nodes):
            return self.parent.fetch(v)  # defined outside this arm (outputs added since too)
        known = self.saved.get(v)
        if known is None:
            node = self.node
            out = Value(v.type)
            out.node, out.index = node, len(node.outputs)
            node.outputs.append(out)
            for k, block in enumerate(node.blocks):
                if k == self.arm:
                    block.outputs.append(v)
                else:
                    block.outputs.append(_filler_node(block, v.type))
            known = self.saved[v] = self.parent.fetch(out)
        return known


class _LoopScope:
    """Residuals defined in a loop body: appended per iteration to a list the loop carries,
    read back by the backward loop at the iteration it reverses."""

    def __init__(self, ad: _Autodiff, node: Node, siblings: list, parent: Any) -> None:
        self.ad, self.node, self.siblings, self.parent = ad, node, siblings, parent
        self.body = node.blocks[0]
        self.saved: dict = {}
        self.bblock: Block | None = None
        self.index: Any = None

    def _carry(self, init: Node, step_value: Any, typ: Any) -> Value:
        """Add a carried value to the forward loop: `init` (a node placed before the loop)
        enters, `step_value(body_input)` is yielded; returns the loop's new output."""
        node, body = self.node, self.body
        n_carried = len(node.inputs) - 2  # the new value goes after these, before any scans
        self.siblings.insert(self.siblings.index(node), init)
        node.inputs.append(init.output)
        inp = Value(typ)
        body.inputs.append(inp)
        body.outputs.insert(1 + n_carried, step_value(inp))
        out = Value(typ)
        out.node = node
        node.outputs.insert(n_carried, out)
        for i, o in enumerate(node.outputs):
            o.index = i
        return out

    def trip_count(self) -> Any:
        """The number of iterations the forward loop ran, as a backward value."""
        count_t = TensorType(int64, ())
        init = _make_node(FULL, [], {"size": (), "fill_value": 0, "dtype": int64,
                                     "device": None})

        def step(inp: Value) -> Value:
            n = _make_node(ADD, [inp, 1], {})
            self.body.nodes.append(n)
            return n.output

        out = self._carry(init, step, count_t)
        return self.parent.fetch(out)

    def fetch(self, v: Value) -> Any:
        inside = any(v is i for i in self.body.inputs) or (
            v.node is not None and any(n is v.node for n in self.body.nodes))
        if not inside:
            return self.parent.fetch(v)
        known = self.saved.get(v)
        if known is None:
            if not isinstance(v.type, (TensorType, ListType)):
                raise AutodiffError(f"a VJP needs the loop's counter %{v.name}; use "
                                    "scalar_tensor(counter) in the body")
            typ = ListType(v.type)
            init = _make_node(LIST_NEW, [], {"element": v.type})

            def step(inp: Value) -> Value:
                n = _make_node(LIST_APPEND, [inp, v], {})
                self.body.nodes.append(n)
                return n.output

            out = self._carry(init, step, typ)
            tr = self.ad.tracer
            with tr.into(self.bblock):  # at the body's top level: every nested block sees it
                lst = self.parent.fetch(out)
                lst = lst if isinstance(lst, Value) else tr.value_of(lst)
                got = tr._emit(LIST_GET, [lst, tr.value_of(self.index)], {})
                known = self.saved[v] = _backward_value(tr, got)
        return known


def _backward_value(tracer: BlockTracer, v: Value) -> Any:
    """A tensor for the VJP rules to compute with; a residual list stays a bare Value."""
    return tracer.wrap(v) if isinstance(v.type, TensorType) else v


def _make_node(op: Any, inputs: list, attrs: dict) -> Node:
    attrs = op.full_attrs(attrs)
    return Node(op, inputs, attrs, op.meta_all([operand_type(x) for x in inputs], attrs))


def _filler_node(block: Block, typ: Any) -> Value:
    """What an arm that did not compute a residual yields in its place: zeros, or an empty
    residual list (a loop that never ran there)."""
    if isinstance(typ, ListType):
        n = _make_node(LIST_NEW, [], {"element": typ.element})
    else:
        n = _make_node(FULL, [], {"size": typ.shape, "fill_value": 0, "dtype": typ.dtype,
                                  "device": typ.device})
    block.nodes.append(n)
    return n.output


def _bind_symbols(fwd: Graph, bwd: Graph, top: _TopScope) -> None:
    """Every symbolic size of the forward inputs must be readable from a backward input: where
    none carries it, save the forward input that does."""
    bound = {d for v in bwd.inputs if isinstance(v.type, TensorType) for d in v.type.shape
             if isinstance(d, str)}
    for sym in fwd.symbols():
        if sym not in bound:
            source = next(v for v in fwd.inputs if isinstance(v.type, TensorType)
                          and sym in v.type.shape)
            top.fetch(source)
            bound.update(d for d in source.type.shape if isinstance(d, str))
