"""`dg.jit.save` / `dg.jit.load` (and `dg.load`): compiled functions as `.dgm` files.

A saved function is its graph plus the state it read (a module's parameters and buffers), stored
as tensors. Loading rebuilds a `GraphFunction` from the file alone: no Python source of the model,
no pickle, nothing executed from the file (see `dualgraph.serialize` and docs/FORMAT.md).
"""

from __future__ import annotations

import keyword
import os
from typing import Any

import numpy as np

from ..ir.graph import Value
from ..ir.types import TensorType
from ..serialize import SerializationError, read_dgm, write_dgm
from ..tensor import Tensor, from_array
from .function import GraphFunction

GRAPH_KIND = "graph"


class LoadedFunction(GraphFunction):
    """A function read from a `.dgm` file; its state lives in the loaded tensors."""

    def _assign(self, index: int, value: Tensor) -> None:
        self._state[index] = value

    @property
    def state_names(self) -> list:
        return list(self.graph.meta.get("params", ()))

    def state_dict(self) -> dict:
        return dict(zip(self.state_names, self._state))


def _state_key(name: str) -> str:
    return f"state.{name}"


def save(fn: Any, path: str | os.PathLike, *, keep_source: bool = True) -> None:
    """Write a compiled function (traced, scripted or loaded) to `path` as a `.dgm` file; a
    scripted function or module writes its last compiled specialization. Each node's source
    location is stored relative to the current directory (or as a bare file name when outside
    it); `keep_source=False` leaves source locations out entirely."""
    if not isinstance(fn, GraphFunction) and isinstance(
            getattr(type(fn), "compiled", None), property):
        fn = fn.compiled
    if not isinstance(fn, GraphFunction):
        raise TypeError(f"jit.save() expects a traced, scripted or loaded function, got "
                        f"{type(fn).__name__}")
    graph = fn.graph_before_passes  # the program as captured: the loader runs its own passes
    names = list(graph.meta.get("params", ()))
    tensors = {_state_key(n): np.array(t._host(), order="C")  # 0-d stays 0-d
               for n, t in zip(names, fn._state_tensors())}
    write_dgm(os.fspath(path), GRAPH_KIND, graph, tensors, {"name": fn._name},
              keep_source=keep_source)


def load(path: str | os.PathLike, opt_level: int = 3) -> Any:
    """Read a `.dgm` file written by `save`; returns a callable that behaves as the original,
    optimized at `opt_level` (the file holds the graph as captured)."""
    path = os.fspath(path)
    return from_parts(path, *read_dgm(path), opt_level=opt_level)


def _refuse(path: str, where: str, what: str) -> None:
    raise SerializationError(f"{path}: manifest.json: {where}: {what}")


def _check_callable(path: str, manifest: dict, graph: Any) -> str:
    """What a compiled function needs beyond a valid graph: tensor inputs and outputs, and a
    name (metadata.name; other metadata is the application's) that is a Python identifier."""
    for j, v in enumerate(graph.inputs):
        if not isinstance(v.type, TensorType):
            _refuse(path, f"graph.inputs[{j}].type", f"a compiled function takes tensors; input "
                                                     f"%{v.name} is {v.type!r}")
    for j, v in enumerate(graph.outputs):
        if not (isinstance(v, Value) and isinstance(v.type, TensorType)):
            _refuse(path, f"graph.outputs[{j}]", f"a compiled function returns tensors; output "
                                                 f"{j} is {v!r}")
    name = manifest.get("metadata", {}).get("name", graph.name)
    if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
        _refuse(path, "metadata.name", f"expected a Python identifier that is not a keyword, "
                                       f"found {name!r:.80}")
    return name


def from_parts(path: str, manifest: dict, graph: Any, tensors: dict,
               opt_level: int = 3) -> LoadedFunction:
    """A LoadedFunction from a file's parsed parts (checks the state against the graph)."""
    kind = manifest.get("kind")
    if kind != GRAPH_KIND or graph is None:
        raise SerializationError(f"{path}: holds a {kind!r}, not a compiled function; "
                                 "dg.load reads every kind")
    fn_name = _check_callable(path, manifest, graph)
    n_user = graph.meta.get("user_inputs", len(graph.inputs))
    state = []
    for j, (name, value) in enumerate(zip(graph.meta.get("params", ()), graph.inputs[n_user:])):
        key = _state_key(name)
        if key not in tensors:
            _refuse(path, f"graph.meta.params[{j}]", f"names the state tensor {name!r:.80}, but "
                                                     f"the manifest holds no tensor {key!r:.80}")
        array = tensors[key]
        t = from_array(array)
        if t.dtype is not value.type.dtype or tuple(array.shape) != tuple(value.type.shape):
            raise SerializationError(
                f"{path}: the state tensor {name!r} has dtype {t.dtype} and shape "
                f"{list(array.shape)}, but the graph's input %{name} is {value.type}")
        state.append(t if value.type.device.type == "cpu" else t.to(value.type.device))
    return LoadedFunction(graph, state, name=fn_name, opt_level=opt_level)
