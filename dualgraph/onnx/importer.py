"""`dualgraph.onnx.load`: an ONNX model file -> a dualgraph compiled function of registry ops.

Threat model as for `.dgm` files: the file may come from anyone. Its size is bounded before it
is read (external data too: plain file names beside the model only), protobuf parses it as data,
ONNX's checker validates it, and nothing in it executes — ops map through the import table
(import_table.IMPORT) to registry nodes, constants stay arrays, and the resulting graph is
returned only after dualgraph's verifier accepts it. Every fault is an `ImportError_` (a
ValueError) naming the file, the node and the op; ops and dtypes dualgraph lacks are
`UnsupportedOpError` / `UnsupportedDTypeError`, by name.
"""

from __future__ import annotations

import keyword
import os
from typing import Any

import numpy as np

from ..ir.graph import Graph, Value
from ..ir.types import TensorType
from ..serialize.common import MAX_BYTES, MAX_ELEMENTS  # the .dgm loader's bounds
from ._deps import onnx
from .dtypes import UnsupportedDTypeError, from_onnx
from .import_builder import Builder, ImportError_, Symbolic, UnsupportedOpError, _ident
from .import_fold import fold
from .import_table import IMPORT

MAX_NODES = 1 << 20  # nodes in all graphs of a model
MAX_DEPTH = 16  # nesting of subgraphs (If inside Loop ...)


def load(path: str | os.PathLike, *, opt_level: int = 3, max_bytes: int = MAX_BYTES,
         constants: dict | None = None) -> Any:
    """Read an ONNX model as a compiled function (a `LoadedFunction`: call it on tensors, its
    initializers are its `state_dict()`, `.save()` writes a `.dgm`). `constants` ({input name:
    array}) fixes graph inputs that dualgraph needs when compiling (a Reshape's shape, a
    reduction's axes fed as inputs): they become constants and leave the inputs."""
    from ..jit.io import LoadedFunction
    from ..tensor import from_array
    path = os.fspath(path)
    graph, state = import_model(read_model(path, max_bytes), path, constants)
    name = _ident(graph.name)
    name = name if name.isidentifier() and not keyword.iskeyword(name) else "onnx_model"
    return LoadedFunction(graph, [from_array(np.array(a)) for a in state], name=name,
                          opt_level=opt_level)


def read_model(path: str, max_bytes: int = MAX_BYTES) -> Any:
    """Parse a model file, bounding its size and that of its external data, then check it."""
    lib = onnx()
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read the file ({exc.strerror})") from None
    if size > max_bytes:
        raise ImportError_(f"{path}: the file has {size} bytes, more than the {max_bytes} read")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    try:
        model = lib.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and kin
        raise ImportError_(f"{path}: not an ONNX model ({type(exc).__name__}: {exc})") from None
    _external_data(model, path, max_bytes - size)
    try:
        lib.checker.check_model(model)
    except Exception as exc:
        raise ImportError_(f"{path}: ONNX's checker refuses the model: {exc}") from None
    return model


def _external_data(model: Any, path: str, budget: int) -> None:
    from onnx import external_data_helper as ext
    tensors = [t for t in ext._get_all_tensors(model) if ext.uses_external_data(t)]
    if not tensors:
        return
    folder = os.path.dirname(os.path.abspath(path))
    for t in tensors:
        info = ext.ExternalDataInfo(t)
        loc = info.location
        if os.path.basename(loc) != loc or loc in ("", ".", ".."):
            raise ImportError_(f"{path}: tensor {t.name!r}: external data must be a file beside "
                               f"the model, not {loc!r}")
        full = os.path.join(folder, loc)
        if not os.path.isfile(full):
            raise ImportError_(f"{path}: tensor {t.name!r}: external data file {loc!r} is "
                               "missing")
        budget -= info.length or os.stat(full).st_size
        if budget < 0:
            raise ImportError_(f"{path}: the external data exceed the bytes read")
    ext.load_external_data_for_model(model, folder)


def import_model(model: Any, source: str = "<model>", constants: dict | None = None) -> tuple:
    """(verified Graph, state arrays) of a checked ModelProto; `constants` as in `load`."""
    lib = onnx()
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise UnsupportedOpError(f"{source}: the model imports no version of the ONNX domain")
    from .import_expand import expand_functions
    model = expand_functions(model, set(IMPORT), opset)
    try:
        inferred = lib.shape_inference.infer_shapes(model)
    except Exception:  # inference is a help for dtypes only; the checker already ran
        inferred = model
    dtypes = _elem_types(inferred.graph, {})
    g = model.graph
    graph = Graph(name=g.name or "onnx_model")
    b = Builder(graph, opset)
    b.dtypes = dtypes
    b.run_subgraph = lambda sub, where: _run(b, sub, where, dtypes, depth=1)
    init_names = {t.name for t in g.initializer}
    from onnx import numpy_helper
    for t in g.initializer:
        try:
            from_onnx(t.data_type, f"{source}: initializer {t.name!r}")
        except UnsupportedDTypeError:
            raise
        b.initializers[t.name] = numpy_helper.to_array(t)
    fresh = iter(range(1 << 30))
    fixed = dict(constants or {})
    for i, vi in enumerate(g.input):
        if vi.name in init_names:
            continue
        if vi.name in fixed:
            b.define(vi.name, None, np.asarray(fixed.pop(vi.name)))
            continue
        typ = _input_type(vi, f"{source}: graph input {vi.name!r}", fresh)
        v = graph.add_input(typ, _ident(vi.name))
        b.define(vi.name, v)
    if fixed:
        raise ImportError_(f"{source}: constants name {sorted(fixed)}, which are not inputs")
    n_user = len(graph.inputs)
    outs = _run(b, g, source, dtypes, depth=0)
    for v in outs:
        if not isinstance(v, Value):
            raise ImportError_(f"{source}: a graph output is not a tensor")
    graph.outputs = list(outs)
    graph.inputs.extend(v for _, v, _ in b.state)
    graph.meta.update(user_inputs=n_user, params=[v.name for _, v, _ in b.state],
                      n_user_outputs=len(outs), out_tree=None, mutations=[])
    _unique_names(graph)
    from ..ir.verify import verify
    try:
        verify(graph)
    except Exception as exc:
        raise ImportError_(f"{source}: the imported graph fails verification: {exc}") from None
    return graph, [a for _, _, a in b.state]


def _run(b: Builder, g: Any, where: str, dtypes: dict, depth: int) -> list:
    """Import one ONNX graph's nodes into the current scope; its outputs' values."""
    if depth > MAX_DEPTH:
        raise ImportError_(f"{where}: subgraphs nest deeper than {MAX_DEPTH}")
    from onnx import numpy_helper
    for t in g.initializer if depth else ():
        b.initializers[t.name] = numpy_helper.to_array(t)
    for k, node in enumerate(g.node):
        b.counted += 1
        if b.counted > MAX_NODES:
            raise ImportError_(f"{where}: more than {MAX_NODES} nodes")
        b.onnx_node = node
        b.where = f"{where}: node {k} {node.name!r} ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            raise UnsupportedOpError(f"{b.where}: ops of domain {node.domain!r} are not mapped")
        entry = IMPORT.get(node.op_type)
        if entry is None:
            raise UnsupportedOpError(f"{b.where}: the ONNX op {node.op_type} is not mapped")
        static = fold(b, node.op_type)
        if static is not None:
            b.define(node.output[0], None, static)
            continue
        try:
            results = entry(b)
        except (ImportError_, UnsupportedDTypeError):
            raise
        except Exception as exc:  # a meta function's refusal, a bad attribute ...
            raise ImportError_(f"{b.where}: {type(exc).__name__}: {exc}") from None
        for name, r in zip(node.output, results):
            if isinstance(r, (np.ndarray, Symbolic)):
                b.define(name, None, r)
            else:
                b.define(name, _as_onnx_type(b, r, dtypes.get(name)))
    return [b.lookup(o.name) for o in g.output]


def _as_onnx_type(b: Builder, v: Any, code: Any) -> Any:
    """Cast where dualgraph's promotion differs from ONNX's (int sum -> int64, int Div ...)."""
    if code is None or not isinstance(v, Value) or not isinstance(v.type, TensorType):
        return v
    want = from_onnx(code, b.where)
    return v if v.type.dtype is want else b.emit("to_dtype", [v], dtype=want)


def _elem_types(g: Any, out: dict) -> dict:
    for vi in list(g.value_info) + list(g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            out[vi.name] = vi.type.tensor_type.elem_type
    for node in g.node:
        for a in node.attribute:
            if a.g is not None and a.g.node:
                _elem_types(a.g, out)
    return out


def _input_type(vi: Any, where: str, fresh: Any) -> TensorType:
    t = vi.type
    if not t.HasField("tensor_type"):
        raise UnsupportedDTypeError(f"{where}: type {t.WhichOneof('value')} (dualgraph graphs "
                                    "take tensors)")
    dtype = from_onnx(t.tensor_type.elem_type, where)
    shape: list = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            shape.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            shape.append(_ident(d.dim_param))
        else:
            shape.append(f"d{next(fresh)}")
    n = 1
    for d in shape:
        n *= d if isinstance(d, int) and d else 1
    if n > MAX_ELEMENTS:
        raise ImportError_(f"{where}: {n} elements, more than {MAX_ELEMENTS}")
    return TensorType(dtype, shape)


def _unique_names(graph: Graph) -> None:
    seen: set = set()
    for v in graph.inputs:
        base, k = v.name, 1
        while v.name in seen:
            v.name, k = f"{base}_{k}", k + 1
        seen.add(v.name)
