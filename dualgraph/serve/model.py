"""A served model: a loaded graph function, its signature as the protocol shows it, the checks a
request passes before it is queued, and one batched call (concatenate, run, split back).

A model batches when every user input's first dimension is one symbol (`B`) that no other
dimension of an input or output uses, and every output's first dimension is that symbol. The
graph cannot prove that rows stay independent (`x - x.mean(0)` keeps the shape and mixes rows),
so loading also runs a probe: two rows together must give what each gives alone; a model that
fails the probe is served one request per call, and `batching_off` says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..ir.symbolic import SYMBOL, symbols_of
from ..ir.types import TensorType, dtype_from_numpy
from .datatypes import datatype_of
from .errors import ServeError


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as the protocol describes it: name, datatype, shape (-1 = symbolic)."""

    name: str
    type: TensorType

    @property
    def datatype(self) -> str:
        return datatype_of(self.type.dtype)

    @property
    def shape(self) -> list:
        return [d if isinstance(d, int) else -1 for d in self.type.shape]

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


class ServedModel:
    """A compiled function under a name, ready to be called on protocol tensors."""

    def __init__(self, name: str, fn: Any, source: str = "<in memory>") -> None:
        from ..jit.function import GraphFunction
        if not isinstance(fn, GraphFunction):
            raise TypeError(f"serve: model {name!r} must be a loaded, traced or scripted "
                            f"function, got {type(fn).__name__}")
        self.name, self.fn, self.source = name, fn, source
        graph = fn.graph
        n_user = graph.meta.get("user_inputs", len(graph.inputs))
        n_out = graph.meta.get("n_user_outputs", len(graph.outputs))
        if any(kind == "state" for kind, _, _ in graph.meta.get("mutations", ())):
            raise ValueError(f"serve: model {name!r} ({source}) updates its own state when it "
                             "runs (a buffer written back, e.g. batch norm in training mode); "
                             "trace or script it in eval mode to serve it")
        self.inputs = [TensorSpec(v.name, v.type) for v in graph.inputs[:n_user]]
        names = _output_names(fn, n_out)
        self.outputs = []
        for j, (out_name, v) in enumerate(zip(names, graph.outputs[:n_out])):
            if not isinstance(getattr(v, "type", None), TensorType):
                raise ValueError(f"serve: model {name!r} output {j} is not a tensor ({v!r})")
            self.outputs.append(TensorSpec(out_name, v.type))
        self.batch_symbol = _batch_symbol(self.inputs, self.outputs)
        self.batching_off = None if self.batch_symbol else "the graph has no symbolic batch dim"
        self._input_index = {s.name: i for i, s in enumerate(self.inputs)}

    # ------------------------------------------------------------------------------ checks
    def check(self, arrays: Mapping[str, np.ndarray]) -> list:
        """The request's arrays in the graph's input order, after checking names, dtypes and
        shapes against the graph's types (symbols bound consistently); a ServeError (400)
        names the input, what was expected and what came."""
        missing = [s.name for s in self.inputs if s.name not in arrays]
        extra = [n for n in arrays if n not in self._input_index]
        if extra:
            raise ServeError(400, f"model '{self.name}' has no input named {extra[0]!r}; its "
                                  f"inputs are {self.input_names()}")
        if missing:
            raise ServeError(400, f"model '{self.name}': input {missing[0]!r} is missing; its "
                                  f"inputs are {self.input_names()}")
        ordered = [arrays[s.name] for s in self.inputs]
        for spec, a in zip(self.inputs, ordered):
            if a.dtype != spec.type.dtype.np:
                raise ServeError(400, f"model '{self.name}': input '{spec.name}' expected "
                                      f"datatype {spec.datatype}, got "
                                      f"{datatype_of(dtype_from_numpy(a.dtype))}")
        from ..jit.function import GraphInputError, bind_symbols
        from ..tensor import from_array
        try:
            bind_symbols(self.fn.graph, [from_array(a) for a in ordered]
                         + self.fn._state_tensors(), self.name)
        except GraphInputError as exc:
            raise ServeError(400, f"model '{self.name}': {exc}") from None
        return ordered

    def input_names(self) -> str:
        return ", ".join(f"'{s.name}' ({s.datatype} {s.shape})" for s in self.inputs)

    def batch_key(self, ordered: Sequence[np.ndarray]) -> tuple:
        """Requests with equal keys can share a batch: the same sizes past the batch dim."""
        return tuple(a.shape[1:] for a in ordered)

    # ------------------------------------------------------------------------------ running
    def run(self, ordered: Sequence[np.ndarray]) -> list:
        """One call of the compiled graph on arrays in input order; the outputs as arrays."""
        from .. import no_grad
        from ..jit.function import flatten
        from ..tensor import from_array
        tensors = []
        for spec, a in zip(self.inputs, ordered):
            t = from_array(np.ascontiguousarray(a))
            tensors.append(t if spec.type.device.type == "cpu" else t.to(spec.type.device))
        with no_grad():  # per thread: each worker thread enters it itself
            result = self.fn(*tensors)
        leaves: list = []
        flatten(result, leaves)
        return [np.asarray(t._host()) for t in leaves]

    def run_batch(self, requests: Sequence[Sequence[np.ndarray]]) -> list:
        """Several requests' inputs concatenated along the batch dim, one call, the outputs
        split back by each request's rows."""
        if len(requests) == 1:
            return [self.run(requests[0])]
        joined = [np.concatenate(parts, axis=0) for parts in zip(*requests)]
        outputs = self.run(joined)
        split, start = [], 0
        for req in requests:
            rows = req[0].shape[0]
            split.append([o[start:start + rows] for o in outputs])
            start += rows
        return split

    def probe_batching(self) -> None:
        """Compile and warm the graph, and turn batching off (saying why) unless two rows run
        together give what each gives alone."""
        if self.batch_symbol is None:
            return
        rng = np.random.default_rng(0)
        sizes = {s: 2 for spec in self.inputs for d in spec.type.shape for s in symbols_of(d)}
        try:
            rows = [_probe_inputs(self.inputs, sizes, self.batch_symbol, rng) for _ in range(2)]
            alone = [self.run(r) for r in rows]
            together = self.run_batch(rows)
        except Exception as exc:  # noqa: BLE001 - any failure means: do not batch
            self.batching_off = f"the batching probe failed: {type(exc).__name__}: {exc}"
            return
        for a_outs, t_outs in zip(alone, together):
            for a, t in zip(a_outs, t_outs):
                if a.shape != t.shape or not np.allclose(a, t, rtol=1e-4, atol=1e-5,
                                                         equal_nan=True):
                    self.batching_off = ("rows are not independent: a row run in a batch of 2 "
                                         "differs from the same row run alone")
                    return

    # ------------------------------------------------------------------------------ metadata
    def metadata(self) -> dict:
        """The protocol's model metadata (GET /v2/models/{name})."""
        return {"name": self.name, "versions": ["1"], "platform": "dualgraph",
                "inputs": [s.metadata() for s in self.inputs],
                "outputs": [s.metadata() for s in self.outputs],
                "parameters": {"batch_dim": self.batch_symbol,
                               "dynamic_batching": self.batching_off is None,
                               "batching_off": self.batching_off}}


def _output_names(fn: Any, n_out: int) -> list:
    """A dict-returning function's keys, else `output0`, `output1` ..."""
    tree = getattr(fn, "_out_tree", None)
    if isinstance(tree, list) and len(tree) == 2 and tree[0] == "dict" and \
            all(sub is None and isinstance(k, str) for k, sub in tree[1]) and len(tree[1]) == n_out:
        return [k for k, _ in tree[1]]
    return [f"output{j}" for j in range(n_out)]


def _batch_symbol(inputs: list, outputs: list) -> str | None:
    """The symbol every input and output has as its first dim and nowhere else, or None."""
    if not inputs or not outputs:
        return None
    first = inputs[0].type.shape[0] if inputs[0].type.shape else None
    if not (isinstance(first, str) and SYMBOL.match(first)):
        return None
    for spec in inputs + outputs:
        shape = spec.type.shape
        if not shape or shape[0] != first:
            return None
        if any(first in symbols_of(d) for d in shape[1:]):
            return None
    return str(first)


def _probe_inputs(inputs: list, sizes: dict, batch: str, rng: Any) -> list:
    """One row of made-up inputs: normal floats, zeros for integers and bools."""
    arrays = []
    for spec in inputs:
        shape = [1 if d == batch else d if isinstance(d, int) else
                 _size(d, sizes) for d in spec.type.shape]
        np_dtype = spec.type.dtype.np
        if spec.type.dtype.is_floating_point:
            arrays.append(rng.standard_normal(shape).astype(np_dtype))
        else:
            arrays.append(np.zeros(shape, np_dtype))
    return arrays


def _size(d: Any, sizes: dict) -> int:
    from ..ir.symbolic import evaluate
    return int(evaluate(d, sizes))



def load_model(spec: str, opt_level: int = 3) -> ServedModel:
    """`NAME=PATH` or `PATH` (named by the file's stem) -> a ServedModel, probed for batching.
    The loader's own error (SerializationError, OSError) passes through unchanged."""
    name, sep, path = spec.partition("=")
    if not sep or not name or "/" in name or os.sep in name:  # a path that holds an "="
        name, path = os.path.splitext(os.path.basename(spec))[0], spec
    if not name:
        raise ValueError(f"serve: a model is PATH or NAME=PATH; cannot take a name from {spec!r}")
    from ..jit import load
    model = ServedModel(name, load(path, opt_level=opt_level), source=path)
    model.probe_batching()
    return model
