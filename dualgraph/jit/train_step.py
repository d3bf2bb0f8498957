"""Traced plain functions that read outside state — whole training steps among them.

`dg.jit.trace(step, (x, y))` of a function that runs the model, the loss, `loss.backward()`,
`optimizer.step()` and `zero_grad()` gives a `TracedStep`: one graph holding forward, backward
and update (jit/step_tracer.py), whose state — parameters, their `.grad`, the optimizer's state
and learning rates — is read at every call and written back after it, as PyTorch's eager step
would leave it. The trace depends on Python facts of the state (was `.grad` None? did the
optimizer have state yet? its hyper-parameters): each is a guard, and a call that finds one
changed traces the function again, for the new state (at most MAX_VARIANTS are kept, most
recently used first). So the first call of a fresh model and optimizer runs a graph that creates
the momentum buffers, and the second a graph that reads them.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable

from ..amp import autocast_mode
from ..autograd.grad_mode import no_grad
from ..ir.graph import Graph
from ..ir.verify import verify
from ..tensor import Tensor
from .function import GraphFunction
from .slots import GradSlot
from .step_tracer import StepTracer
from .tracer import TracerTensor, trace_error

MAX_VARIANTS = 8


class StepEffects:
    """What one trace of the function does beyond its outputs: the slots it reads (one per
    state input), the write-backs ((input index, "input") or (slot, "inplace" | "assign"),
    aligned with the graph's extra outputs), the `.grad` it leaves None, the optimizers it steps, the Python calls to make
    after each run, and the guards under which the trace holds."""

    def __init__(self, tracer: StepTracer, writes: list, clears: list, created: list,
                 guards: list) -> None:
        self.slots = list(tracer.slots)
        self.writes = [(slot, how) for slot, _, how in writes] + [(s, "assign") for s, _ in created]
        self.created = [slot.name for slot, _ in created]
        self.clears = clears
        self.optimizers = list(tracer.optimizers)
        self.deferred = list(tracer.deferred)
        self.took_gradients = tracer.took_gradients
        self.guards = guards
        self.expected = tuple(g() for g in guards)

    @property
    def stateful(self) -> bool:
        """Whether the function read or changed anything outside its inputs."""
        return bool(self.slots or self.writes or self.clears or self.optimizers or
                    self.deferred)

    def hold(self) -> bool:
        """Whether the state is as the trace saw it (so its graph is valid for it)."""
        return all(g() == want for g, want in zip(self.guards, self.expected))


class StepVariant(GraphFunction):
    """One trace of a stateful function: a graph function whose state are slots and whose
    write-backs go to them; the optimizers' step counts and deferred calls follow each run."""

    def __init__(self, graph: Graph, effects: StepEffects, out_tree: Any, name: str,
                 opt_level: int) -> None:
        super().__init__(graph, [slot.read for slot in effects.slots], out_tree, name=name,
                         opt_level=opt_level)
        self.effects = effects

    def __call__(self, *args: Any) -> Any:
        if self.effects.took_gradients:  # the backward is in the graph: nothing to record
            with no_grad():
                return super().__call__(*args)
        return super().__call__(*args)

    forward = __call__

    def _write_back(self, tensors: list, new_values: list) -> None:
        from ..optim.optimizer import count_step
        effects = self.effects
        for (slot, how), value in zip(effects.writes, new_values):
            if how == "input":  # the caller's tensor, changed in place: copied into it
                with no_grad():
                    tensors[slot].copy_(value)
            elif how == "inplace":
                slot.copy_in(value)
            else:
                slot.assign(value)
        for slot in effects.clears:
            slot.assign(None)
        for optimizer in effects.optimizers:
            count_step(optimizer)
        for _, call in effects.deferred:
            call()

    @property
    def state_names(self) -> list:
        return [slot.name for slot in self.effects.slots]


class TracedStep:
    """What `dg.jit.trace` returns for a plain function that reads outside state: callable like
    the function; `.graph`, `.code`, `.explain()`, `.save()` describe the trace that fits the
    state now (traced on demand, without running it)."""

    def __init__(self, fn: Callable, input_types: list, names: list, opt_level: int,
                 first: "StepVariant | None" = None) -> None:
        self._fn, self._input_types, self._input_names = fn, input_types, names
        self._name = getattr(fn, "__name__", "step")
        self.opt_level = opt_level
        self._variants: list[StepVariant] = [
            first or trace_variant(fn, input_types, names, opt_level)]

    def __call__(self, *args: Any) -> Any:
        return self._current()(*args)

    def _current(self) -> StepVariant:
        for i, variant in enumerate(self._variants):
            if variant.effects.hold():
                if i:
                    self._variants.insert(0, self._variants.pop(i))
                return variant
        variant = trace_variant(self._fn, self._input_types, self._input_names, self.opt_level)
        self._variants.insert(0, variant)
        del self._variants[MAX_VARIANTS:]
        return variant

    @property
    def compiled(self) -> StepVariant:
        """The trace for the state as it is now: what `dg.jit.save` writes."""
        variant = self._current()
        effects = variant.effects
        if effects.created:
            raise RuntimeError(
                f"{self._name}: this step creates optimizer state ({', '.join(effects.created)}) "
                "when it runs; call it once before saving, so that the saved step reads and "
                "writes that state")
        if effects.deferred:
            raise RuntimeError(
                f"{self._name}: this step runs {effects.deferred[0][0]} after each call, which a "
                "saved file cannot hold; step the scheduler outside the traced step to save it")
        return variant

    def save(self, path: str, *, keep_source: bool = True) -> None:
        """Write the step for the state now as a `.dgm` file: loaded, it continues training
        from the saved parameters and optimizer state (see `dg.jit.save`)."""
        from .io import save
        save(self.compiled, path, keep_source=keep_source)

    def compile(self, opt_level: int = 3) -> "TracedStep":
        """Recompile every trace at `opt_level` and return this step."""
        self.opt_level = opt_level
        for variant in self._variants:
            variant.compile(opt_level)
        return self

    @property
    def variants(self) -> int:
        """How many traces are kept (one per state the step has been called in)."""
        return len(self._variants)

    def __getattr__(self, name: str) -> Any:  # graph, code, explain, memory_plan, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._current(), name)

    def __repr__(self) -> str:
        return f"<TracedStep {self._name}>\n{self._current().graph}"


def trace_variant(fn: Callable, input_types: list, names: list, opt_level: int) -> StepVariant:
    """Trace `fn` once for the state as it is now."""
    graph, effects, tree = capture_step(fn, input_types, names)
    return StepVariant(graph, effects, tree, graph.name, opt_level)


def capture_step(fn: Callable, input_types: list, names: list) -> tuple:
    """Run `fn` under a StepTracer: (graph, effects, output tree)."""
    from .trace import _outputs, check_round_trip, graph_name
    graph = Graph(name=graph_name(getattr(fn, "__name__", "step")))
    scope = _scope(fn)
    tracer = StepTracer(graph, scope.names)
    input_tracers = [tracer.wrap(graph.add_input(t, n)) for t, n in zip(input_types, names)]
    snapshot = scope.snapshot()
    from ..dispatch import interpreting
    from .trace import module_scopes
    autocast_key = autocast_mode.state_key()  # the casts it records: calls must match
    try:
        with interpreting(tracer), autocast_mode.reenter(), module_scopes(tracer, scope.roots):
            result = fn(*input_tracers)
            if result is None:
                outputs, tree = [], ["none", []]
            else:
                outputs, tree = _outputs(tracer, result)
            from .trace import _mutations
            changed = _mutations(tracer, graph, input_tracers, [], [])  # inputs changed in place
            writes, clears, created = tracer.finish()
        scope.check(snapshot)
    finally:
        tracer.restore()
        scope.restore(snapshot)
    graph.outputs = (outputs + [v for v, _ in changed] + [v for _, v, _ in writes]
                     + [v for _, v in created])
    n_user = len(input_types)
    index = {id(s): j for j, s in enumerate(tracer.slots)}
    mutations, fresh = [list(m) for _, m in changed], 0
    for slot, _, how in writes + [(s, v, "assign") for s, v in created]:
        if id(slot) in index:
            mutations.append(["state", index[id(slot)], how])
        else:  # state the step creates (a first .grad, a momentum buffer): no input reads it
            mutations.append(["new", fresh, how])
            fresh += 1
    graph.meta.update(autocast=autocast_key, user_inputs=n_user, params=[s.name for s in tracer.slots],
                      n_user_outputs=len(outputs), out_tree=tree, mutations=mutations)
    verify(graph)
    if os.environ.get("DUALGRAPH_CHECK"):
        check_round_trip(graph)
    effects = StepEffects(tracer, [(m[1], None, "input") for _, m in changed] + writes, clears,
                          created, _guards(tracer))
    return graph, effects, tree


def _guards(tracer: StepTracer) -> list:
    """The Python facts the trace depended on, each a function of the live objects."""
    guards: list = []
    for entry in tracer.grads.values():
        guards.append(_grad_guard(entry.slot))
    for key, leaf in tracer._leaves.items():
        guards.append(_requires_grad_guard(leaf.tensor))
    seen = set()
    for optimizer in tracer.optimizers:
        if id(optimizer) not in seen:
            seen.add(id(optimizer))
            guards.append(_optimizer_guard(optimizer))
    return guards


def _grad_guard(slot: GradSlot) -> Callable:
    def guard() -> Any:
        g = slot.read()
        return None if g is None else (g._dtype, g._data.shape)
    return guard


def _requires_grad_guard(t: Tensor) -> Callable:
    return lambda: t._requires_grad


def _optimizer_guard(optimizer: Any) -> Callable:
    """The optimizer's parameters, hyper-parameters (all but the learning rate, which is
    state) and the layout of its state."""
    def guard() -> Any:
        groups = tuple(
            (tuple(id(p) for p in g["params"]),
             tuple((k, _hashable(v)) for k, v in g.items() if k not in ("params", "lr")))
            for g in optimizer.param_groups)
        state = tuple(
            (id(p), tuple((k, (v._dtype, v._data.shape) if isinstance(v, Tensor) else
                           _hashable(v)) for k, v in s.items()))
            for p, s in optimizer.state.items())
        return groups, state
    return guard


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, _hashable(x)) for k, x in v.items())
    if isinstance(v, Tensor):
        return ("tensor", id(v))
    try:
        hash(v)
    except TypeError:
        return ("object", id(v))
    return v


class _Scope:
    """What the function's names refer to (closure cells, the globals it reads): names for
    the tensors of its modules and its optimizers, and the modules' attributes, restored after
    tracing (a module that stored a traced tensor in an attribute must not keep it)."""

    def __init__(self, names: dict, modules: list, roots: list) -> None:
        self.names, self.modules = names, modules
        self.roots = roots  # (name, module): where the nodes' module paths start

    def snapshot(self) -> list:
        return [(m, dict(vars(m)), dict(getattr(m, "_buffers", {}) or {})) for m in self.modules]

    def check(self, snapshot: list) -> None:
        for m, attrs, buffers in snapshot:
            for where in (vars(m), getattr(m, "_buffers", {}) or {}):
                for k, v in where.items():
                    if isinstance(v, TracerTensor):
                        raise trace_error(f"the traced step stored a traced tensor in "
                                          f"{type(m).__name__}.{k}",
                                          "update buffers in place (copy_), or return the value")

    @staticmethod
    def restore(snapshot: list) -> None:
        for m, attrs, buffers in snapshot:
            vars(m).clear()
            vars(m).update(attrs)
            if buffers or hasattr(m, "_buffers"):
                m._buffers.clear()
                m._buffers.update(buffers)


def _scope(fn: Callable) -> _Scope:
    from .trace import referenced_objects  # late: trace imports this module
    objects = referenced_objects(fn)
    names: dict = {}
    modules: list = []
    for name, obj in objects:
        if inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj):
            continue
        if hasattr(obj, "named_parameters") and hasattr(obj, "modules"):
            for qual, t in list(obj.named_parameters()) + list(obj.named_buffers()):
                names.setdefault(id(t), f"{name}.{qual}")
            modules += [m for m in obj.modules() if all(m is not k for k in modules)]
        elif hasattr(obj, "param_groups") and hasattr(obj, "state"):
            names.setdefault(id(obj), name)
        elif isinstance(obj, Tensor):
            names.setdefault(id(obj), name)
    roots = [(name, obj) for name, obj in objects if any(obj is m for m in modules)]
    return _Scope(names, modules, roots)
