"""Running a captured graph: `GraphFunction` (what `trace` returns and `load` gives back).

Two ways to execute, which must agree (tests check it): generated code for speed — raw arrays
through the kernels, no autograd — and `run_reference`, a node-by-node interpreter that calls every
op through `dispatch.bind`, used when gradients are wanted so that eager autograd records them.

A graph's inputs are the user's inputs followed by state: the parameters and buffers of the
traced module, read afresh at every call (so `optimizer.step()` is seen) or, for a loaded file,
the stored tensors. Outputs are the user's outputs followed by write-backs: the new values of
inputs and buffers the function changed in place or reassigned.
"""

from __future__ import annotations

import weakref
from typing import Any, Sequence

from .. import recording
from ..amp.autocast_mode import check_captured
from ..autograd.grad_mode import no_grad, state as grad_state
from ..runtime import backend_for
from ..dispatch import bind
from ..ir.errors import DualgraphError
from ..ir.graph import Graph, Value
from ..ir.registry import get
from ..ir.symbolic import SYMBOL, SymExpr, evaluate, solve, symbols_of
from ..ir.text import format_type
from ..ir.types import TensorType
from ..tensor import Tensor, _wrap
from .codegen import compile_graph, instrumented


class GraphInputError(DualgraphError, RuntimeError):
    """A compiled graph was called with inputs that do not fit its input types."""


def bind_symbols(graph: Graph, tensors: Sequence[Tensor], name: str) -> dict:
    """Check each input against its type; return the sizes the symbols take. A dim that is a
    symbol binds it; a dim that is an expression (`B*T`) must equal its value, and binds its one
    unknown symbol when it is linear in it (`6*B` of size 12: B = 2)."""
    static = _static_types(graph)
    if static is not None and len(tensors) == len(static):  # no symbols: compare and go
        for (dtype, shape, device), t in zip(static, tensors):
            if not (isinstance(t, Tensor) and t._dtype is dtype and t._data is not None and
                    t._data.shape == shape and t._device is device):
                break
        else:
            return {}
    if len(tensors) != len(graph.inputs):
        n_user = graph.meta.get("user_inputs", len(graph.inputs))
        raise GraphInputError(f"{name}() takes {n_user} tensor inputs "
                              f"({', '.join(v.name for v in graph.inputs[:n_user])}), got "
                              f"{len(tensors) - (len(graph.inputs) - n_user)}")
    sizes: dict = {}
    deferred = []
    for v, t in zip(graph.inputs, tensors):
        typ = v.type
        if not isinstance(t, Tensor):
            raise GraphInputError(f"{name}(): input '{v.name}' must be a Tensor of type "
                                  f"{format_type(typ)}, got {type(t).__name__}")
        shape = t._data.shape
        ok = t._dtype is typ.dtype and len(shape) == len(typ.shape) and t._device is typ.device
        earlier = dict(sizes)
        for want, got in zip(typ.shape, shape):
            if not isinstance(want, str):
                ok = ok and want == got
            elif SYMBOL.match(want):
                ok = ok and sizes.setdefault(want, got) == got
            else:
                deferred.append((v, t, want, got, earlier))
        if not ok:
            _input_error(name, v, t, earlier)
    while deferred:  # expressions: solve what they fix, then check every one
        left = []
        for item in deferred:
            v, t, want, got, earlier = item
            try:
                solved = solve(want, got, sizes)
            except ValueError:
                _input_error(name, v, t, earlier)
            if solved is not None:
                sizes[solved[0]] = solved[1]
            elif all(s in sizes for s in symbols_of(want)):
                if evaluate(want, sizes) != got:
                    _input_error(name, v, t, earlier)
            else:
                left.append(item)
        if len(left) == len(deferred):
            v, t, want, got, earlier = left[0]
            raise GraphInputError(f"{name}(): input '{v.name}' has the size {want}, whose "
                                  "symbols no input binds on its own")
        deferred = left
    _check_derived_sizes(graph, sizes, name)
    return sizes


_DERIVED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_STATIC: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _static_types(graph: Graph) -> list | None:
    """(dtype, shape, device) of each input of a graph whose input sizes are all numbers (its
    calls then need no symbol solving: the fast path of bind_symbols), else None."""
    found = _STATIC.get(graph, False)
    if found is False:
        types = [v.type for v in graph.inputs]
        found = None
        if all(isinstance(t, TensorType) and all(isinstance(d, int) for d in t.shape)
               for t in types):
            found = [(t.dtype, tuple(t.shape), t.device) for t in types]
        _STATIC[graph] = found
    return found


def _derived_sizes(graph: Graph) -> list:
    """(expression, the op and source making it) of each size in the graph that some sizes of its symbols would
    make negative (`B - 2`, from `x[1:-1]`): slicing takes the symbol to be large enough."""
    found = _DERIVED.get(graph)
    if found is None:
        seen: dict = {}
        for node in graph.all_nodes():
            for out in node.outputs:
                for d in getattr(out.type, "shape", ()):
                    if isinstance(d, SymExpr) and not d.is_symbol and d not in seen and \
                            any(c < 0 for c in d.poly.values()):
                        where = node.meta.get("source") if isinstance(node.meta, dict) else None
                        seen[d] = f"{node.op.name}" + (f" at {where}" if where else "")
        found = _DERIVED[graph] = list(seen.items())
    return found


def _check_derived_sizes(graph: Graph, sizes: dict, name: str) -> None:
    for expr, value in _derived_sizes(graph):
        if all(s in sizes for s in expr.symbols) and evaluate(expr, sizes) < 0:
            bound = ", ".join(f"{s}={sizes[s]}" for s in expr.symbols)
            raise GraphInputError(f"{name}(): with {bound} the size {expr} of {value} would be "
                                  "negative: the graph slices a symbolic dimension that the "
                                  "inputs make too small")


def _input_error(name: str, v: Any, t: Tensor, earlier: dict) -> None:
    got_type = format_type(TensorType(t._dtype, t._data.shape, t._device))
    raise GraphInputError(f"{name}(): input '{v.name}' expected {format_type(v.type)}, got "
                          f"{got_type}" + _symbol_note(v.type, earlier))


def _symbol_note(typ: TensorType, sizes: dict) -> str:
    bound = [f"{s}={sizes[s]}" for s in dict.fromkeys(
        s for d in typ.shape for s in symbols_of(d)) if s in sizes]
    return f" (already bound by earlier inputs: {', '.join(bound)})" if bound else ""


def _resolve(v: Any, sizes: dict) -> Any:
    """An attribute with its symbolic sizes replaced by their values."""
    if isinstance(v, str):
        if v in sizes:
            return sizes[v]
        if isinstance(v, SymExpr) and all(s in sizes for s in v.symbols):
            return evaluate(v, sizes)
        return v
    if isinstance(v, tuple):
        return tuple(_resolve(x, sizes) for x in v)
    if isinstance(v, list):
        return [_resolve(x, sizes) for x in v]
    if isinstance(v, slice):
        return slice(_resolve(v.start, sizes), _resolve(v.stop, sizes), _resolve(v.step, sizes))
    return v


def run_reference(graph: Graph, tensors: Sequence[Tensor]) -> list:
    """Execute node by node through `bind`: slow, but every op records autograd as in eager."""
    sizes = bind_symbols(graph, tensors, graph.name)
    env: dict = dict(zip(graph.inputs, tensors))
    _run_nodes(graph.nodes, env, sizes)
    return [env[v] if isinstance(v, Value) else v for v in graph.outputs]


def _run_nodes(nodes: list, env: dict, sizes: dict) -> None:
    for node in nodes:
        if node.op.control:
            _run_control(node, env, sizes)
            continue
        if node.op.region:  # a fused kernel means its body: run the body's ops one by one
            inputs = [env[x] if isinstance(x, Value) else x for x in node.inputs]
            env.update(zip(node.outputs, _run_block(node.blocks[0], {}, sizes, inputs)))
            continue
        args = [env[x] if isinstance(x, Value) else x for x in node.inputs]
        attrs = {k: _resolve(v, sizes) for k, v in node.attrs.items()}
        result = bind(node.op, args, attrs)
        for v, r in zip(node.outputs, result if node.op.num_outputs > 1 else (result,)):
            env[v] = r
            shape = r._data.shape if r._data is not None else tuple(
                getattr(d, "expr", d) for d in r.shape)  # a tracer's tensor: its sizes
            for sym, size in zip(v.type.shape, shape):  # data-dependent sizes
                if isinstance(sym, str):
                    sizes.setdefault(sym, size)


def _run_block(block: Any, env: dict, sizes: dict, inputs: Sequence) -> list:
    inner = dict(env)  # the block sees the enclosing scope; nothing it defines leaks out
    inner.update(zip(block.inputs, inputs))
    _run_nodes(block.nodes, inner, sizes)
    return [inner[y] if isinstance(y, Value) else y for y in block.outputs]


def _run_control(node: Any, env: dict, sizes: dict) -> None:
    """`if` runs one block; `loop` runs its body while count < trip and the condition holds."""
    value = lambda x: env[x] if isinstance(x, Value) else x  # noqa: E731
    if node.op.name == "if":
        block = node.blocks[0] if bool(value(node.inputs[0])) else node.blocks[1]
        results = _run_block(block, env, sizes, ())
    else:
        trip, cond, *carried = (value(x) for x in node.inputs)
        results, count, go = list(carried), 0, bool(cond)
        scans: list = [[] for _ in node.outputs[len(carried):]]
        while go and count < int(trip):
            go, *yields = _run_block(node.blocks[0], env, sizes, [count, *results])
            results = yields[:len(carried)]
            for items, y in zip(scans, yields[len(carried):]):
                items.append(y)
            go, count = bool(go), count + 1
        for items, v in zip(scans, node.outputs[len(carried):]):
            results.append(_stacked(items, v.type, sizes))
    env.update(zip(node.outputs, results))


def _stacked(items: list, typ: Any, sizes: dict) -> Tensor:
    """A scan output: its items stacked (through `bind`, so autograd sees it), or an empty
    [0, *item] tensor; its leading size is bound (a fresh symbol) or checked."""
    lead = typ.shape[0]
    if isinstance(lead, str) and lead not in sizes and not (
            isinstance(lead, SymExpr) and all(s in sizes for s in lead.symbols)):
        sizes[lead] = len(items)
    expected = _resolve(lead, sizes)
    if isinstance(expected, int) and expected != len(items):
        raise RuntimeError(f"a loop's scan output has {len(items)} items but its type says "
                           f"{lead} = {expected}")
    if items:
        return bind(get("stack"), items, {"dim": 0})
    shape = [_resolve(d, sizes) for d in typ.shape[1:]]
    return bind(get("full"), [], {"size": (0, *shape), "fill_value": 0, "dtype": typ.dtype,
                                  "device": typ.device})


class GraphFunction:
    """A callable compiled from a graph: `.graph`, `.code`, `.save()`; outputs keep the shape of
    the original function's return value (a tensor, or tuples, lists and dicts of them)."""

    def __init__(self, graph: Graph, state: Sequence[Any] = (), out_tree: Any = None,
                 name: str = "forward", opt_level: int = 3) -> None:
        self.graph_before_passes = graph
        self._state = list(state)  # callables returning the current state tensors, or tensors
        self._out_tree = out_tree if out_tree is not None else graph.meta.get("out_tree")
        self._name = name
        self.memory_budget = None
        self._optimize(opt_level)

    # --------------------------------------------------------------------------- passes
    def _optimize(self, opt_level: int) -> None:
        """Run the pass pipeline of `opt_level` on the captured graph; drop compiled code."""
        from dualgraph.passes.manager import check_level, optimize  # late: passes import jit
        self.opt_level = check_level(opt_level, f"{type(self).__name__}")
        self.graph, self._report = optimize(self.graph_before_passes, opt_level)
        self._compiled: dict = {}
        self.__dict__.pop("_gradients", None)

    def compile(self, opt_level: int = 3, *, memory_budget: Any = None) -> "GraphFunction":
        """Recompile in place at `opt_level` (default: every pass) and return this function.
        `memory_budget`: the residual bytes a training call may save for backward (an int, or
        a fraction of the unconstrained residual bytes); cheap values are recomputed in the
        backward to fit (docs/MEMORY.md, "Recomputation under a memory budget")."""
        from dualgraph.passes.recompute import check_budget  # late: passes import jit
        budget = check_budget(memory_budget, f"{self._name}.compile()",
                              bool(self.graph_before_passes.symbols()))
        self._optimize(opt_level)
        self.memory_budget = budget
        return self

    def explain(self) -> Any:
        """What each pass did to the captured graph: its time and every node it removed, merged,
        folded or rewrote, with the node's source line (prints as a table)."""
        return self._report

    # ------------------------------------------------------------------------------ compiled
    def _compiled_for(self, device: Any) -> tuple:
        entry = self._compiled.get(device)
        if entry is None:
            entry = self._compiled[device] = compile_graph(self.graph, backend_for(device),
                                                           self._name, _plan(self.graph))
        return entry

    @property
    def code(self) -> str:
        """The generated Python source (for the device of the graph's first input)."""
        return self._compiled_for(self._device())[1]

    def _device(self) -> Any:
        from ..ir.types import CPU
        return self.graph.inputs[0].type.device if self.graph.inputs else CPU

    def _state_tensors(self) -> list:
        return [s() if callable(s) else s for s in self._state]

    # --------------------------------------------------------------------------------- call
    def __call__(self, *args: Any) -> Any:
        tensors = list(args) + self._state_tensors()
        if any(isinstance(t, Tensor) and t._data is None for t in tensors):
            return self._inline(tensors)  # called while an outer function is being traced
        check_captured(self.graph.meta.get("autocast"), self._name)
        wants_grad = grad_state.enabled and any(
            isinstance(t, Tensor) and t._requires_grad for t in tensors)
        rec = recording.current()  # None unless profiling: then the call is one range
        index = -1 if rec is None else rec.begin(f"graph::{self._name}", "graph")
        try:
            if wants_grad:
                bind_symbols(self.graph, tensors, self._name)
                results = self._gradient(tensors)(tensors)
            else:
                bind_symbols(self.graph, tensors, self._name)
                fn = self._compiled_for(tensors[0]._device if tensors else self._device())[0]
                if rec is not None:
                    fn = instrumented(fn)
                arrays = fn(*(t._data for t in tensors))
                results = [_wrap(a, v.type.dtype, v.type.device)
                           for a, v in zip(arrays, self.graph.outputs)]
        finally:
            if rec is not None:
                rec.end(index)
        n_out = self.graph.meta.get("n_user_outputs", len(results))
        self._write_back(tensors, results[n_out:])
        return _unflatten(self._out_tree, results[:n_out])

    forward = __call__

    def _inline(self, tensors: list) -> Any:
        """Run the captured graph op by op through `bind`, so that the tracer of an enclosing
        `dg.jit.trace` records its nodes into the outer graph (and the outer graph's passes see
        through it). The graph's symbols take the outer sizes, which may be symbols too."""
        graph = self.graph_before_passes
        if len(tensors) != len(graph.inputs):
            bind_symbols(graph, tensors, self._name)  # the error for a wrong input count
        sizes: dict = {}
        for v, t in zip(graph.inputs, tensors):
            if not isinstance(t, Tensor):
                raise GraphInputError(f"{self._name}(): input '{v.name}' must be a Tensor of "
                                      f"type {format_type(v.type)}, got {type(t).__name__}")
            got = tuple(getattr(d, "expr", d) for d in t.shape)
            ok = t._dtype is v.type.dtype and len(got) == len(v.type.shape)
            for want, size in zip(v.type.shape, got):
                if isinstance(want, str) and SYMBOL.match(want):
                    ok = ok and sizes.setdefault(want, size) == size
                elif not isinstance(want, str):
                    ok = ok and want == size
            if not ok:
                raise GraphInputError(
                    f"{self._name}(): input '{v.name}' expected {format_type(v.type)}, got "
                    f"{format_type(TensorType(t._dtype, got, t._device))}")
        env: dict = dict(zip(graph.inputs, tensors))
        _run_nodes(graph.nodes, env, sizes)
        results = [env[v] if isinstance(v, Value) else v for v in graph.outputs]
        n_out = graph.meta.get("n_user_outputs", len(results))
        self._write_back(tensors, results[n_out:])
        return _unflatten(self._out_tree, results[:n_out])

    def _gradient(self, tensors: list) -> Any:
        """The compiled forward/backward pair for this set of inputs that require grad."""
        from .compiled_grad import wants_grad
        return self._gradient_for(tuple(wants_grad(tensors)))

    def _gradient_for(self, mask: tuple) -> Any:
        from .compiled_grad import CompiledGradient
        cache = self.__dict__.setdefault("_gradients", {})
        entry = cache.get(mask)
        if entry is None:
            # differentiate the graph as captured (fused nodes have no VJP); the forward and
            # backward graphs then go through the whole pipeline, fusion included
            entry = cache[mask] = CompiledGradient(self.graph_before_passes, mask, self._name,
                                                   self.opt_level, self.memory_budget)
        return entry

    def backward_graph(self, *inputs: Any) -> Any:
        """The backward graph used when these inputs (and the state) require grad."""
        return self._gradient(list(inputs) + self._state_tensors()).gradient.backward

    def memory_plan(self, *, backward: bool = False, **sizes: int) -> Any:
        """The memory plan of the optimized graph (opt_level 3) for `sizes` of its symbolic
        dims (`B=64`: ints; none given: formulas); `backward=True`: the plans of a training
        step's forward and backward graphs, gradients taken with respect to the state that
        requires grad (all floating inputs when none does), and the residuals between them.
        See docs/MEMORY.md."""
        from dualgraph.passes.memory import plan_of  # late: passes import jit
        from .memory_plan import check_sizes, resolve, training
        where = f"{self._name}.memory_plan()"
        if not isinstance(backward, bool):
            raise TypeError(f"{where}: backward must be a bool, got {type(backward).__name__}")
        if self.opt_level < 3:
            raise RuntimeError(f"{where}: memory planning runs at opt_level 3; this function "
                               f"was compiled at opt_level={self.opt_level} (call "
                               ".compile(3) first)")
        sizes = check_sizes(where, tuple(self.graph.symbols()), sizes)
        if not backward:
            return resolve(plan_of(self.graph), self._name, sizes)
        entry = self._gradient_for(self._training_mask())
        g = entry.gradient
        fwd = resolve(plan_of(g.forward), self._name, sizes)
        bwd = resolve(plan_of(g.backward), f"{self._name}_backward", sizes)
        names = plan_of(g.forward).names
        saved = {names.get(v) for v, read in zip(g.forward.outputs[g.n_outputs:], entry.reads)
                 if read and isinstance(v, Value)}
        residuals = [r for r in fwd.rows if r.value in saved]
        return training(fwd, bwd, residuals, tuple(s for s in g.forward.symbols()
                                                   if s not in sizes), entry.budget)

    def _training_mask(self) -> tuple:
        """Which inputs a training step differentiates: the state that requires grad, or all
        floating user inputs when no state does."""
        n_user = self.graph.meta.get("user_inputs", len(self.graph.inputs))
        types = [v.type for v in self.graph.inputs]
        state = [isinstance(t, Tensor) and t._requires_grad and t._dtype.is_floating_point
                 for t in self._state_tensors()]
        if any(state):
            return tuple([False] * n_user + state)
        return tuple(getattr(getattr(t, "dtype", None), "is_floating_point", False)
                     for t in types[:n_user]) + tuple(state)

    def _write_back(self, tensors: list, new_values: list) -> None:
        """Apply the side effects the graph returned: in-place changes of inputs and buffers,
        and buffers the function reassigned."""
        for (kind, index, how), value in zip(self.graph.meta.get("mutations", ()), new_values):
            if how == "assign" and kind == "state" and callable(getattr(self, "_assign", None)):
                self._assign(index, value)
                continue
            with no_grad():
                tensors[index if kind == "input" else
                        self.graph.meta["user_inputs"] + index].copy_(value)

    # ---------------------------------------------------------------------------- outputs
    def save(self, path: str, *, keep_source: bool = True) -> None:
        """Write a `.dgm` file that `dg.jit.load` runs without this function's source
        (`keep_source=False`: without source locations either; see `dg.jit.save`)."""
        from .io import save
        save(self, path, keep_source=keep_source)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name}>\n{self.graph}"

    def _repr_svg_(self) -> str:
        return self.graph._repr_svg_()


def _plan(graph: Graph) -> Any:
    """The memory plan of an optimized graph (opt_level 3), or None."""
    from dualgraph.passes.memory import plan_of  # late: passes import jit
    return plan_of(graph)


def flatten(obj: Any, leaves: list) -> Any:
    """Record the structure of a return value and collect its tensor leaves."""
    if isinstance(obj, (tuple, list)):
        return ["tuple" if isinstance(obj, tuple) else "list", [flatten(x, leaves) for x in obj]]
    if isinstance(obj, dict):
        return ["dict", [[k, flatten(v, leaves)] for k, v in obj.items()]]
    leaves.append(obj)
    return None


def _unflatten(tree: Any, leaves: list) -> Any:
    """Rebuild the return value's structure around the leaves. A plain recursive function over
    an explicit iterator: a nested closure referring to itself would form a reference cycle that
    keeps every output alive until the cyclic garbage collector runs."""
    if tree is None:
        return leaves[0] if len(leaves) == 1 else tuple(leaves)
    return _build(tree, iter(leaves))


def _build(node: Any, it: Any) -> Any:
    if node is None:
        return next(it)
    kind, items = node
    if kind == "none":  # a function (a training step) that returns nothing
        return None
    if kind == "dict":
        return {k: _build(v, it) for k, v in items}
    built = [_build(x, it) for x in items]
    return tuple(built) if kind == "tuple" else built
