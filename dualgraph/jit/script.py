"""`dg.jit.script` / `@dg.script`: compile a function's or a module's Python source, control flow
kept as `if`/`loop` nodes.

A scripted function compiles on its first call for each input signature (dtypes, shapes and
devices of its tensors, the types of its scalars, the lengths of its tensor lists, the values of
its other arguments), as `jax.jit` does, and reuses the graph after that; `dynamic_dims` keeps
dimensions symbolic so one graph serves every batch size. The cache is keyed by the graph's
input types (after `dynamic_dims` made sizes symbolic: 500 batch sizes are one entry), plus the
scalar types, the other arguments' values and a module's train/eval mode and state types; it
keeps the `CACHE_SIZE` (64) most recently used signatures, and a dropped one recompiles when it
comes back. Tensors and Python scalars are graph
inputs (scalars as 0-d tensors: a `range(n)` loop stays a loop); `None`, strings and other
Python values are decided when compiling. A module's parameters and buffers are read at every
call, so the scripted module shares the original's parameters and trains with it.

Before its first call a scripted function still has a graph: the generic one (`generic_graph`),
typed from the annotations with symbolic sizes, which `.graph`, `.code` and `.save` give then.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import typing
from collections import OrderedDict
from typing import Any, Callable

from ..amp import autocast_mode
from ..ir.errors import DualgraphError
from ..ir.types import CPU, TensorType, bool_, float64, get_default_dtype, int64
from ..tensor import Tensor
from .blocks import BlockTracer
from .frontend import FunctionCompiler, is_library, source_of
from .trace import TracedFunction, capture

_SCALAR_DTYPES = {bool: bool_, int: int64, float: float64}
CACHE_SIZE = 64  # compiled signatures kept per scripted function (least recently used dropped)


class ScriptFunction:
    """A scripted function: call it like the original; `.graph` and `.code` show the last
    compiled specialization, `.graph_for(*args)` the one for given inputs."""

    def __init__(self, fn: Callable, module: Any = None, dynamic_dims: Any = None,
                 opt_level: int = 3) -> None:
        from dualgraph.passes.manager import check_level  # late: passes import jit
        self.opt_level = check_level(opt_level, "jit.script()")
        self._fn = fn
        self._module = module
        self._dynamic = dynamic_dims or {}
        self._cache: OrderedDict = OrderedDict()  # signature -> compiled graph, LRU
        self._last: TracedFunction | None = None
        # dualgraph's own layers are run under the tracer as they are (their Python is outside
        # the script subset: `with no_grad()`, `raise`); their Python arguments are constants
        self._library = is_library(fn, sourceless=False)
        if not self._library:
            source_of(fn)  # parse now: a function without source fails at script time
        functools.update_wrapper(self, fn)

    # --------------------------------------------------------------------------- calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        compiled, tensors = self._specialize(args, kwargs)
        return compiled(*tensors)

    def bound(self, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """Compile for these inputs (if needed) and return a call that runs on them: capture
        errors surface here, errors of the run when it is called (dg.compile tells them apart)."""
        compiled, tensors = self._specialize(args, kwargs)
        return lambda: compiled(*tensors)

    def _signature(self) -> inspect.Signature:
        sig = inspect.signature(self._fn)
        if self._module is not None:
            params = list(sig.parameters.values())[1:]  # self
            sig = sig.replace(parameters=params)
        return sig

    def _specialize(self, args: tuple, kwargs: dict) -> tuple:
        try:
            bound = self._signature().bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self._fn.__qualname__}(): {exc}") from None
        bound.apply_defaults()
        hints = self._hints()
        key, tensors, slots = [], [], []
        for name, value in bound.arguments.items():
            if name in hints and not _fits(value, hints[name]):
                raise TypeError(f"{self._fn.__qualname__}(): argument '{name}' is annotated "
                                f"{_hint_name(hints[name])} but got {type(value).__name__}")
            kind, k = _classify(name, value, self._library)
            if kind in ("tensor", "list"):  # the graph's input types: dynamic dims symbolic
                k = (k[0],) + tuple(self._type_key(name, t) for t in _as_inputs(kind, value))
            key.append(k)
            slots.append((name, kind, value))
            tensors.extend(_as_inputs(kind, value))
        key.extend(self._module_key())
        key.append(autocast_mode.state_key())  # a region's casts are captured: one graph each
        key_t = tuple(key)
        cache = self._cache
        compiled = cache.get(key_t)
        if compiled is None:
            compiled = cache[key_t] = self._compile(slots)
            if len(cache) > CACHE_SIZE:
                cache.popitem(last=False)  # the least recently used signature
        else:
            cache.move_to_end(key_t)
        self._last = compiled
        return compiled, tensors

    def _module_key(self) -> tuple:
        """What of the module a graph depends on: train/eval modes and the state's types."""
        if self._module is None:
            return ()
        return (tuple(m.training for m in self._module.modules())
                if hasattr(self._module, "modules") else (),
                tuple((str(t.dtype), tuple(t.shape), str(t.device))
                      for t in _state_of(self._module)))

    def _hints(self) -> dict:
        """The parameters' annotations (`Tensor`, `int`, `List[Tensor]`, `Optional[...]` ...);
        unresolvable ones are left unchecked, as are missing ones (inferred from the call)."""
        hints = self.__dict__.get("_hint_cache")
        if hints is None:
            try:
                hints = typing.get_type_hints(self._fn)
            except Exception:
                hints = {}
            hints.pop("return", None)
            self.__dict__["_hint_cache"] = hints
        return hints

    def _compile(self, slots: list, types: list | None = None) -> TracedFunction:
        names = []
        given = types is not None
        types = list(types or ())
        for name, kind, value in slots:
            for i, t in enumerate(_as_inputs(kind, value)):
                if not given:
                    types.append(self._type_of(name, t))
                names.append(name if kind != "list" else f"{name}_{i}")
        fn, module = self._fn, self._module

        def run(tracer: Any, inputs: list) -> Any:
            it = iter(inputs)
            call_args = {}
            for name, kind, value in slots:
                if kind in ("tensor", "scalar"):
                    call_args[name] = next(it)
                elif kind == "list":
                    items = [next(it) for _ in value]
                    call_args[name] = items if isinstance(value, list) else tuple(items)
                else:
                    call_args[name] = value
            args = (module,) if module is not None else ()
            if self._library:
                return fn(*args, **call_args)
            return FunctionCompiler(tracer, fn).run(args, call_args)

        graph, owners, tree = capture(getattr(fn, "__name__", "forward"), module, types, names,
                                      run, BlockTracer, fn)
        return TracedFunction(graph, fn, owners, tree, self.opt_level)

    def compile(self, opt_level: int = 3) -> "ScriptFunction":
        """Recompile every specialization in place at `opt_level` (later ones compile at it too)
        and return this function."""
        from dualgraph.passes.manager import check_level
        self.opt_level = check_level(opt_level, "compile()")
        for compiled in self._cache.values():
            compiled.compile(opt_level)
        return self

    def explain(self) -> Any:
        """What the passes did to the last compiled specialization (see GraphFunction.explain)."""
        return self._latest().explain()

    def memory_plan(self, *, backward: bool = False, **sizes: int) -> Any:
        """The memory plan of the last compiled specialization (the generic graph before any
        call): see GraphFunction.memory_plan and docs/MEMORY.md."""
        return self._latest().memory_plan(backward=backward, **sizes)

    @property
    def graph_before_passes(self) -> Any:
        return self._latest().graph_before_passes

    def _type_key(self, name: str, t: Tensor) -> tuple:
        typ = self._type_of(name, t)
        return (typ.dtype.name, tuple(typ.shape), str(typ.device))

    def _type_of(self, name: str, t: Tensor) -> TensorType:
        shape = list(t.shape)
        marks = self._dynamic.get(name) if isinstance(self._dynamic, dict) and \
            isinstance(next(iter(self._dynamic), None), str) else self._dynamic
        for d, sym in (marks or {}).items():
            if isinstance(d, int) and -len(shape) <= d < len(shape):
                shape[d] = sym
        return TensorType(t._dtype, shape, t._device)

    # ---------------------------------------------------------------------------- showing
    def _latest(self) -> TracedFunction:
        if self._last is None:
            return self.generic
        return self._last

    @property
    def generic(self) -> TracedFunction:
        """The generic graph: compiled without example inputs, typed from the annotations
        (see `generic_graph`); what `.graph`, `.code` and `.save` give before the first call."""
        key = self._module_key()
        entry = self.__dict__.setdefault("_generic_cache", {}).get(key)
        if entry is None:
            try:
                entry = generic_graph(self)
            except NoGenericGraph as exc:
                entry = exc
            self._generic_cache[key] = entry
        if isinstance(entry, NoGenericGraph):
            raise NoGenericGraph(str(entry))
        return entry

    def graph_for(self, *args: Any, **kwargs: Any) -> Any:
        """The graph compiled for these inputs (compiling it if needed), without running it."""
        return self._specialize(args, kwargs)[0].graph

    @property
    def graph(self) -> Any:
        """The last compiled specialization's graph; before any call, the generic graph."""
        return self._latest().graph

    @property
    def code(self) -> str:
        return self._latest().code

    def _repr_svg_(self) -> str:
        """A notebook shows the last compiled specialization's graph as a picture."""
        return self.graph._repr_svg_()

    @property
    def compiled(self) -> TracedFunction:
        """The last compiled specialization (a GraphFunction: `.graph`, `.code`, `.save`);
        before any call, the generic graph."""
        return self._latest()

    def save(self, path: Any, *, keep_source: bool = True) -> None:
        """Save the last compiled specialization as a `.dgm` file (see `dg.jit.save`); before
        any call, the generic graph."""
        self._latest().save(path, keep_source=keep_source)

    def __repr__(self) -> str:
        return f"<ScriptFunction {self._fn.__qualname__}>"


class ScriptModule:
    """What `dg.jit.script(module)` returns: calls compile `forward` (per input signature and
    train/eval mode); everything else — parameters, `train()`, `state_dict()` — is the original
    module's, so the two share their parameters."""

    def __init__(self, module: Any, dynamic_dims: Any = None, opt_level: int = 3) -> None:
        forward = getattr(type(module), "forward", None)
        if not callable(forward):
            raise TypeError(f"jit.script(): {type(module).__name__} has no forward method")
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_forward",
                           ScriptFunction(forward, module, dynamic_dims, opt_level))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._forward(*args, **kwargs)

    def bound(self, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """The forward compiled for these inputs, as a call that runs on them."""
        return self._forward.bound(*args, **kwargs)

    def compile(self, opt_level: int = 3) -> "ScriptModule":
        """Recompile forward in place at `opt_level` (default: every pass) and return this
        module: seed 004's `compiled_model = scripted_model.compile()`."""
        self._forward.compile(opt_level)
        return self

    @property
    def opt_level(self) -> int:
        return self._forward.opt_level

    def explain(self) -> Any:
        return self._forward.explain()

    def memory_plan(self, *, backward: bool = False, **sizes: int) -> Any:
        """The memory plan of forward's last compiled graph (see GraphFunction.memory_plan)."""
        return self._forward.memory_plan(backward=backward, **sizes)

    @property
    def graph_before_passes(self) -> Any:
        return self._forward.graph_before_passes

    def train(self, mode: bool = True) -> "ScriptModule":
        self._module.train(mode)
        return self

    def eval(self) -> "ScriptModule":
        self._module.eval()
        return self

    def to(self, *args: Any, **kwargs: Any) -> "ScriptModule":
        self._module.to(*args, **kwargs)
        return self

    @property
    def original(self) -> Any:
        return self._module

    @property
    def compiled(self) -> TracedFunction:
        """The last compiled specialization of forward (what `dg.jit.save` writes)."""
        return self._forward.compiled

    @property
    def graph(self) -> Any:
        return self._forward.graph

    @property
    def code(self) -> str:
        return self._forward.code

    def _repr_svg_(self) -> str:
        """A notebook shows forward's last compiled graph as a picture."""
        return self._forward._repr_svg_()

    def graph_for(self, *args: Any, **kwargs: Any) -> Any:
        return self._forward.graph_for(*args, **kwargs)

    @property
    def generic(self) -> TracedFunction:
        """forward's generic graph (compiled without example inputs; see `generic_graph`)."""
        return self._forward.generic

    def save(self, path: Any, *, keep_source: bool = True) -> None:
        """Save forward's last compiled specialization as a `.dgm` file (see `dg.jit.save`)."""
        self._forward.save(path, keep_source=keep_source)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._module, name, value)

    def __repr__(self) -> str:
        return f"ScriptModule(original_name={type(self._module).__name__})\n{self._module!r}"


def script(obj: Any = None, *, dynamic_dims: Any = None, example_inputs: Any = None,
           opt_level: int = 3) -> Any:
    """Compile a function (`@dg.script`, `dg.jit.script(fn)`) or a module (`dg.jit.script(net)`)
    from its Python source. `dynamic_dims` ({dim: "B"} for every input, or {arg name: {dim:
    sym}}) keeps sizes symbolic; `example_inputs` (a list of argument tuples, PyTorch's name)
    compiles those signatures now; `opt_level` (0-3) chooses the passes (passes/manager.py)."""
    if obj is None:
        return lambda f: script(f, dynamic_dims=dynamic_dims, example_inputs=example_inputs,
                                opt_level=opt_level)
    if isinstance(obj, (ScriptFunction, ScriptModule)):
        return obj
    if inspect.isfunction(obj):
        result: Any = ScriptFunction(obj, None, dynamic_dims, opt_level)
    elif inspect.ismethod(obj):
        result = ScriptFunction(obj.__func__, obj.__self__, dynamic_dims, opt_level)
    elif inspect.isclass(obj) or not callable(obj):
        raise TypeError(f"jit.script() takes a function or a module instance, got {obj!r}")
    else:
        result = ScriptModule(obj, dynamic_dims, opt_level)
    for example in example_inputs or ():
        args = example if isinstance(example, (tuple, list)) else (example,)
        (result._forward if isinstance(result, ScriptModule) else result).graph_for(*args)
    return result


def _classify(name: str, value: Any, library: bool) -> tuple:
    """(kind, cache key) of one argument: a tensor, a Python scalar (a 0-d tensor input, or a
    constant for library code), a list of tensors (one input each), or a value decided when
    compiling."""
    if isinstance(value, Tensor):
        return "tensor", ("T", value._dtype.name, tuple(value.shape), str(value._device))
    if isinstance(value, (bool, int, float)) and not library:
        return "scalar", ("S", type(value).__name__)
    if isinstance(value, (list, tuple)) and value and all(isinstance(x, Tensor) for x in value):
        return "list", (type(value).__name__,) + tuple(
            (x._dtype.name, tuple(x.shape), str(x._device)) for x in value)
    try:
        hash(value)
        return "const", ("C", type(value).__name__, value)
    except TypeError:
        return "const", ("C", type(value).__name__, id(value))


def _as_inputs(kind: str, value: Any) -> list:
    if kind == "tensor":
        return [value]
    if kind == "scalar":
        from ..creation import tensor
        return [tensor(value, dtype=_SCALAR_DTYPES[type(value)])]
    if kind == "list":
        return list(value)
    return []


def _state_of(module: Any) -> list:
    if hasattr(module, "parameters") and hasattr(module, "buffers"):
        return list(module.parameters()) + list(module.buffers())
    return []


def _fits(value: Any, hint: Any) -> bool:
    """Whether an argument matches its annotation (the script subset of typing)."""
    if hint is Any or hint is typing.Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin in (list, typing.List):
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value) if args \
            else isinstance(value, list)
    if origin in (tuple, typing.Tuple):
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        return not args or (len(args) == len(value) and all(map(_fits, value, args)))
    if hint in (int, float, bool) and isinstance(value, Tensor) and value.dim() == 0:
        return value.dtype.is_floating_point == (hint is float) and (
            (value.dtype is bool_) == (hint is bool))  # a 0-d tensor: what scalars become
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _hint_name(hint: Any) -> str:
    if hint is type(None):
        return "None"
    name = getattr(hint, "_name", None) or getattr(hint, "__name__", None) or str(hint)
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union and len(args) == 2 and type(None) in args:
        return f"Optional[{_hint_name(next(a for a in args if a is not type(None)))}]"
    if args:
        return f"{name}[{', '.join('...' if a is Ellipsis else _hint_name(a) for a in args)}]"
    return name


# ------------------------------------------------------------------------- the generic graph
class NoGenericGraph(DualgraphError, RuntimeError):
    """A scripted function has no generic graph (and no call compiled one yet)."""


GENERIC_RANKS = (1, 0, 2, 3, 4)  # ranks tried for an unannotated tensor, in this order
MODULE_RANKS = (2, 1, 0, 3, 4)  # for a module's forward: layers take a batch first
GENERIC_BUDGET = 96  # compilations the search may spend (rank assignments and unification)
_PROBES = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)


def generic_graph(sf: ScriptFunction) -> TracedFunction:
    """Compile `sf` without example inputs, as TorchScript does at script time.

    Each argument is typed from its annotation: `Tensor` or none (TorchScript's default) is a
    tensor whose sizes are all symbolic, of the default dtype (int64 where only that compiles:
    `range(n)`); `int`/`float`/`bool` a 0-d tensor
    of int64/float64/bool (what scalars become); an argument with a default (`h=None`) takes
    its default. The IR's tensor types have a fixed rank and dtype, so they are searched: ranks
    in the order 1, 0, 2, 3, 4 (2, 1, 0, 3, 4 for a module's forward: layers take a batch),
    the default dtype before int64, cheapest signature first (see
    `_signatures`), within GENERIC_BUDGET compilations; the first that compiles wins. Shape rules let a symbol
    meet a concrete size (a `Linear(784, ...)` layer) or another symbol on trust, so the sizes
    the function constrains are found by probing: each symbol is replaced by a distinct prime
    size, and a symbol whose probe fails to compile is fixed to the concrete size (from the
    graph's types) that compiles, or merged with the symbol it must equal. The result is
    re-checked with every remaining symbol probed; its `graph.meta["generic"]` is True. Raises
    NoGenericGraph, naming the reason, where no signature compiles."""
    name = sf._fn.__qualname__
    specs = _generic_specs(sf)
    tensor_args = [n for n, kind, _ in specs if kind == "generic"]
    budget = [GENERIC_BUDGET]
    errors: list = []

    def attempt(types: dict) -> TracedFunction | None:
        if budget[0] <= 0:
            raise _OutOfBudget
        budget[0] -= 1
        slots, flat = [], []
        for n, kind, value in specs:
            if kind == "generic":
                slots.append((n, "tensor", None))
                flat.append(types[n])
            else:
                slots.append((n, kind, value))
                flat.extend(sf._type_of(n, t) for t in _as_inputs(kind, value))
        try:
            return sf._compile(slots, flat)
        except Exception as exc:  # a signature the function does not accept
            errors.append(exc)
            return None

    try:
        order = MODULE_RANKS if sf._module is not None else GENERIC_RANKS
        for dtypes, ranks in _signatures(len(tensor_args), order):
            types = _symbolic_types(sf, tensor_args, ranks, dtypes)
            found = attempt(types)
            for _ in range(8):  # a loop or an if that needs two sizes equal: equate them
                equate = getattr(errors[-1], "equate", None) if found is None else None
                if not equate:
                    break
                types = _substitute(types, equate)
                found = attempt(types)
            if found is not None:
                unified = _unify(attempt, found, types)
                if unified is not None:
                    for g in (unified.graph_before_passes, unified.graph):  # saved / run
                        g.meta["generic"] = True
                    return unified
    except _OutOfBudget:
        pass
    why = f"{type(errors[0]).__name__}: {errors[0]}" if errors else "nothing compiled"
    raise NoGenericGraph(
        f"{name} has no generic graph: without example inputs it is compiled with each "
        f"unannotated argument a tensor of symbolic sizes ({get_default_dtype()} or int64, at "
        f"ranks 0 to 4; {GENERIC_BUDGET} tries at most), and "
        f"none compiled; the first error was\n  {why.splitlines()[0] if why else ''}\nPass "
        "example_inputs=[(...)] to dg.jit.script, call it once, or use .graph_for(*inputs) "
        "(each compiles the graph for those inputs' signature).")


class _OutOfBudget(Exception):
    """The generic-graph search spent its GENERIC_BUDGET compiles without a graph."""


def _generic_specs(sf: ScriptFunction) -> list:
    """(name, kind, value) per parameter: "generic" tensors, or scalar/const slots."""
    hints = sf._hints()
    specs = []
    for p in sf._signature().parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise NoGenericGraph(f"{sf._fn.__qualname__} has no generic graph: *{p.name} "
                                 "arguments have no type; pass example_inputs=[(...)]")
        hint = hints.get(p.name)
        has_default = p.default is not p.empty
        if _is_tensor_hint(hint) or (hint is None and not has_default):
            specs.append((p.name, "generic", None))
        elif has_default:
            kind, _ = _classify(p.name, p.default, sf._library)
            specs.append((p.name, kind, p.default))
        elif hint in (int, float, bool) and not sf._library:
            specs.append((p.name, "scalar", hint()))
        elif typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint):
            inner = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(inner) == 1 and _is_tensor_hint(inner[0]):
                specs.append((p.name, "generic", None))
            else:
                specs.append((p.name, "const", None))
        else:
            raise NoGenericGraph(
                f"{sf._fn.__qualname__} has no generic graph: argument '{p.name}' is "
                f"annotated {_hint_name(hint)}, which fixes no graph input type (a list's "
                "length is part of the signature); pass example_inputs=[(...)]")
    return specs


def _is_tensor_hint(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Tensor)


def _signatures(n: int, order: tuple = GENERIC_RANKS) -> Any:
    """(dtypes, ranks) for n tensor arguments, cheapest first: a rank costs its position in
    `order`, int64 instead of the default dtype costs 1 (all-equal ranks first among
    equals). Mixed ranks and dtypes are searched for up to 4 tensor arguments."""
    default = get_default_dtype()
    if n == 0:
        yield (), ()
        return
    if n > 4:
        for r in order:
            yield (default,) * n, (r,) * n
        return
    combos = sorted(itertools.product(itertools.product((0, 1), repeat=n),
                                      itertools.product(range(len(order)), repeat=n)),
                    key=lambda c: (sum(c[0]) + sum(c[1]), len(set(c[1])) > 1, c[0], c[1]))
    for ints, ranks in combos:
        yield (tuple(int64 if i else default for i in ints),
               tuple(order[r] for r in ranks))


def _symbolic_types(sf: ScriptFunction, names: list, ranks: tuple, dtypes: tuple) -> dict:
    """Every size a fresh symbol (s0, s1, ...) except those `dynamic_dims` names."""
    types: dict = {}
    k = 0
    for name, rank, dtype in zip(names, ranks, dtypes):
        shape: list = []
        for _ in range(rank):
            shape.append(f"s{k}")
            k += 1
        marks = sf._dynamic.get(name) if isinstance(sf._dynamic, dict) and \
            isinstance(next(iter(sf._dynamic), None), str) else sf._dynamic
        for d, sym in (marks or {}).items():
            if isinstance(d, int) and -rank <= d < rank:
                shape[d] = sym
        types[name] = TensorType(dtype, shape, CPU)
    return types


def _substitute(types: dict, sub: dict) -> dict:
    return {n: TensorType(t.dtype, [sub.get(d, d) if isinstance(d, str) else d
                                    for d in t.shape], t.device) for n, t in types.items()}


def _unify(attempt: Callable, found: TracedFunction, types: dict) -> TracedFunction | None:
    """Fix the sizes the function constrains (see `generic_graph`); None if they cannot be."""
    symbols: list = []
    for t in types.values():
        symbols.extend(d for d in t.shape if isinstance(d, str) and d not in symbols)
    if not symbols:
        return found
    sizes = _concrete_sizes(found.graph)
    probes = [p for p in _PROBES if p not in sizes]
    if len(probes) < len(symbols):
        return None
    probe = dict(zip(symbols, probes))

    def probed(fix: dict) -> bool:
        merged = {s: probe[fix[s]] if isinstance(fix.get(s), str) else fix.get(s, probe[s])
                  for s in symbols}
        return attempt(_substitute(types, merged)) is not None

    if probed({}):
        return found
    fix: dict = {}
    for s in symbols:  # a symbol the function equates with a concrete size or another symbol
        if attempt(_substitute(types, {s: probe[s]})) is None:
            tries = [{s: size} for size in sorted(sizes)]
            tries += [{s: probe[t], t: probe[t]} for t in symbols if t != s and t not in fix]
            tries.append({s: 1})
            for sub in tries:
                if attempt(_substitute(types, sub)) is not None:
                    fix[s] = next((t for t, p in sub.items() if t != s), sub[s])
                    break
            else:
                return None
    free = [s for s in symbols if s not in fix]
    if not probed(fix):  # symbols the function equates with each other
        for i, a in enumerate(free):
            for b in free[i + 1:]:
                if b in fix or a in fix:
                    continue
                pair = dict(fix)
                pair.update({a: probe[a], b: probe[b]})
                if attempt(_substitute(types, pair)) is None:
                    fix[b] = a
        if not probed(fix):
            return None
    return attempt(_substitute(types, fix))


def _concrete_sizes(graph: Any) -> set:
    sizes: set = set()
    for v in graph.values():
        shape = getattr(v.type, "shape", None)
        if shape is not None:
            sizes.update(d for d in shape if isinstance(d, int) and d > 1)
    return sizes
