"""The graph's JSON form: types, tagged attribute values, operands, nodes and blocks, written and
read back with every field checked."""

from __future__ import annotations

import contextlib
import json
import math
import os
from typing import Any, Mapping

import numpy as np

from ..ir.errors import VerificationError
from ..ir.graph import Block, Graph, Node, Value
from ..ir.registry import get as get_op
from ..ir.symbolic import SymbolicError, dim
from ..ir.text import INLINE_LIMIT, symbolic_attr
from ..ir.types import Device, DType, dtype_from_numpy, ListType, TensorType, TupleType
from ..ir.verify import verify
from .common import (GRAPH_PREFIX, INT64_MAX, INT64_MIN, MAX_DEPTH, MAX_ELEMENTS, MAX_NAME,
                     MAX_NDIM, MAX_SOURCE, SerializationError, UnknownOpError, UnsafeFileError,
                     UnsupportedVersionError, _DTYPES, _NONFINITE, _SCALAR_TYPES, _TAGS, _expect,
                     _fail, _fields, _found, _identifier, _json_data, _kind, _name, _printable)


# ------------------------------------------------------------------------------------ types

def _encode_type(src: str, where: str, t: Any) -> Any:
    if isinstance(t, TensorType):
        shape = [_encode_dim(src, f"{where}.shape[{i}]", d) for i, d in enumerate(t.shape)]
        return {"dtype": t.dtype.name, "shape": shape, "device": str(t.device)}
    for name, py in _SCALAR_TYPES.items():
        if t is py:
            return name
    if isinstance(t, TupleType):
        return {"tuple": [_encode_type(src, f"{where}[{i}]", e) for i, e in enumerate(t.elements)]}
    if isinstance(t, ListType):
        return {"list": _encode_type(src, f"{where}.element", t.element)}
    _fail(src, where, f"type {t!r} has no encoding (expected a tensor, scalar, tuple or list "
                      "type)")


def _encode_dim(src: str, where: str, d: Any) -> Any:
    """An int, or a symbolic size as its canonical text (`"B"`, `"48*B"`, `"B*T + 1"`)."""
    if isinstance(d, str):
        try:
            e = dim(d)
        except (SymbolicError, RecursionError):
            e = None
        if not isinstance(e, str):
            _fail(src, where, f"{d!r} is not a symbolic size")
        return str(e)
    return _encode_int(src, where, d)


def _decode_dim(src: str, where: str, d: Any) -> Any:
    """A dim of a shape: an integer, or the text of a symbolic size, read by the whitelist
    parser of ir/symbolic.py (symbols are ASCII identifiers; bounded length, degree, terms)."""
    if not isinstance(d, str):
        return _expect(src, where, d, "integer")
    if not d:
        _fail(src, where, "a symbolic dim must be a non-empty string")
    try:
        e = dim(d)
    except (SymbolicError, RecursionError) as exc:
        _fail(src, where, f"{d[:60]!r} is not a symbolic size: {exc}")
    if not isinstance(e, str):
        _fail(src, where, f"the symbolic size {d!r} is the constant {e}; write it as an integer")
    return e


def _decode_dtype(src: str, where: str, x: Any) -> DType:
    if _expect(src, where, x, "string") not in _DTYPES:
        _fail(src, where, f"unknown dtype {x!r}; expected one of {list(_DTYPES)}")
    return _DTYPES[x]


def _decode_device(src: str, where: str, x: Any) -> Device:
    _expect(src, where, x, "string")
    try:
        device = Device(x)
    except (RuntimeError, TypeError, ValueError):
        device = None
    if device is None or str(device) != x:
        _fail(src, where, f"expected a device 'cpu' or 'cuda:N', found {x!r}")
    return device


def _decode_type(src: str, where: str, x: Any, depth: int = 0) -> Any:
    if isinstance(x, str) and x in _SCALAR_TYPES:
        return _SCALAR_TYPES[x]
    if isinstance(x, dict) and list(x) in (["tuple"], ["list"]):
        if depth >= MAX_DEPTH:
            _fail(src, where, f"types are nested more than {MAX_DEPTH} deep", UnsafeFileError)
        if "list" in x:
            return ListType(_decode_type(src, f"{where}.list", x["list"], depth + 1))
        items = _expect(src, f"{where}.tuple", x["tuple"], "array")
        return TupleType(_decode_type(src, f"{where}.tuple[{i}]", e, depth + 1)
                         for i, e in enumerate(items))
    if not isinstance(x, dict):
        _fail(src, where, f"expected a tensor type object or one of {list(_SCALAR_TYPES)}, "
                          f"found {_found(x)}")
    _fields(src, where, x, ("dtype", "shape", "device"))
    dims = _expect(src, f"{where}.shape", x["shape"], "array")
    if len(dims) > MAX_NDIM:
        _fail(src, f"{where}.shape", f"has {len(dims)} dims; at most {MAX_NDIM} are allowed")
    shape = []
    elements = 1
    for i, d in enumerate(dims):
        at = f"{where}.shape[{i}]"
        if isinstance(d, str):
            _printable(src, at, d, MAX_NAME)
        d = _decode_dim(src, at, d)
        if not isinstance(d, str):
            if d < 0:
                _fail(src, at, f"a dim must be non-negative, found {d}")
            elements *= max(d, 1)
        shape.append(d)
    if elements > MAX_ELEMENTS:
        _fail(src, f"{where}.shape", f"{[d for d in shape]} has {elements} elements (counting "
                                     f"dims of 0 as 1); at most {MAX_ELEMENTS} are allowed",
              UnsafeFileError)
    return TensorType(_decode_dtype(src, f"{where}.dtype", x["dtype"]), shape,
                      _decode_device(src, f"{where}.device", x["device"]))


# ------------------------------------------------------------------ scalars and attributes

def _encode_int(src: str, where: str, x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        _fail(src, where, f"expected an integer, found {x!r}")
    if not INT64_MIN <= int(x) <= INT64_MAX:
        _fail(src, where, f"integer {x} is outside the int64 range")
    return int(x)


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return float(x)
    return {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _encode_scalar(src: str, where: str, x: Any) -> Any:
    """A Python (or NumPy) scalar as JSON: bool, integer, number, or {"float": "nan"}."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return _encode_int(src, where, x)
    if isinstance(x, (float, np.floating)):
        return _encode_float(float(x))
    _fail(src, where, f"expected a Value or a scalar (int, float, bool), found {x!r}")


def _encode_attr(src: str, where: str, v: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        _fail(src, where, f"attribute nested deeper than {MAX_DEPTH} levels")
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)):
        return _encode_scalar(src, where, v)
    if isinstance(v, (list, tuple)):
        items = [_encode_attr(src, f"{where}[{i}]", x, depth + 1) for i, x in enumerate(v)]
        return items if isinstance(v, list) else {"tuple": items}
    if isinstance(v, slice):
        return {"slice": [_encode_attr(src, where, x, depth + 1)
                          for x in (v.start, v.stop, v.step)]}
    if v is Ellipsis:
        return {"ellipsis": True}
    if isinstance(v, DType):
        return {"dtype": v.name}
    if isinstance(v, Device):
        return {"device": str(v)}
    _fail(src, where, f"attribute value {v!r} of type {type(v).__name__} has no encoding")


def _decode_attr(src: str, where: str, x: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        _fail(src, where, f"attribute nested deeper than {MAX_DEPTH} levels")
    kind = _kind(x)
    if kind == "string":
        return symbolic_attr(x)  # a size expression's text ('B*T') reads back as a SymExpr
    if kind in ("null", "boolean", "number"):
        return x
    if kind == "integer":
        return _expect(src, where, x, "integer")
    if kind == "array":
        return [_decode_attr(src, f"{where}[{i}]", e, depth + 1) for i, e in enumerate(x)]
    if len(x) != 1 or next(iter(x)) not in _TAGS:
        _fail(src, where, f"expected a tagged value (an object with one key of {list(_TAGS)}), "
                          f"found keys {list(x)}")
    (tag, body), = x.items()
    at = f"{where}.{tag}"
    if tag == "tuple":
        items = _expect(src, at, body, "array")
        return tuple(_decode_attr(src, f"{at}[{i}]", e, depth + 1) for i, e in enumerate(items))
    if tag == "slice":
        if _kind(body) != "array" or len(body) != 3:
            _fail(src, at, f"expected an array [start, stop, step], found {_found(body)}")
        return slice(*(_decode_attr(src, f"{at}[{i}]", e, depth + 1) for i, e in enumerate(body)))
    if tag == "ellipsis":
        if body is not True:
            _fail(src, at, f"expected true, found {_found(body)}")
        return Ellipsis
    if tag == "dtype":
        return _decode_dtype(src, at, body)
    if tag == "device":
        return _decode_device(src, at, body)
    if tag == "float":
        return _decode_nonfinite(src, at, body)
    _fail(src, where, "a tensor reference is only allowed as the `value` of a constant node")


def _decode_nonfinite(src: str, where: str, body: Any) -> float:
    if not isinstance(body, str) or body not in _NONFINITE:
        _fail(src, where, f"expected one of {list(_NONFINITE)}, found {_found(body)}")
    return _NONFINITE[body]


def _decode_operand(src: str, where: str, x: Any, env: dict) -> Any:
    """A value reference {"value": name} or a scalar literal (bool, integer, number, tagged)."""
    kind = _kind(x)
    if kind in ("boolean", "number"):
        return x
    if kind == "integer":
        return _expect(src, where, x, "integer")
    if kind == "object" and list(x) == ["float"]:
        return _decode_nonfinite(src, f"{where}.float", x["float"])
    if kind == "object" and list(x) == ["value"]:
        name = _expect(src, f"{where}.value", x["value"], "string")
        if name not in env:
            _fail(src, where, f"value %{name} is not defined before it is used")
        return env[name]
    _fail(src, where, f"expected a value reference {{\"value\": name}} or a scalar literal, "
                      f"found {_found(x)}")


# ------------------------------------------------------------------------------ graph: write

def graph_to_json(graph: Graph, *, keep_source: bool = True) -> dict:
    """The graph as JSON data (see docs/FORMAT.md); constants refer to `graph_tensors(graph)`.
    Source locations are written relative (see `portable_source`), or not at all when
    `keep_source` is False."""
    return _encode_graph(graph, "graph", keep_source)[0]


def graph_tensors(graph: Graph) -> dict[str, np.ndarray]:
    """The arrays that `graph_to_json(graph)` refers to by name (all named `graph/...`)."""
    return _encode_graph(graph, "graph")[1]


def _encode_graph(graph: Graph, src: str, keep_source: bool = True
                  ) -> tuple[dict, dict[str, np.ndarray]]:
    _verify(graph, src, "refusing to write a graph that fails verification")
    names = _value_names(graph, src)
    arrays: dict[str, np.ndarray] = {}
    by_id: dict[int, str] = {}
    refs = {}
    for key, value in graph.tensors.items():
        where = f"graph.tensors[{key!r}]"
        _name(src, where, key)
        refs[key] = _add_array(src, where, arrays, by_id, GRAPH_PREFIX + key, value)
    nodes = [_encode_node(src, i, node, names, arrays, by_id, keep_source=keep_source)
             for i, node in enumerate(graph.nodes)]
    obj = {
        "name": graph.name,
        "inputs": [{"name": names[v], "type": _encode_type(src, f"graph.inputs[{j}]", v.type)}
                   for j, v in enumerate(graph.inputs)],
        "nodes": nodes,
        "outputs": [_encode_operand(src, f"graph.outputs[{j}]", x, names)
                    for j, x in enumerate(graph.outputs)],
        "tensors": refs,
        "meta": _json_data(src, "graph.meta", graph.meta),
    }
    _expect(src, "graph.meta", obj["meta"], "object")
    _name(src, "graph.name", obj["name"])
    return obj, arrays


def _value_names(graph: Graph, src: str) -> dict:
    """A distinct name per value: inputs keep theirs; node outputs keep theirs when free."""
    names: dict = {}
    taken: set = set()
    for j, v in enumerate(graph.inputs):
        if not isinstance(v.name, str) or not v.name or v.name in taken:
            _fail(src, f"graph.inputs[{j}]", f"input names must be distinct non-empty strings, "
                                             f"found {v.name!r}")
        names[v] = v.name
        taken.add(v.name)
    counter = 0
    for node in graph.all_nodes():
        block_inputs = [v for b in node.blocks for v in b.inputs]
        for v in node.outputs + block_inputs:
            name = v.name if isinstance(v.name, str) and v.name else None
            while name is None or name in taken:
                name, counter = str(counter), counter + 1
            names[v] = name
            taken.add(name)
    return names


def _encode_operand(src: str, where: str, x: Any, names: dict) -> Any:
    if isinstance(x, Value):
        if x not in names:
            _fail(src, where, f"refers to %{x.name}, which this graph does not define")
        return {"value": names[x]}
    return _encode_scalar(src, where, x)


def _encode_node(src: str, i: int, node: Node, names: dict, arrays: dict, by_id: dict,
                 prefix: str = "graph.nodes", keep_source: bool = True) -> dict:
    where = f"{prefix}[{i}] ({node.op.name})"
    if node.op.python_callback:  # the Python it calls lives in this process only
        function = str(node.attrs.get("function", "")).rpartition(".")[2]
        _fail(src, where, f"Could not export Python function call '{function}'. Remove calls to "
                          "Python functions before export (a custom autograd.Function runs only "
                          "in the process that traced it; write it with dualgraph ops to save it)")
    attrs = {}
    for key, value in node.attrs.items():
        if node.op.name == "constant" and key == "value":
            tensor = node.meta.get("tensor")
            name = GRAPH_PREFIX + (tensor if isinstance(tensor, str) and tensor else f"const{i}")
            attrs[key] = {"tensor": _add_array(src, f"{where}.attrs.value", arrays, by_id, name,
                                               value)}
        else:
            attrs[key] = _encode_attr(src, f"{where}.attrs.{key}", value)
    obj = {
        "op": node.op.name,
        "version": node.op.version,
        "inputs": [_encode_operand(src, f"{where}.inputs[{k}]", x, names)
                   for k, x in enumerate(node.inputs)],
        "attrs": attrs,
        "outputs": [{"name": names[v], "type": _encode_type(src, f"{where}.outputs", v.type)}
                    for v in node.outputs],
    }
    meta = _node_meta(node, keep_source)
    if meta:
        obj["meta"] = meta
    if node.blocks:
        obj["blocks"] = [_encode_block(src, f"{where}.blocks[{b}]", block, names, arrays, by_id,
                                       keep_source)
                         for b, block in enumerate(node.blocks)]
    return obj


def _encode_block(src: str, where: str, block: Any, names: dict, arrays: dict,
                  by_id: dict, keep_source: bool = True) -> dict:
    """A control-flow node's block: its inputs, nodes and yielded values."""
    return {
        "name": _name(src, f"{where}.name", block.name),
        "inputs": [{"name": names[v], "type": _encode_type(src, f"{where}.inputs[{j}]", v.type)}
                   for j, v in enumerate(block.inputs)],
        "nodes": [_encode_node(src, k, n, names, arrays, by_id, f"{where}.nodes", keep_source)
                  for k, n in enumerate(block.nodes)],
        "outputs": [_encode_operand(src, f"{where}.outputs[{j}]", y, names)
                    for j, y in enumerate(block.outputs)],
    }


def _node_meta(node: Node, keep_source: bool = True) -> dict:
    """The node's annotations that have a JSON form; others (free debugging notes) are dropped.
    `source` is written as `portable_source` gives it, or dropped when `keep_source` is False."""
    out = {}
    for key, value in node.meta.items():
        if key == "source" and isinstance(value, str):
            if keep_source:
                out[key] = portable_source(value)
        elif isinstance(key, str):
            with contextlib.suppress(TypeError, ValueError, RecursionError):
                out[key] = json.loads(json.dumps(value, allow_nan=False))
    return out


def portable_source(location: str) -> str:
    """A source location `file:line` without the author's directories: a path under the current
    directory relative to it, any other absolute path reduced to its file name."""
    path, sep, line = location.rpartition(":")
    if not sep or not line.isdigit():
        path, line = location, ""
    if os.path.isabs(path):
        here = os.getcwd()
        try:
            inside = os.path.commonpath([here, path]) == here
        except ValueError:  # different drives
            inside = False
        path = os.path.relpath(path, here) if inside else os.path.basename(path)
    return f"{path}:{line}" if line else path


def _add_array(src: str, where: str, arrays: dict, by_id: dict, name: str, value: Any) -> str:
    """Store `value` under a free name near `name` (once per ndarray object); return the name."""
    if isinstance(value, np.ndarray) and id(value) in by_id:
        return by_id[id(value)]
    base, k = name, 1
    while name in arrays:
        name, k = f"{base}_{k}", k + 1
    arrays[name] = _normalize_array(src, where, value)
    if isinstance(value, np.ndarray):
        by_id[id(value)] = name
    return name


def _dtype_name(arr: np.ndarray) -> str:
    return dtype_from_numpy(arr.dtype.newbyteorder("=")).name


def _normalize_array(src: str, where: str, value: Any) -> np.ndarray:
    """`value` as an array of a dualgraph dtype in little-endian byte order."""
    arr = np.asarray(value)
    try:
        dtype = dtype_from_numpy(arr.dtype.newbyteorder("="))
    except (TypeError, ValueError) as exc:
        _fail(src, where, str(exc))
    return arr.astype(dtype.np.newbyteorder("<"), copy=False)


# ------------------------------------------------------------------------------- graph: read

def graph_from_json(obj: Any, tensors: Mapping[str, np.ndarray], *,
                    source: str = "graph JSON") -> Graph:
    """Build and verify a Graph from `graph_to_json`'s form; `tensors` holds the arrays its
    constants and `graph.tensors` refer to. Faults raise SerializationError prefixed `source`."""
    src, where = source, "graph"
    _fields(src, where, obj, ("name", "inputs", "nodes", "outputs", "tensors", "meta"))
    graph = Graph(name=_identifier(src, "graph.name", obj["name"]))
    env: dict[str, Value] = {}
    for j, x in enumerate(_expect(src, "graph.inputs", obj["inputs"], "array")):
        at = f"graph.inputs[{j}]"
        _fields(src, at, x, ("name", "type"))
        name = _define(src, f"{at}.name", x["name"], env)
        env[name] = graph.add_input(_decode_type(src, f"{at}.type", x["type"]), name)
    for i, x in enumerate(_expect(src, "graph.nodes", obj["nodes"], "array")):
        graph.nodes.append(_decode_node(src, i, x, env, tensors))
    graph.outputs = [_decode_operand(src, f"graph.outputs[{j}]", x, env)
                     for j, x in enumerate(_expect(src, "graph.outputs", obj["outputs"], "array"))]
    for key, ref in _expect(src, "graph.tensors", obj["tensors"], "object").items():
        graph.tensors[key] = _tensor_ref(src, f"graph.tensors[{key!r}]", ref, tensors)
    graph.meta = _expect(src, "graph.meta", obj["meta"], "object")
    _check_graph_meta(src, graph)
    _check_attr_types(src, graph)
    _verify(graph, src, "the graph fails verification")
    return graph


def _define(src: str, where: str, name: Any, env: dict) -> str:
    if _name(src, where, name) in env:
        _fail(src, where, f"value %{name} is defined twice")
    return name


def _tensor_ref(src: str, where: str, name: Any, tensors: Mapping) -> np.ndarray:
    if _expect(src, where, name, "string") not in tensors:
        _fail(src, where, f"refers to tensor {name!r}, which the manifest does not list")
    return tensors[name]


def _decode_node(src: str, i: int, x: Any, env: dict, tensors: Mapping,
                 prefix: str = "graph.nodes", depth: int = 0) -> Node:
    where = f"{prefix}[{i}]"
    op_name = x.get("op") if isinstance(x, dict) else None
    label = f"{where} ({op_name})" if isinstance(op_name, str) else where
    _fields(src, label, x, ("op", "version", "inputs", "attrs", "outputs"), ("meta", "blocks"))
    op = _decode_op(src, where, x["op"], x["version"])
    where = f"{where} ({op.name})"
    inputs = [_decode_operand(src, f"{where}.inputs[{k}]", e, env)
              for k, e in enumerate(_expect(src, f"{where}.inputs", x["inputs"], "array"))]
    outs = []
    for k, e in enumerate(_expect(src, f"{where}.outputs", x["outputs"], "array")):
        _fields(src, f"{where}.outputs[{k}]", e, ("name", "type"))
        outs.append((e["name"], _decode_type(src, f"{where}.outputs[{k}].type", e["type"])))
    attrs = {}
    for key, value in _expect(src, f"{where}.attrs", x["attrs"], "object").items():
        if key not in op.attrs:
            _fail(src, f"{where}.attrs", f"unknown attribute {key[:60]!r}; {op.name} has the "
                                         f"attributes {list(op.attrs)}")
        if op.name == "constant" and key == "value":
            attrs[key] = _constant_value(src, f"{where}.attrs.value", value, outs, tensors)
        else:
            attrs[key] = _decode_attr(src, f"{where}.attrs.{key}", value)
    node = Node(op, inputs, op.full_attrs(attrs), [t for _, t in outs])
    node.meta = _node_meta_from_json(src, f"{where}.meta", x.get("meta", {}))
    _check_printable_constant(src, where, node)
    for b, block in enumerate(_expect(src, f"{where}.blocks", x.get("blocks", []), "array")):
        node.blocks.append(_decode_block(src, f"{where}.blocks[{b}]", block, env, tensors, depth))
    for (name, _), v in zip(outs, node.outputs):
        v.name = _define(src, f"{where}.outputs", name, env)
        env[v.name] = v
    return node


def _node_meta_from_json(src: str, where: str, x: Any) -> dict:
    """A node's annotations: free JSON, but `source`, `tensor` and `module` (which code
    generation, the text form and pictures read) are printable strings."""
    meta = _expect(src, where, x, "object")
    if "source" in meta:
        _printable(src, f"{where}.source", meta["source"], MAX_SOURCE)
    if "module" in meta:
        _printable(src, f"{where}.module", meta["module"], MAX_SOURCE)
    if "tensor" in meta:
        _printable(src, f"{where}.tensor", meta["tensor"], MAX_SOURCE)
    return meta


def _decode_block(src: str, where: str, x: Any, env: dict, tensors: Mapping,
                  depth: int) -> Block:
    """A block sees the enclosing values; what it defines stays inside it."""
    if depth >= MAX_DEPTH:
        _fail(src, where, f"blocks are nested more than {MAX_DEPTH} deep", UnsafeFileError)
    _fields(src, where, x, ("name", "inputs", "nodes", "outputs"))
    block = Block(_name(src, f"{where}.name", x["name"]))
    inner = dict(env)
    for j, e in enumerate(_expect(src, f"{where}.inputs", x["inputs"], "array")):
        _fields(src, f"{where}.inputs[{j}]", e, ("name", "type"))
        v = Value(_decode_type(src, f"{where}.inputs[{j}].type", e["type"]),
                  _define(src, f"{where}.inputs[{j}].name", e["name"], inner))
        block.inputs.append(v)
        inner[v.name] = v
    for k, n in enumerate(_expect(src, f"{where}.nodes", x["nodes"], "array")):
        block.nodes.append(_decode_node(src, k, n, inner, tensors, f"{where}.nodes", depth + 1))
    block.outputs = [_decode_operand(src, f"{where}.outputs[{j}]", y, inner)
                     for j, y in enumerate(_expect(src, f"{where}.outputs", x["outputs"],
                                                   "array"))]
    return block


def _decode_op(src: str, where: str, name: Any, version: Any) -> Any:
    try:
        op = get_op(_expect(src, f"{where}.op", name, "string"))
    except KeyError:
        _fail(src, f"{where}.op", f"unknown op {name!r} (this dualgraph has no op of that name)",
              UnknownOpError)
    if op.python_callback:  # would call whatever Function this process holds under a key
        _fail(src, f"{where}.op", f"op {name!r} calls Python code of the process that traced "
                                  "it; no file may hold it")
    if _expect(src, f"{where}.version", version, "integer") < 1:
        _fail(src, f"{where}.version", f"op versions start at 1, found {version}")
    if version > op.version:
        _fail(src, f"{where}.version", f"op {name!r} has version {version} in the file, but this "
                                       f"dualgraph implements {name} version {op.version}; "
                                       "upgrade dualgraph to load it", UnsupportedVersionError)
    return op


def _constant_value(src: str, where: str, x: Any, outs: list, tensors: Mapping) -> np.ndarray:
    """The array a constant node refers to, checked against the node's declared type."""
    if _kind(x) != "object" or list(x) != ["tensor"]:
        _fail(src, where, f"expected a tensor reference {{\"tensor\": name}}, found {_found(x)}")
    arr = np.asarray(_tensor_ref(src, f"{where}.tensor", x["tensor"], tensors))
    declared = outs[0][1] if len(outs) == 1 else None
    ok = (isinstance(declared, TensorType) and declared.dtype.np == arr.dtype
          and declared.shape == arr.shape)
    if not ok:
        _fail(src, where, f"tensor {x['tensor']!r} is {arr.dtype.name}{list(arr.shape)}, which "
                          f"disagrees with the node's declared output type {declared}")
    return arr


def _check_printable_constant(src: str, where: str, node: Node) -> None:
    """The IR prints (and verifies) constants of more than INLINE_LIMIT elements by name."""
    value = node.attrs.get("value")
    if (node.op.name == "constant" and isinstance(value, np.ndarray) and value.size > INLINE_LIMIT
            and not isinstance(node.meta.get("tensor"), str)):
        _fail(src, f"{where}.meta", f"a constant of {value.size} elements needs a string "
                                    "'tensor' entry (its name in the text form)")


# ---------------------------------------------------------------- graph.meta and attributes

_MUTATION_KINDS = ("input", "state")
_MUTATION_HOWS = ("inplace", "assign")
_TREE_KINDS = ("tuple", "list", "dict", "none")  # none: the function returns None


def _check_graph_meta(src: str, graph: Graph) -> None:
    """The graph.meta fields the runtime reads (docs/FORMAT.md lists them) have their declared
    types and agree with the graph; other fields are free JSON annotations."""
    meta, where = graph.meta, "graph.meta"
    n_in, n_out = len(graph.inputs), len(graph.outputs)
    n_user = _meta_count(src, f"{where}.user_inputs", meta, "user_inputs", n_in, "inputs")
    n_user_out = _meta_count(src, f"{where}.n_user_outputs", meta, "n_user_outputs", n_out,
                             "outputs")
    if "params" in meta:
        params = _expect(src, f"{where}.params", meta["params"], "array")
        for j, p in enumerate(params):
            _name(src, f"{where}.params[{j}]", p)
        if "user_inputs" in meta and len(params) != n_in - n_user:
            _fail(src, f"{where}.params", f"names {len(params)} state inputs, but the graph has "
                                          f"{n_in} inputs of which {n_user} are user inputs")
    elif n_user != n_in:
        _fail(src, f"{where}.user_inputs", f"is {n_user} of {n_in} inputs, but graph.meta has no "
                                           "params naming the others")
    if "fresh" in meta:
        _expect(src, f"{where}.fresh", meta["fresh"], "integer")
    if "out_tree" in meta and meta["out_tree"] is not None:
        leaves = _tree_leaves(src, f"{where}.out_tree", meta["out_tree"], 0)
        if leaves != n_user_out:
            _fail(src, f"{where}.out_tree", f"has {leaves} leaves, but the graph has "
                                            f"{n_user_out} user outputs")
    mutations = meta.get("mutations", [])
    _expect(src, f"{where}.mutations", mutations, "array")
    if len(mutations) != n_out - n_user_out:
        _fail(src, f"{where}.mutations", f"lists {len(mutations)} write-backs, but the graph has "
                                         f"{n_out - n_user_out} outputs after its "
                                         f"{n_user_out} user outputs")
    for j, m in enumerate(mutations):
        at = f"{where}.mutations[{j}]"
        if _kind(m) != "array" or len(m) != 3:
            _fail(src, at, f"expected [kind, index, how], found {_found(m)}")
        kind, index, how = m
        if kind not in _MUTATION_KINDS or how not in _MUTATION_HOWS:
            _fail(src, at, f"expected a kind in {list(_MUTATION_KINDS)} and a how in "
                           f"{list(_MUTATION_HOWS)}, found {_found(kind)} and {_found(how)}")
        bound = n_user if kind == "input" else n_in - n_user
        if not 0 <= _expect(src, f"{at}[1]", index, "integer") < bound:
            _fail(src, f"{at}[1]", f"{kind} index {index} is out of range (there are {bound})")
        if how == "assign" and kind != "state":
            _fail(src, at, "only a state tensor can be reassigned")
        target = graph.inputs[index if kind == "input" else n_user + index]
        value = graph.outputs[n_user_out + j]
        if not isinstance(value, Value) or value.type != target.type:
            got = value.type if isinstance(value, Value) else value
            _fail(src, at, f"writes back graph output {n_user_out + j} ({got}) to input "
                           f"%{target.name} of type {target.type}; the types must be equal")


def _meta_count(src: str, where: str, meta: dict, key: str, bound: int, what: str) -> int:
    if key not in meta:
        return bound
    n = _expect(src, where, meta[key], "integer")
    if not 0 <= n <= bound:
        _fail(src, where, f"is {n}, but the graph has {bound} {what}")
    return n


def _tree_leaves(src: str, where: str, tree: Any, depth: int) -> int:
    """The number of leaves of an output tree: null is a leaf; ["tuple"|"list", [trees]] and
    ["dict", [[key, tree], ...]] are containers; ["none", []] is a return value of None."""
    if tree is None:
        return 1
    if depth >= MAX_DEPTH:
        _fail(src, where, f"nested more than {MAX_DEPTH} deep", UnsafeFileError)
    if _kind(tree) != "array" or len(tree) != 2 or tree[0] not in _TREE_KINDS:
        _fail(src, where, f"expected null or [kind, items] with kind in {list(_TREE_KINDS)}, "
                          f"found {_found(tree)}")
    kind, items = tree
    _expect(src, f"{where}[1]", items, "array")
    if kind == "none" and items:
        _fail(src, where, f"a function that returns None has no outputs, found {_found(tree)}")
    total = 0
    for i, item in enumerate(items):
        at = f"{where}[1][{i}]"
        if kind == "dict":
            if _kind(item) != "array" or len(item) != 2 or _kind(item[0]) not in ("string",
                                                                                  "integer"):
                _fail(src, at, f"expected a [key, tree] pair with a string or integer key, "
                               f"found {_found(item)}")
            item = item[1]
            at += "[1]"
        total += _tree_leaves(src, at, item, depth + 1)
    return total


def _attr_kind(default: Any) -> str:
    """What an attribute may hold, from its default in the op's record: a bool; a number (int or
    float, or a symbolic size); a string; a sequence (a tuple or list, or one integer as
    PyTorch's int lists accept; of integers and symbolic sizes when the default holds integers);
    a dtype; a device; or, for a default of None, any attribute value."""
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, (int, float)):
        return "number"
    for kind, types in (("string", str), ("sequence", (tuple, list)), ("dtype", DType),
                        ("device", Device)):
        if isinstance(default, types):
            return kind
    return "any"


def _check_attr(src: str, where: str, value: Any, default: Any, symbols: set) -> None:
    """Refuse an attribute whose value does not have the type the op's default declares."""
    kind = _attr_kind(default)
    ok = {"bool": lambda v: isinstance(v, bool),
          "number": lambda v: isinstance(v, (int, float)) or (isinstance(v, str) and
                                                              _is_size(v, symbols)),
          "string": lambda v: isinstance(v, str),
          "sequence": lambda v: isinstance(v, (tuple, list)) or _is_size(v, symbols),
          "dtype": lambda v: isinstance(v, DType),
          "device": lambda v: isinstance(v, Device),
          "any": lambda v: True}[kind](value)
    if not ok:
        what = {"number": "a number (int or float) or a symbolic size of the graph",
                "sequence": "a tuple or list (or one integer)"}.get(kind, f"a {kind}")
        _fail(src, where, f"expected {what} (the type of the attribute's default "
                          f"{default!r}), found {type(value).__name__} {str(value)[:60]!r}")
    if (kind == "sequence" and isinstance(value, (tuple, list)) and default
            and all(isinstance(d, int) for d in default)):
        for i, v in enumerate(value):
            if not _is_size(v, symbols):
                _fail(src, f"{where}[{i}]", f"expected an integer or a symbolic size (the "
                                            f"attribute's default is {default!r}), found "
                                            f"{type(v).__name__} {str(v)[:60]!r}")


def _is_size(v: Any, symbols: set) -> bool:
    """An integer (not a bool), one of the graph's symbolic sizes, or an expression over the
    symbols of its sizes (`2*B - 1`, a scripted loop's trip count; read by the size parser's
    whitelist, never evaluated as Python)."""
    if isinstance(v, int) and not isinstance(v, bool) or isinstance(v, str) and v in symbols:
        return True
    if not isinstance(v, str):
        return False
    from ..ir.symbolic import SymbolicError, symbols_of
    try:
        used = symbols_of(v)
        names = {n for d in symbols for n in symbols_of(d)}
    except (SymbolicError, ValueError, SyntaxError):
        return False
    return bool(used) and set(used) <= names


def _type_symbols(t: Any, found: set) -> None:
    if isinstance(t, TensorType):
        found.update(d for d in t.shape if isinstance(d, str))
    elif isinstance(t, TupleType):
        for e in t.elements:
            _type_symbols(e, found)
    elif isinstance(t, ListType):
        _type_symbols(t.element, found)


def _check_attr_types(src: str, graph: Graph) -> None:
    """Every attribute of every node has the type its op's record declares."""
    symbols: set = set()
    for v in graph.inputs:
        _type_symbols(v.type, symbols)
    for node in graph.all_nodes():
        for v in node.outputs + [v for b in node.blocks for v in b.inputs]:
            _type_symbols(v.type, symbols)
    for where, node in _node_paths(graph.nodes, "graph.nodes"):
        for key, value in node.attrs.items():
            if not (node.op.name == "constant" and key == "value"):
                _check_attr(src, f"{where}.attrs.{key}", value, node.op.attrs[key], symbols)


def _node_paths(nodes: list, prefix: str) -> Any:
    """(JSON path, node) for every node, blocks included, named as the decoder names them."""
    for i, node in enumerate(nodes):
        where = f"{prefix}[{i}] ({node.op.name})"
        yield where, node
        for b, block in enumerate(node.blocks):
            yield from _node_paths(block.nodes, f"{where}.blocks[{b}].nodes")


def _verify(graph: Graph, src: str, what: str) -> None:
    try:
        verify(graph)
    except VerificationError as exc:
        raise SerializationError(f"{src}: {what}: {exc}") from exc
    except Exception as exc:  # the verifier itself failed on an odd graph: still a bad graph
        raise SerializationError(f"{src}: {what}: the verifier raised "
                                 f"{type(exc).__name__}: {exc}") from exc
