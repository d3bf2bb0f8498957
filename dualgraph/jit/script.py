"""`dg.jit.script` / `@dg.script`: compile a function's or a module's Python source, control flow
kept as `if`/`loop` nodes.

A scripted function compiles on its first call for each input signature (dtypes, shapes and
devices of its tensors, the types of its scalars, the lengths of its tensor lists, the values of
its other arguments), as `jax.jit` does, and reuses the graph after that; `dynamic_dims` keeps
dimensions symbolic so one graph serves every batch size. Tensors and Python scalars are graph
inputs (scalars as 0-d tensors: a `range(n)` loop stays a loop); `None`, strings and other
Python values are decided when compiling. A module's parameters and buffers are read at every
call, so the scripted module shares the original's parameters and trains with it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Any, Callable

from ..ir.types import TensorType, bool_, float64, int64
from ..tensor import Tensor
from .blocks import BlockTracer
from .frontend import FunctionCompiler, is_library, source_of
from .trace import TracedFunction, capture

_SCALAR_DTYPES = {bool: bool_, int: int64, float: float64}


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
        self._cache: dict = {}
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
            key.append(k)
            slots.append((name, kind, value))
            tensors.extend(_as_inputs(kind, value))
        if self._module is not None:
            key.append(tuple(m.training for m in self._module.modules())
                       if hasattr(self._module, "modules") else ())
            key.append(tuple((str(t.dtype), tuple(t.shape), str(t.device))
                             for t in _state_of(self._module)))
        key_t = tuple(key)
        compiled = self._cache.get(key_t)
        if compiled is None:
            compiled = self._cache[key_t] = self._compile(slots)
        self._last = compiled
        return compiled, tensors

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

    def _compile(self, slots: list) -> TracedFunction:
        types, names = [], []
        for name, kind, value in slots:
            for i, t in enumerate(_as_inputs(kind, value)):
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
                                      run, BlockTracer)
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

    @property
    def graph_before_passes(self) -> Any:
        return self._latest().graph_before_passes

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
            raise RuntimeError(f"{self._fn.__qualname__} has not been compiled yet: scripted "
                               "functions compile on their first call for each input signature; "
                               "call it once, or use .graph_for(*example_inputs)")
        return self._last

    def graph_for(self, *args: Any, **kwargs: Any) -> Any:
        """The graph compiled for these inputs (compiling it if needed), without running it."""
        return self._specialize(args, kwargs)[0].graph

    @property
    def graph(self) -> Any:
        return self._latest().graph

    @property
    def code(self) -> str:
        return self._latest().code

    @property
    def compiled(self) -> TracedFunction:
        """The last compiled specialization (a GraphFunction: `.graph`, `.code`, `.save`)."""
        return self._latest()

    def save(self, path: Any) -> None:
        """Save the last compiled specialization as a `.dgm` file (see `dg.jit.save`)."""
        self._latest().save(path)

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

    def graph_for(self, *args: Any, **kwargs: Any) -> Any:
        return self._forward.graph_for(*args, **kwargs)

    def save(self, path: Any) -> None:
        self._forward.save(path)

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
