"""`dg.compile`: PyTorch's `torch.compile` entry point over dualgraph's own capture.

A call compiles on first use per input signature: by `dg.jit.script` (the function's source,
control flow kept), else by `dg.jit.trace` on the call's arguments (when the source uses Python
that script cannot compile), else it runs eagerly — and says so once, in a warning naming the
line and the reason, never silently. `fullgraph=True` makes that last step an error, as
PyTorch's does. Compiled modules are returned inside an `OptimizedModule` whose state dict keys
carry PyTorch's `_orig_mod.` prefix.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

from .ir.registry import OpError
from .jit import ScriptError, TraceError, script, trace
from .nn.module import Module
from .tensor import Tensor

__all__ = ["compile", "OptimizedModule"]

# PyTorch's modes; dualgraph has one optimizing pipeline, so every mode but "lite" runs all of
# it (O3), and "lite" (PyTorch: few optimizations, fast compiles) runs O1's cleanups only.
_MODES = {"default": 3, "reduce-overhead": 3, "max-autotune": 3,
          "max-autotune-no-cudagraphs": 3, "lite": 1}
_BACKENDS = ("inductor", "eager")  # "inductor": dualgraph's compiler; "eager": no capture
# what capture raises for Python it cannot hold (script's source, trace's values, a symbolic size
# an op cannot take)
_CAPTURE_ERRORS = (ScriptError, TraceError, OpError)


def compile(model: Callable | None = None, *, fullgraph: bool = False,
            dynamic: bool | None = None, backend: str | None = None, mode: str | None = None,
            options: dict | None = None, disable: bool = False) -> Any:
    """Compile a function or module (also as `@dg.compile` / `@dg.compile(...)`): script, else
    trace, else eager with a warning (an error with `fullgraph=True`). `dynamic` None or True:
    the first dim of each tensor argument is symbolic (one graph for every batch size);
    False: every size is specialized and a new size compiles anew."""
    opt_level = _check_options(backend, mode, options, dynamic)
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                 mode=mode, options=options, disable=disable)
    if not callable(model):
        raise RuntimeError(f"compile(): expected a callable (a function or an nn.Module), got "
                           f"{type(model).__name__}")
    if disable:
        return model
    compiled = _Compiled(model, fullgraph, dynamic is not False, backend == "eager", opt_level)
    if isinstance(model, Module):
        return OptimizedModule(model, compiled)

    @functools.wraps(model)
    def run(*args: Any, **kwargs: Any) -> Any:
        return compiled(*args, **kwargs)
    run._dg_compiled = compiled  # type: ignore[attr-defined]
    return run


def _check_options(backend: Any, mode: Any, options: Any, dynamic: Any) -> int:
    """The opt level the arguments ask for; PyTorch's errors for the ones it refuses."""
    if backend is not None and not isinstance(backend, str):
        raise TypeError("compile(): dualgraph compiles its own graphs and cannot hand them to a "
                        f"torch.fx backend callable ({backend!r}); pass backend='inductor' "
                        "(dualgraph's compiler) or 'eager'")
    if backend is not None and backend not in _BACKENDS:
        raise RuntimeError(f"Invalid backend: {backend!r}; dualgraph's backends are "
                           f"{', '.join(map(repr, _BACKENDS))}")
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified "
                           "at the same time.")
    if options:
        raise RuntimeError(f"compile(): dualgraph has no inductor options (got "
                           f"{', '.join(map(repr, options))}); choose passes with mode= or "
                           "dg.jit.script(..., opt_level=)")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if dynamic not in (None, True, False):
        raise TypeError(f"compile(): dynamic must be None, True or False, got {dynamic!r}")
    return _MODES[mode or "default"]


class _Compiled:
    """The compiled callable: one script capture for every signature, trace captures per
    signature where script refuses the source, eager where both refuse."""

    def __init__(self, fn: Callable, fullgraph: bool, dynamic: bool, eager: bool,
                 opt_level: int) -> None:
        self.fn, self.fullgraph, self.dynamic, self.opt_level = fn, fullgraph, dynamic, opt_level
        self.how = "eager" if eager else "script"  # "script", then "trace" or "eager"
        self.why = "backend='eager'" if eager else ""
        self.scripted: Any = None
        self.traced: dict = {}

    def _dims(self) -> Any:
        return {0: "B"} if self.dynamic else None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.how == "script":
            try:  # capture only: errors of the call itself are the user's, not a fallback
                if self.scripted is None:
                    self.scripted = script(self.fn, dynamic_dims=self._dims(),
                                           opt_level=self.opt_level)
                run = self.scripted.bound(*args, **kwargs)
            except _CAPTURE_ERRORS as e:
                self._fall_back("trace", e)
            else:
                return run()
        if self.how == "trace":
            if kwargs:
                self._fall_back("eager", "keyword arguments cannot be traced")
            else:
                try:
                    traced = self._traced(args)
                except _CAPTURE_ERRORS as e:
                    self._fall_back("eager", e)
                else:
                    return traced(*args)
        return self.fn(*args, **kwargs)

    def _traced(self, args: tuple) -> Any:
        """The trace for this signature: with the batch dim symbolic where asked and possible
        (an op that needs its size, such as unbind, makes it static)."""
        key = (tuple(_signature(a, self.dynamic) for a in args),
               tuple(m.training for m in self.fn.modules()) if isinstance(self.fn, Module)
               else ())
        found = self.traced.get(key)
        if found is None:
            dims = self._dims() if all(isinstance(a, Tensor) and a.dim() for a in args) else None
            try:
                found = trace(self.fn, args, dynamic_dims=dims, opt_level=self.opt_level)
            except _CAPTURE_ERRORS:
                if dims is None:
                    raise
                key = (tuple(_signature(a, False) for a in args),) + key[1:]
                found = self.traced.get(key) or trace(self.fn, args, opt_level=self.opt_level)
            self.traced[key] = found
        return found

    def _fall_back(self, how: str, reason: Any) -> None:
        """Move to the next way of running; an error instead of eager with fullgraph=True."""
        lines = str(reason).strip().splitlines()
        text = " ".join(lines[:2]) if lines else type(reason).__name__
        if how == "eager" and self.fullgraph:
            raise RuntimeError(f"compile(fullgraph=True): {_name(self.fn)} cannot be captured "
                               f"whole: {reason}") from (reason if isinstance(reason, Exception)
                                                         else None)
        self.how, self.why = how, f"{self.why}; {text}" if self.why else text
        if how == "eager":
            warnings.warn(f"dg.compile: {_name(self.fn)} runs eagerly: {self.why}",
                          RuntimeWarning, stacklevel=4)


def _signature(x: Any, dynamic: bool) -> Any:
    if isinstance(x, Tensor):
        shape = tuple(x.shape)
        return ("T", x.dtype.name, (None,) + shape[1:] if dynamic and shape else shape,
                str(x.device))
    return ("V", type(x).__name__, x if isinstance(x, (bool, int, float, str)) else id(x))


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


class OptimizedModule(Module):
    """What `dg.compile(module)` returns, as in PyTorch: the original module is its child
    `_orig_mod` (so state dict keys gain that prefix), calls run the compiled forward, and other
    attributes are the original module's."""

    def __init__(self, mod: Module, compiled: _Compiled) -> None:
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_dg_compiled", compiled)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._dg_compiled(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("_orig_mod"), name)

    @property
    def compiled_with(self) -> str:
        """How calls run now: "script", "trace" or "eager" (with why, after a fallback)."""
        c = self._dg_compiled
        return c.how if not c.why else f"{c.how} ({c.why})"
