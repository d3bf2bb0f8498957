"""What export reads: a graph, its state arrays and their names, from whatever the user passes —
a plain function or module (traced on `args`), a scripted one (specialized on `args`), or a
compiled function (its captured graph) — with `dynamic_shapes` / `dynamic_axes` turned into the
symbolic dims dualgraph's capture keeps."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..ir.symbolic import SYMBOL
from ..ir.types import TensorType


def graph_and_state(model: Any, args: Any, dynamic_shapes: Any, dynamic_axes: Any) -> tuple:
    """Capture in eval mode, as torch.onnx.export does by default (TrainingMode.EVAL): dropout
    off, batch norm on its running statistics; the module's mode is restored after."""
    from ..jit import ScriptModule
    module = model._module if isinstance(model, ScriptModule) else model
    modes = [(m, m.training) for m in module.modules()] if hasattr(module, "modules") and \
        hasattr(module, "training") else []
    for m, _ in modes:
        m.training = False
    try:
        return _capture(model, args, dynamic_shapes, dynamic_axes)
    finally:
        for m, mode in modes:
            m.training = mode


def _capture(model: Any, args: Any, dynamic_shapes: Any, dynamic_axes: Any) -> tuple:
    from ..jit import GraphFunction, ScriptFunction, ScriptModule, trace
    args = _as_tuple(args)
    if isinstance(model, (ScriptFunction, ScriptModule)):
        fn = model._forward if isinstance(model, ScriptModule) else model
        names = _names(fn._fn, len(args), skip_self=fn._module is not None)
        marks = _marks(names, dynamic_shapes, dynamic_axes)
        if marks:
            fn = ScriptFunction(fn._fn, fn._module, _by_name(names, marks), fn.opt_level)
        compiled, _ = fn._specialize(args, {})
        return _from_compiled(compiled, None)
    if isinstance(model, GraphFunction):
        user = model.graph_before_passes.inputs[:_n_user(model.graph_before_passes)]
        return _from_compiled(model, _marks([v.name for v in user], dynamic_shapes,
                                            dynamic_axes))
    if not callable(model):
        raise TypeError(f"onnx.export(): expected a function, a module or a compiled function, "
                        f"got {type(model).__name__}")
    target = getattr(model, "forward", model) if not inspect.isroutine(model) else model
    names = _names(target, len(args), skip_self=False)
    marks = _marks(names, dynamic_shapes, dynamic_axes)
    traced = trace(model, args, dynamic_dims=[marks.get(i) for i in range(len(args))]
                   if marks else None)
    return _from_compiled(traced, None)


def _from_compiled(fn: Any, marks: dict | None) -> tuple:
    graph = fn.graph_before_passes
    names = list(graph.meta.get("params", ()))
    state = [np.asarray(t._host()) for t in fn._state_tensors()]
    for i, dims in (marks or {}).items():
        v = graph.inputs[i]
        for d in dims:
            if not isinstance(v.type, TensorType) or not -len(v.type.shape) <= d < len(
                    v.type.shape):
                raise ValueError(f"onnx.export(): input '{v.name}' has no dim {d}")
            if not isinstance(v.type.shape[d], str):
                raise ValueError(
                    f"onnx.export(): dim {d} of input '{v.name}' is {v.type.shape[d]} in this "
                    "compiled function's graph; trace or script it with dynamic_dims to make "
                    "it symbolic (a compiled function's symbolic dims export as they are)")
    return graph, state, names


def _n_user(graph: Any) -> int:
    return graph.meta.get("user_inputs", len(graph.inputs))


def _as_tuple(args: Any) -> tuple:
    if isinstance(args, tuple):
        return args
    if isinstance(args, list):
        return tuple(args)
    return (args,)


def _names(fn: Any, n: int, skip_self: bool) -> list:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if skip_self and params and params[0] == "self":
        params = params[1:]
    return params[:n] if len(params) >= n else [f"input{i}" for i in range(n)]


def _dim_name(value: Any, where: str) -> str:
    name = value if isinstance(value, str) else getattr(value, "__name__", None)
    if not isinstance(name, str) or not SYMBOL.match(name):
        raise ValueError(f"onnx.export(): {where}: a dynamic dim is named by an identifier "
                         f"(a str, or a Dim with __name__), got {value!r}")
    return name


def _marks(names: list, dynamic_shapes: Any, dynamic_axes: Any) -> dict:
    """{input position: {dim: symbol}} from either form (the dynamo exporter's `dynamic_shapes`,
    or TorchScript-era `dynamic_axes` keyed by input name)."""
    marks: dict = {}
    if dynamic_shapes is not None:
        if isinstance(dynamic_shapes, dict):
            items = []
            for key, spec in dynamic_shapes.items():
                if isinstance(key, int):
                    items.append((key, spec))
                elif key in names:
                    items.append((names.index(key), spec))
                else:
                    raise ValueError(f"onnx.export(): dynamic_shapes names {key!r}, which is "
                                     f"not an argument ({', '.join(names)})")
        else:
            items = list(enumerate(dynamic_shapes))
        for i, spec in items:
            if spec is None:
                continue
            if not isinstance(spec, dict):  # one entry per dim (a Dim or None), or dim numbers
                spec = list(spec)
                spec = ({d: f"{names[i]}_dim_{d}" for d in spec} if all(
                    isinstance(d, int) for d in spec) else dict(enumerate(spec)))
            dims = {int(d): _dim_name(s, f"dynamic_shapes[{names[i]!r}]")
                    for d, s in spec.items() if s is not None}
            if dims:
                marks.setdefault(i, {}).update(dims)
    for key, spec in (dynamic_axes or {}).items():
        if key not in names:
            continue  # an output's axes name its dim_params only
        i = names.index(key)
        dims = ({int(d): _dim_name(s, f"dynamic_axes[{key!r}]") for d, s in spec.items()}
                if isinstance(spec, dict) else
                {int(d): f"{key}_dynamic_axes_{k + 1}" for k, d in enumerate(spec)})
        marks.setdefault(i, {}).update(dims)
    return marks


def _by_name(names: list, marks: dict) -> dict:
    return {names[i]: dims for i, dims in marks.items()}
