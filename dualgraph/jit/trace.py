"""`dg.jit.trace`: capture a function or module by running it once under the tracer.

Python control flow is unrolled, as in any tracer; asking a traced tensor for a Python value
raises `TraceError` at that line. A module's parameters and buffers become graph inputs read at
every call — never constants — and changes to buffers (in place, or by reassigning the attribute:
`self.acc = self.acc + x`, which PyTorch's tracer drops) become outputs written back after each
call, as do in-place changes of the inputs. Tensors captured from an enclosing scope of a plain
function become constants, as in PyTorch.
"""

from __future__ import annotations

import inspect
import keyword
import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..amp import autocast_mode
from ..autograd.grad_mode import no_grad
from ..dispatch import interpreting
from ..ir.graph import Graph
from ..ir.types import TensorType
from ..ir.verify import verify
from ..tensor import Tensor
from .function import GraphFunction, flatten
from .tracer import Tracer, trace_error

MAX_DEPTH = 4  # how deep attribute scanning looks for the state of a module-like object


class TracedFunction(GraphFunction):
    """What `dg.jit.trace` returns: the graph, its generated code, and the live state it reads."""

    def __init__(self, graph: Graph, fn: Callable, owners: list, out_tree: Any,
                 opt_level: int = 3) -> None:
        super().__init__(graph, [_reader(owner, attr) for owner, attr, _ in owners], out_tree,
                         name=graph.name, opt_level=opt_level)
        self._fn = fn
        self._owners = owners

    def _assign(self, index: int, value: Tensor) -> None:
        owner, attr, _ = self._owners[index]
        setattr(owner, attr, value)

    @property
    def state_names(self) -> list:
        return [q for _, _, q in self._owners]


def _reader(owner: Any, attr: str) -> Callable:
    return lambda: getattr(owner, attr)


def _module_state(root: Any) -> list:
    """(owner, attribute, qualified name) of every tensor attribute reachable from `root`,
    parameters (requires_grad) first, then buffers, each in attribute order."""
    if hasattr(root, "named_parameters") and hasattr(root, "named_buffers"):
        names = [n for n, _ in root.named_parameters()] + [n for n, _ in root.named_buffers()]
        out = []
        for qual in names:
            owner, _, attr = qual.rpartition(".")
            target = root
            for part in filter(None, owner.split(".")):
                target = getattr(target, part)
            out.append((target, attr, qual))
        return out
    found: list = []
    _scan(root, "", found, set(), 0)
    return sorted(found, key=lambda f: not getattr(f[0], f[1]).requires_grad)


def _scan(obj: Any, prefix: str, found: list, seen: set, depth: int) -> None:
    if id(obj) in seen or depth > MAX_DEPTH or not hasattr(obj, "__dict__"):
        return
    seen.add(id(obj))
    for name, value in vars(obj).items():
        if name.startswith("__"):
            continue
        if isinstance(value, Tensor):
            found.append((obj, name, prefix + name))
        elif _is_module_like(value):
            _scan(value, prefix + name + ".", found, seen, depth + 1)


def _is_module_like(obj: Any) -> bool:
    return (hasattr(obj, "__dict__") and not inspect.isroutine(obj) and not inspect.isclass(obj)
            and not inspect.ismodule(obj) and not isinstance(obj, Tensor))


def _input_names(fn: Callable, n: int) -> list:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        params = []
    names = params[:n] if len(params) >= n and not any(
        p.kind == p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values()) else []
    return names or [f"input{i}" for i in range(n)]


def _dynamic_shapes(inputs: list, names: list, dynamic_dims: Any) -> list:
    """The symbolic shape of each input. `{0: "B"}` marks dim 0 of the first input and of every
    other input with the same size there; a list (one dict per input) or a dict keyed by input
    name marks inputs one by one."""
    shapes = [list(t.shape) for t in inputs]
    if not dynamic_dims:
        return shapes
    if isinstance(dynamic_dims, (list, tuple)):
        per_input = list(dynamic_dims) + [None] * (len(inputs) - len(dynamic_dims))
    elif all(isinstance(k, str) for k in dynamic_dims):
        per_input = [dynamic_dims.get(n) for n in names]
    else:
        first = shapes[0]
        per_input = [{d: s for d, s in dynamic_dims.items()
                      if d < len(shape) and d < len(first) and shape[d] == first[d]}
                     for shape in shapes]
    for shape, marks in zip(shapes, per_input):
        for d, sym in (marks or {}).items():
            if not -len(shape) <= d < len(shape):
                raise ValueError(f"dynamic_dims: dim {d} does not exist in an input of "
                                 f"{len(shape)} dims")
            shape[d] = sym
    return shapes


def trace(fn_or_module: Any, example_inputs: Any = None, *more_inputs: Any,
          dynamic_dims: Any = None, check_inputs: Sequence | None = None,
          opt_level: int = 3) -> TracedFunction:
    """Capture `fn_or_module` by running it once on `example_inputs` (a tensor or a tuple, as in
    PyTorch; `trace(f, a, b)` also works). `dynamic_dims={0: "B"}` keeps the batch dimension
    symbolic so one graph serves every batch size. `check_inputs` reruns eager and traced on more
    inputs and raises TraceError if they disagree. `opt_level` (0-3) chooses the passes that run
    on the captured graph (passes/manager.py); `.compile(opt_level)` changes it later."""
    from dualgraph.passes.manager import check_level  # late: passes import jit
    check_level(opt_level, "jit.trace()")
    inputs = _as_inputs(example_inputs, more_inputs)
    module = None if inspect.isroutine(fn_or_module) else fn_or_module
    if inspect.ismethod(fn_or_module):
        module = fn_or_module.__self__
    fn = getattr(module, "forward", module) if module is not None and not inspect.ismethod(
        fn_or_module) else fn_or_module
    names = _input_names(fn, len(inputs))
    shapes = _dynamic_shapes(inputs, names, dynamic_dims)
    types = [TensorType(t._dtype, s, t._device) for t, s in zip(inputs, shapes)]
    if module is None:  # a plain function: it may read and change outside state (a step)
        from .train_step import StepVariant, TracedStep, capture_step
        graph, effects, tree = capture_step(fn, types, names)
        if effects.stateful:
            if check_inputs:
                raise trace_error("check_inputs cannot check a function that reads or changes "
                                  "outside state (a training step): running it changes that "
                                  "state", "compare the step's results yourself")
            first = StepVariant(graph, effects, tree, graph.name, opt_level)
            return TracedStep(fn, types, names, opt_level, first)
        if tree == ["none", []]:  # nothing returned and nothing changed
            raise trace_error("the traced function returned a NoneType; only tensors (in "
                              "tuples, lists and dicts) can be graph outputs",
                              "return what the function computes")
        traced = TracedFunction(graph, fn, [], tree, opt_level)
    else:
        graph, owners, tree = capture(getattr(fn, "__name__", "forward"), module, types, names,
                                      lambda tracer, xs: fn(*xs), Tracer, fn)
        traced = TracedFunction(graph, fn, owners, tree, opt_level)
    if check_inputs:
        _check(fn, traced, check_inputs)
    return traced


def capture(name: str, module: Any, input_types: list, names: list, run: Callable,
            tracer_class: type, fn: Any = None) -> tuple:
    """Run `run(tracer, input_tracers)` under a new tracer: inputs become graph inputs, a
    module's parameters and buffers become state inputs (read at every call), the result becomes
    the outputs and changed inputs/buffers become write-back outputs; without a module, the
    modules plain function `fn` names give the nodes' module paths. Shared by trace and
    script. Returns (graph, state owners, output tree)."""
    graph = Graph(name=graph_name(name))
    autocast_key = autocast_mode.state_key()  # the casts it records: calls must match
    tracer = tracer_class(graph)
    input_tracers = [tracer.wrap(graph.add_input(t, n)) for t, n in zip(input_types, names)]
    owners = _module_state(module) if module is not None else []
    state_tracers = []
    originals = [getattr(owner, attr) for owner, attr, _ in owners]
    try:
        for (owner, attr, qual), t in zip(owners, originals):
            tracer_t = tracer.wrap(graph.add_input(TensorType(t._dtype, t.shape, t._device), qual))
            state_tracers.append(tracer_t)
            object.__setattr__(owner, attr, tracer_t) if _plain_setattr(owner) else \
                setattr(owner, attr, tracer_t)
        tracer.state = state_tracers
        with no_grad(), interpreting(tracer), autocast_mode.reenter(), \
                module_scopes(tracer, module_roots(fn) if module is None else [("", module)]):
            result = run(tracer, input_tracers)
            outputs, tree = _outputs(tracer, result)
            mutations = _mutations(tracer, graph, input_tracers, state_tracers, owners)
    finally:
        for (owner, attr, _), t in zip(owners, originals):
            setattr(owner, attr, t)
    graph.outputs = outputs + [value for value, _ in mutations]
    graph.meta.update(autocast=autocast_key, user_inputs=len(input_types), params=[q for _, _, q in owners],
                      n_user_outputs=len(outputs), out_tree=tree,
                      mutations=[list(m) for _, m in mutations])
    verify(graph)
    if os.environ.get("DUALGRAPH_CHECK"):
        check_round_trip(graph)
    return graph, owners, tree


def referenced_objects(fn: Any) -> list[tuple[str, Any]]:
    """The objects a plain function's code names: its closure cells and the globals it reads,
    each with the name the code uses for it (empty cells skipped)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    objects: list = []
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            objects.append((name, cell.cell_contents))
        except ValueError:  # an empty cell (a name assigned later): nothing to name
            continue
    module_globals = getattr(fn, "__globals__", {})
    return objects + [(n, module_globals[n]) for n in code.co_names if n in module_globals]


def module_roots(fn: Any) -> list[tuple[str, Any]]:
    """The modules a plain function reaches by name, as (name, module): their submodules'
    paths start with that name (`model.fc1`), as the parameters' names do (`model.fc1.weight`)."""
    return [(name, obj) for name, obj in referenced_objects(fn)
            if not inspect.isclass(obj) and callable(getattr(obj, "named_modules", None))]


@contextmanager
def module_scopes(tracer: Tracer, roots: list[tuple[str, Any]]) -> Iterator[None]:
    """While capturing, each call of a module under `roots` ((prefix, module) pairs: ("",
    model) for a captured module, ("model", model) for a function that calls `model`) opens its
    path on the tracer (a forward pre-hook and a forward hook, removed after), so every node
    records the innermost module whose forward emitted it (`node.meta["module"]`). Script
    compiles a user module's forward inline, without calling it: the frontend opens the path
    itself."""
    named = [(".".join(p for p in (prefix, path) if p), m)
             for prefix, root in roots if callable(getattr(root, "named_modules", None))
             for path, m in root.named_modules()]
    named = [(path, m) for path, m in named if path]
    tracer.module_paths = {}
    for path, m in named:
        tracer.module_paths.setdefault(id(m), path)  # reached twice: its first (shortest) name

    def pre(m: Any, args: Any) -> None:
        tracer.modules.append(tracer.module_paths[id(m)])

    def post(m: Any, args: Any, output: Any) -> None:
        path, stack = tracer.module_paths[id(m)], tracer.modules
        if path in stack:  # close this call (and any inner one an exception left open)
            del stack[len(stack) - 1 - stack[::-1].index(path):]

    handles = []
    hooked: set = set()
    try:
        for path, m in named:
            if id(m) not in hooked and hasattr(m, "register_forward_pre_hook"):
                hooked.add(id(m))
                handles.append(m.register_forward_pre_hook(pre))
                handles.append(m.register_forward_hook(post))
        yield
    finally:
        for handle in handles:
            handle.remove()
        tracer.modules.clear()


def graph_name(name: str) -> str:
    """A function's name as its graph's name: a Python identifier (else "forward")."""
    return name if name.isidentifier() and not keyword.iskeyword(name) else "forward"


def check_round_trip(graph: Graph) -> None:
    """DUALGRAPH_CHECK=1: the text form must parse back to a graph that prints the same."""
    from ..ir.text import parse_graph, print_graph
    text = print_graph(graph)
    again = parse_graph(text, graph.tensors)
    verify(again)
    if print_graph(again) != text:
        raise AssertionError(f"text round trip changed the graph:\n{text}\n---\n"
                             f"{print_graph(again)}")


def _plain_setattr(owner: Any) -> bool:
    return type(owner).__setattr__ is object.__setattr__


def _as_inputs(example_inputs: Any, more: tuple) -> list:
    if isinstance(example_inputs, Tensor):
        inputs = [example_inputs, *more]
    elif isinstance(example_inputs, (tuple, list)) and not more:
        inputs = list(example_inputs)
    elif example_inputs is None and not more:
        inputs = []
    else:
        inputs = [example_inputs, *more]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise trace_error(f"example input {i} is a {type(t).__name__}; trace takes tensors",
                              "a Python value would be baked into the graph: close over it, or "
                              "pass it as a tensor")
    return inputs


def _outputs(tracer: Tracer, result: Any) -> tuple:
    leaves: list = []
    tree = flatten(result, leaves)
    values = []
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise trace_error(f"the traced function returned a {type(leaf).__name__}; only "
                              "tensors (in tuples, lists and dicts) can be graph outputs")
        values.append(tracer.value_of(leaf))
    return values, tree


def _mutations(tracer: Tracer, graph: Graph, input_tracers: list, state_tracers: list,
               owners: list) -> list:
    """(new value, (kind, index, how)) for every input or state tensor the function changed."""
    found = []
    for i, t in enumerate(input_tracers):
        if tracer.current(t) is not graph.inputs[i]:
            if tracer.current(t).type.shape != graph.inputs[i].type.shape:
                raise trace_error(f"input {i} changed its shape in place (t_, unsqueeze_, ...); "
                                  "a traced function cannot reshape its caller's tensor",
                                  "reshape a new name instead: x = x.unsqueeze(0)")
            found.append((tracer.current(t), ("input", i, "inplace")))
    n = len(input_tracers)
    for j, ((owner, attr, _), t) in enumerate(zip(owners, state_tracers)):
        now = getattr(owner, attr)
        if now is not t:
            found.append((tracer.value_of(now), ("state", j, "assign")))
        elif tracer.current(t) is not graph.inputs[n + j]:
            found.append((tracer.current(t), ("state", j, "inplace")))
    return found


def _check(fn: Callable, traced: TracedFunction, check_inputs: Sequence) -> None:
    """Compare eager and traced on each check input; state is restored between the two runs."""
    for k, example in enumerate(check_inputs):
        args = list(example) if isinstance(example, (tuple, list)) else [example]
        saved = [(o, a, getattr(o, a), getattr(o, a)._data.copy()) for o, a, _ in traced._owners]
        with no_grad():
            expected = fn(*args)
            _restore(saved)
            got = traced(*args)
        exp_leaves, got_leaves = [], []
        flatten(expected, exp_leaves)
        flatten(got, got_leaves)
        for j, (e, g) in enumerate(zip(exp_leaves, got_leaves)):
            same = (tuple(e.shape) == tuple(g.shape) and e.dtype is g.dtype
                    and np.allclose(e._host(), g._host(), rtol=1e-5, atol=1e-6, equal_nan=True))
            if not same:
                raise trace_error(
                    f"check input {k}: output {j} of the traced graph differs from the Python "
                    f"function (shapes {list(g.shape)} vs {list(e.shape)}, dtypes {g.dtype} vs "
                    f"{e.dtype}); the trace specialized on something the example inputs decided",
                    "mark varying dimensions with dynamic_dims, or use @dg.script for "
                    "data-dependent control flow")


def _restore(saved: list) -> None:
    for owner, attr, tensor, data in saved:
        setattr(owner, attr, tensor)
        tensor._data[...] = data
