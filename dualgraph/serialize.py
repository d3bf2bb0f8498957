"""The `.dgm` deployment file: a graph, tensors and metadata in one zip archive.

    manifest.json      {"format": "dualgraph", "format_version": 1, "producer": "dualgraph 0.1.0",
                        "kind": "graph", "graph": <graph JSON or null>,
                        "tensors": [{"name", "member", "dtype", "shape"}, ...], "metadata": {...}}
    tensors/<i>.npy    one little-endian NumPy .npy file per tensor

The graph JSON lists typed inputs, nodes (op, op version, operands, tagged attributes, typed
outputs), outputs, `graph.tensors` and `graph.meta`. Constant data is stored as tensors whose
names start with `graph/`; every other tensor is the file's payload. docs/FORMAT.md is the full
specification, for readers in other languages.

Threat model: a `.dgm` file may come from anyone. Loading executes nothing from the file (no
pickle, no eval: JSON is parsed as data, .npy headers as literals, object dtypes are refused), and
every size is bounded before it is read: the zip directory's sizes and compression ratios are
checked first, members are read through a bounded reader, JSON nesting and integers are limited.
Any fault raises `SerializationError` (never another exception, never a hang) with a message that
starts with the file and names the member, node or field at fault; a graph is returned only after
`verify` accepts it. This module imports only `dualgraph.ir` and NumPy: a deployment needs nothing
of the runtime to read a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Mapping, NoReturn

import numpy as np

from .ir.errors import DualgraphError, VerificationError
from .ir.graph import Block, Graph, Node, Value
from .ir.registry import get as get_op
from .ir.text import INLINE_LIMIT
from .ir.types import ALL_DTYPES, Device, DType, TensorType, dtype_from_numpy
from .ir.verify import verify

__all__ = ["FORMAT_VERSION", "MAX_BYTES", "SerializationError", "CorruptFileError",
           "UnsafeFileError", "UnsupportedVersionError", "UnknownOpError", "graph_to_json",
           "graph_tensors", "graph_from_json", "write_dgm", "read_dgm"]

FORMAT_NAME = "dualgraph"
FORMAT_VERSION = 1  # the newest format_version this module writes and reads
MANIFEST = "manifest.json"
TENSOR_DIR = "tensors/"
GRAPH_PREFIX = "graph/"  # tensor names holding the graph's constants and graph.tensors

MAX_BYTES = 4 << 30  # default bound on an archive's total uncompressed size (max_bytes= overrides)
MAX_MANIFEST_BYTES = 64 << 20
MAX_COMPRESSION_RATIO = 100  # uncompressed / compressed, checked for members of RATIO_FLOOR+ bytes
RATIO_FLOOR = 1 << 20
MAX_NPY_HEADER = 1 << 16
MAX_DEPTH = 32  # nesting of attribute values
MAX_NDIM = 64
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_DTYPES = {d.name: d for d in ALL_DTYPES}
_SCALAR_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool}
_TAGS = ("tuple", "slice", "ellipsis", "dtype", "device", "float", "tensor")
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_ARTICLE = {"object": "an object", "array": "an array", "string": "a string",
            "integer": "an integer", "boolean": "a boolean"}
# What zipfile, zlib and struct raise on damaged archives; caught at the archive layer only.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
               NotImplementedError, RuntimeError, struct.error, zlib.error, OverflowError,
               UnicodeError, IndexError, KeyError)


# ------------------------------------------------------------------------------------- errors

class SerializationError(DualgraphError):
    """A `.dgm` file (or a graph to be written) is not valid; the message starts with the file
    and names the member, node or field at fault, what was expected and what was found."""


class CorruptFileError(SerializationError):
    """Not a zip archive, truncated, or damaged (bad CRC, bad .npy header)."""


class UnsafeFileError(SerializationError):
    """Member names that could escape a directory, or sizes over the loader's limits."""


class UnsupportedVersionError(SerializationError):
    """The file's format_version, or a node's op version, is newer than this dualgraph reads."""


class UnknownOpError(SerializationError):
    """A node names an op this dualgraph does not have."""


def _fail(src: str, where: str, what: str, cls: type = SerializationError) -> NoReturn:
    raise cls(f"{src}: {where}: {what}" if where else f"{src}: {what}")


# ------------------------------------------------------------------------ JSON shape checks

def _kind(x: Any) -> str:
    """The JSON kind of a parsed value, as messages name it."""
    for kind, types in (("null", type(None)), ("boolean", bool), ("integer", int),
                        ("number", float), ("string", str), ("array", list), ("object", dict)):
        if isinstance(x, types):
            return kind
    return type(x).__name__


def _found(x: Any) -> str:
    """A parsed JSON value as messages show it: 'string "abc"', 'array of 3 items', 'null'."""
    kind = _kind(x)
    if isinstance(x, (list, dict)):
        return f"{kind} {json.dumps(x)}" if not x else (
            f"array of {len(x)} items" if isinstance(x, list) else f"object with keys {list(x)}")
    text = json.dumps(x[:60] if isinstance(x, str) else x) if kind != "null" else ""
    return f"{kind} {text}".strip()


def _expect(src: str, where: str, x: Any, kind: str) -> Any:
    """`x` if its JSON kind is `kind` (integers must also fit in int64)."""
    if _kind(x) != kind:
        _fail(src, where, f"expected {_ARTICLE[kind]}, found {_found(x)}")
    if kind == "integer" and not INT64_MIN <= x <= INT64_MAX:
        _fail(src, where, f"integer {x} is outside the int64 range")
    return x


def _name(src: str, where: str, x: Any) -> str:
    if not _expect(src, where, x, "string"):
        _fail(src, where, "expected a non-empty string, found an empty one")
    return x


def _fields(src: str, where: str, x: Any, required: tuple, optional: tuple = ()) -> dict:
    """`x` if it is an object with every required field and no field outside both lists."""
    _expect(src, where, x, "object")
    missing = [k for k in required if k not in x]
    if missing:
        _fail(src, where, "missing field " + ", ".join(repr(k) for k in missing))
    extra = [k for k in x if k not in required and k not in optional]
    if extra:
        _fail(src, where, f"unexpected field {extra[0]!r} (format_version {FORMAT_VERSION} has "
                          f"the fields {list(required + optional)})")
    return x


def _json_data(src: str, where: str, x: Any) -> Any:
    """`x` as plain JSON data (a deep copy), or a SerializationError if it has no JSON form."""
    try:
        return json.loads(json.dumps(x, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        _fail(src, where, f"must be JSON data (str keys, no NaN): {exc}")


def _no_duplicate_keys(pairs: list) -> dict:
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} overflows a double")
    return value


def _reject_constant(text: str) -> NoReturn:
    raise ValueError(f"non-standard JSON constant {text}")


def _parse_json(src: str, raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, bounded nesting."""
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                          parse_float=_finite, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        _fail(src, "", f"is not UTF-8 text: {exc}", CorruptFileError)
    except RecursionError:
        _fail(src, "", "is not valid JSON: nested too deeply", CorruptFileError)
    except ValueError as exc:  # JSONDecodeError, and the hooks above
        _fail(src, "", f"is not valid JSON: {exc}", CorruptFileError)


# ------------------------------------------------------------------------------------ types

def _encode_type(src: str, where: str, t: Any) -> Any:
    if isinstance(t, TensorType):
        shape = [d if isinstance(d, str) else _encode_int(src, where, d) for d in t.shape]
        return {"dtype": t.dtype.name, "shape": shape, "device": str(t.device)}
    for name, py in _SCALAR_TYPES.items():
        if t is py:
            return name
    _fail(src, where, f"type {t!r} has no encoding (expected a TensorType, int, float or bool)")


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


def _decode_type(src: str, where: str, x: Any) -> Any:
    if isinstance(x, str) and x in _SCALAR_TYPES:
        return _SCALAR_TYPES[x]
    if not isinstance(x, dict):
        _fail(src, where, f"expected a tensor type object or one of {list(_SCALAR_TYPES)}, "
                          f"found {_found(x)}")
    _fields(src, where, x, ("dtype", "shape", "device"))
    dims = _expect(src, f"{where}.shape", x["shape"], "array")
    if len(dims) > MAX_NDIM:
        _fail(src, f"{where}.shape", f"has {len(dims)} dims; at most {MAX_NDIM} are allowed")
    shape = []
    for i, d in enumerate(dims):
        if not isinstance(d, str):
            d = _expect(src, f"{where}.shape[{i}]", d, "integer")
        elif not d:
            _fail(src, f"{where}.shape[{i}]", "a symbolic dim must be a non-empty string")
        shape.append(d)
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
    if kind in ("null", "boolean", "number", "string"):
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

def graph_to_json(graph: Graph) -> dict:
    """The graph as JSON data (see docs/FORMAT.md); constants refer to `graph_tensors(graph)`."""
    return _encode_graph(graph, "graph")[0]


def graph_tensors(graph: Graph) -> dict[str, np.ndarray]:
    """The arrays that `graph_to_json(graph)` refers to by name (all named `graph/...`)."""
    return _encode_graph(graph, "graph")[1]


def _encode_graph(graph: Graph, src: str) -> tuple[dict, dict[str, np.ndarray]]:
    _verify(graph, src, "refusing to write a graph that fails verification")
    names = _value_names(graph, src)
    arrays: dict[str, np.ndarray] = {}
    by_id: dict[int, str] = {}
    refs = {}
    for key, value in graph.tensors.items():
        where = f"graph.tensors[{key!r}]"
        _name(src, where, key)
        refs[key] = _add_array(src, where, arrays, by_id, GRAPH_PREFIX + key, value)
    nodes = [_encode_node(src, i, node, names, arrays, by_id)
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
                 prefix: str = "graph.nodes") -> dict:
    where = f"{prefix}[{i}] ({node.op.name})"
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
    meta = _node_meta(node)
    if meta:
        obj["meta"] = meta
    if node.blocks:
        obj["blocks"] = [_encode_block(src, f"{where}.blocks[{b}]", block, names, arrays, by_id)
                         for b, block in enumerate(node.blocks)]
    return obj


def _encode_block(src: str, where: str, block: Any, names: dict, arrays: dict,
                  by_id: dict) -> dict:
    """A control-flow node's block: its inputs, nodes and yielded values."""
    return {
        "name": _name(src, f"{where}.name", block.name),
        "inputs": [{"name": names[v], "type": _encode_type(src, f"{where}.inputs[{j}]", v.type)}
                   for j, v in enumerate(block.inputs)],
        "nodes": [_encode_node(src, k, n, names, arrays, by_id, f"{where}.nodes")
                  for k, n in enumerate(block.nodes)],
        "outputs": [_encode_operand(src, f"{where}.outputs[{j}]", y, names)
                    for j, y in enumerate(block.outputs)],
    }


def _node_meta(node: Node) -> dict:
    """The node's annotations that have a JSON form; others (free debugging notes) are dropped."""
    out = {}
    for key, value in node.meta.items():
        if isinstance(key, str):
            with contextlib.suppress(TypeError, ValueError, RecursionError):
                out[key] = json.loads(json.dumps(value, allow_nan=False))
    return out


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
    graph = Graph(name=_name(src, "graph.name", obj["name"]))
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
        if op.name == "constant" and key == "value":
            attrs[key] = _constant_value(src, f"{where}.attrs.value", value, outs, tensors)
        else:
            attrs[key] = _decode_attr(src, f"{where}.attrs.{key}", value)
    node = Node(op, inputs, attrs, [t for _, t in outs])
    node.meta = _expect(src, f"{where}.meta", x.get("meta", {}), "object")
    _check_printable_constant(src, where, node)
    for b, block in enumerate(_expect(src, f"{where}.blocks", x.get("blocks", []), "array")):
        node.blocks.append(_decode_block(src, f"{where}.blocks[{b}]", block, env, tensors, depth))
    for (name, _), v in zip(outs, node.outputs):
        v.name = _define(src, f"{where}.outputs", name, env)
        env[v.name] = v
    return node


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


def _verify(graph: Graph, src: str, what: str) -> None:
    try:
        verify(graph)
    except VerificationError as exc:
        raise SerializationError(f"{src}: {what}: {exc}") from exc
    except Exception as exc:  # the verifier itself failed on an odd graph: still a bad graph
        raise SerializationError(f"{src}: {what}: the verifier raised "
                                 f"{type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------- writing

def _producer() -> str:
    import dualgraph  # lazily: dualgraph/__init__ may be importing this module
    return f"dualgraph {getattr(dualgraph, '__version__', 'unknown')}"


def write_dgm(path: str | os.PathLike, kind: str, graph: Graph | None,
              tensors: Mapping[str, Any] | None, metadata: Mapping | None) -> None:
    """Write a `.dgm` archive atomically (a temporary file in the same folder, then a rename).

    `tensors` is the payload (e.g. a state dict); names starting with `graph/` are reserved for
    the graph's constants. `metadata` must be JSON data. Nothing is written if any part is
    invalid: the graph must pass `verify` and every array must have a dualgraph dtype."""
    src = os.fspath(path)
    src = src if isinstance(src, str) else src.decode(errors="replace")
    if not isinstance(kind, str) or not kind:
        _fail(src, "kind", f"expected a non-empty string, found {kind!r}")
    arrays = {}
    for name, value in (tensors or {}).items():
        if not isinstance(name, str) or not name or name.startswith(GRAPH_PREFIX):
            _fail(src, f"tensors[{name!r}]", "tensor names must be non-empty strings not "
                                             f"starting with {GRAPH_PREFIX!r}")
        arrays[name] = _normalize_array(src, f"tensors[{name!r}]", value)
    graph_json = None
    if graph is not None:
        graph_json, graph_arrays = _encode_graph(graph, src)
        arrays.update(graph_arrays)
    members = [(f"{TENSOR_DIR}{i}.npy", name, arr) for i, (name, arr) in enumerate(arrays.items())]
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "producer": _producer(),
        "kind": kind,
        "graph": graph_json,
        "tensors": [{"name": name, "member": member, "dtype": _dtype_name(arr),
                     "shape": list(arr.shape)} for member, name, arr in members],
        "metadata": _expect(src, "metadata", _json_data(src, "metadata", metadata or {}),
                            "object"),
    }
    text = json.dumps(manifest, allow_nan=False).encode("utf-8")
    _write_atomically(src, lambda f: _write_archive(f, text, members))


def _zip_info(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def _write_archive(f: BinaryIO, manifest: bytes, members: list) -> None:
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr(_zip_info(MANIFEST, zipfile.ZIP_DEFLATED), manifest)
        for member, _, arr in members:
            big = arr.nbytes + MAX_NPY_HEADER > zipfile.ZIP64_LIMIT
            with zf.open(_zip_info(member, zipfile.ZIP_STORED), "w", force_zip64=big) as out:
                np.save(out, arr, allow_pickle=False)


def _write_atomically(path: str, write: Any) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".dgm.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class _Entry:
    """One checked entry of the manifest's `tensors` list."""

    name: str
    member: str
    dtype: DType
    shape: tuple
    nbytes: int


def read_dgm(path: str | os.PathLike, *, max_bytes: int | None = None
             ) -> tuple[dict, Graph | None, dict[str, np.ndarray]]:
    """Read a `.dgm` file: (manifest, verified graph or None, payload tensors by name).

    The file is treated as hostile (see the module docstring): every fault raises
    SerializationError. `max_bytes` bounds the archive's total uncompressed size (MAX_BYTES)."""
    src = os.fspath(path)
    src = src if isinstance(src, str) else src.decode(errors="replace")
    limit = MAX_BYTES if max_bytes is None else max_bytes
    try:
        return _read(src, limit)
    except SerializationError:
        raise
    except Exception as exc:  # a path this loader does not foresee: still never another type
        raise SerializationError(f"{src}: unexpected {type(exc).__name__} while reading ({exc}); "
                                 "this is a bug in dualgraph's loader, please report it") from exc


def _read(src: str, limit: int) -> tuple[dict, Graph | None, dict[str, np.ndarray]]:
    msrc = f"{src}: {MANIFEST}"  # the prefix of messages about the manifest's content
    with _open_zip(src) as zf:
        infos = _check_directory(src, zf, limit)
        if MANIFEST not in infos:
            _fail(src, "", f"the archive has no {MANIFEST}")
        manifest = _check_manifest(msrc, _parse_json(msrc, _read_manifest(src, zf, infos)))
        entries = _check_entries(msrc, manifest["tensors"], infos, limit)
        arrays = {e.name: _load_npy(src, e, _read_member(src, zf, infos[e.member]))
                  for e in entries}
    graph = None
    if manifest["graph"] is not None:
        graph = graph_from_json(manifest["graph"], arrays, source=msrc)
    payload = {k: v for k, v in arrays.items() if not k.startswith(GRAPH_PREFIX)}
    return manifest, graph, payload


def _open_zip(src: str) -> zipfile.ZipFile:
    try:
        if not stat.S_ISREG(os.stat(src).st_mode):
            _fail(src, "", "is not a regular file")
        return zipfile.ZipFile(src)
    except _ZIP_ERRORS as exc:
        _fail(src, "", f"cannot be opened as a zip archive (not a .dgm file, or truncated): "
                       f"{exc}", CorruptFileError)


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_member_name(src: str, where: str, name: str) -> None:
    """Refuse names that could escape a folder if extracted, on any operating system."""
    reason = ("is empty" if not name else
              "is absolute" if name.startswith("/") else
              "contains a backslash" if "\\" in name else
              "starts with a drive letter" if _DRIVE.match(name) else
              "contains '..'" if ".." in name else
              "contains a control character" if any(ord(c) < 32 for c in name) else
              "has an empty path component" if "" in name.split("/") else None)
    if reason:
        _fail(src, where, f"member name {name!r} {reason}", UnsafeFileError)


def _check_directory(src: str, zf: zipfile.ZipFile, limit: int) -> dict[str, zipfile.ZipInfo]:
    """Check every zip entry from the directory alone, before anything is decompressed."""
    infos: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        for raw in {name, info.orig_filename}:
            _check_member_name(src, "", raw)
        if name in infos:
            _fail(src, "", f"member {name!r} appears twice in the archive", UnsafeFileError)
        if info.flag_bits & 0x1:
            _fail(src, "", f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            _fail(src, "", f"member {name!r} uses compression method {info.compress_type}; "
                           "only stored (0) and deflated (8) are read")
        total += info.file_size
        if total > limit:
            _fail(src, "", f"the archive holds more than {limit} bytes uncompressed (member "
                           f"{name!r} is {info.file_size} bytes); raise max_bytes to load it",
                  UnsafeFileError)
        if (info.file_size >= RATIO_FLOOR
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
            _fail(src, "", f"member {name!r} claims a compression ratio of "
                           f"{info.file_size // max(info.compress_size, 1)}:1 "
                           f"({info.compress_size} -> {info.file_size} bytes), over the limit of "
                           f"{MAX_COMPRESSION_RATIO}:1 (zip bomb?)", UnsafeFileError)
        infos[name] = info
    return infos


def _read_member(src: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, read in chunks and never more than the directory promised."""
    chunks, size = [], 0
    try:
        with zf.open(info) as f:
            while True:
                chunk = f.read(min(1 << 20, info.file_size - size + 1))
                if not chunk:
                    break
                size += len(chunk)
                if size > info.file_size:
                    _fail(src, "", f"member {info.filename!r} is larger than the "
                                   f"{info.file_size} bytes its directory entry says",
                          CorruptFileError)
                chunks.append(chunk)
    except _ZIP_ERRORS as exc:
        _fail(src, "", f"member {info.filename!r} is damaged: {exc}", CorruptFileError)
    if size != info.file_size:
        _fail(src, "", f"member {info.filename!r} is truncated ({size} of {info.file_size} "
                       "bytes)", CorruptFileError)
    return b"".join(chunks)


def _read_manifest(src: str, zf: zipfile.ZipFile, infos: dict) -> bytes:
    info = infos[MANIFEST]
    if info.file_size > MAX_MANIFEST_BYTES:
        _fail(src, "", f"{MANIFEST} is {info.file_size} bytes, over the limit of "
                       f"{MAX_MANIFEST_BYTES}", UnsafeFileError)
    return _read_member(src, zf, info)


def _check_manifest(src: str, obj: Any) -> dict:
    """The manifest's fields, checked in an order that gives the most useful message first."""
    _expect(src, "", obj, "object")
    if "format" not in obj:
        _fail(src, "", "missing field 'format' (not a dualgraph manifest)")
    if obj["format"] != FORMAT_NAME:
        _fail(src, "format", f"expected {FORMAT_NAME!r}, found {_found(obj['format'])}")
    if "format_version" not in obj:
        _fail(src, "", "missing field 'format_version'")
    version = _expect(src, "format_version", obj["format_version"], "integer")
    if version > FORMAT_VERSION:
        _fail(src, "format_version", f"the file has format_version {version}, but this "
                                     f"dualgraph reads format_version {FORMAT_VERSION} and older; "
                                     "upgrade dualgraph to load it", UnsupportedVersionError)
    if version < 1:
        _fail(src, "format_version", f"format versions start at 1, found {version}")
    _fields(src, "", obj, ("format", "format_version", "producer", "kind", "graph", "tensors",
                           "metadata"))
    _expect(src, "producer", obj["producer"], "string")
    _name(src, "kind", obj["kind"])
    if obj["graph"] is not None:
        _expect(src, "graph", obj["graph"], "object")
    _expect(src, "tensors", obj["tensors"], "array")
    _expect(src, "metadata", obj["metadata"], "object")
    return obj


def _check_entries(src: str, items: list, infos: dict, limit: int) -> list[_Entry]:
    """Check each `tensors` entry against the archive; refuse members the manifest omits."""
    entries, names, members = [], set(), set()
    for i, x in enumerate(items):
        where = f"tensors[{i}]"
        _fields(src, where, x, ("name", "member", "dtype", "shape"))
        name = _name(src, f"{where}.name", x["name"])
        member = _name(src, f"{where}.member", x["member"])
        _check_member_name(src, f"{where}.member", member)
        if name in names or member in members:
            _fail(src, where, f"tensor {name!r} or member {member!r} is listed twice")
        if not (member.startswith(TENSOR_DIR) and member.endswith(".npy")):
            _fail(src, f"{where}.member", f"expected a name like '{TENSOR_DIR}0.npy', "
                                          f"found {member!r}")
        if member not in infos:
            _fail(src, f"{where}.member", f"member {member!r} is listed but missing from the "
                                          "archive")
        dtype = _decode_dtype(src, f"{where}.dtype", x["dtype"])
        shape = tuple(_dim(src, f"{where}.shape[{k}]", d)
                      for k, d in enumerate(_expect(src, f"{where}.shape", x["shape"], "array")))
        if len(shape) > MAX_NDIM:
            _fail(src, f"{where}.shape", f"has {len(shape)} dims; at most {MAX_NDIM} allowed")
        entry = _Entry(name, member, dtype, shape, math.prod(shape) * dtype.itemsize)
        _check_member_size(src, where, entry, infos[member], limit)
        entries.append(entry)
        names.add(name)
        members.add(member)
    for name in infos:
        if name != MANIFEST and name not in members:
            _fail(src, "tensors", f"member {name!r} is in the archive but not listed in the "
                                  "manifest", UnsafeFileError)
    return entries


def _dim(src: str, where: str, d: Any) -> int:
    if _expect(src, where, d, "integer") < 0:
        _fail(src, where, f"a tensor dim must be non-negative, found {d}")
    return d


def _check_member_size(src: str, where: str, e: _Entry, info: zipfile.ZipInfo,
                       limit: int) -> None:
    if e.nbytes > limit:
        _fail(src, where, f"tensor {e.name!r} ({e.dtype.name}{list(e.shape)}) would take "
                          f"{e.nbytes} bytes, over the limit of {limit}", UnsafeFileError)
    if not e.nbytes < info.file_size <= e.nbytes + MAX_NPY_HEADER + 16:
        _fail(src, where, f"member {e.member!r} is {info.file_size} bytes, but a "
                          f"{e.dtype.name}{list(e.shape)} tensor takes {e.nbytes} bytes of data "
                          "plus a .npy header")


def _load_npy(src: str, e: _Entry, data: bytes) -> np.ndarray:
    """Check the .npy header against the manifest, then load with allow_pickle=False."""
    where = f"member {e.member!r} (tensor {e.name!r})"
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f, MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f, MAX_NPY_HEADER)
        else:
            _fail(src, where, f".npy version {version} is not supported", CorruptFileError)
    except (ValueError, TypeError, SyntaxError, RecursionError, OverflowError) as exc:
        _fail(src, where, f"is not a valid .npy file: {exc}", CorruptFileError)
    if dtype.hasobject:
        _fail(src, where, f"holds Python objects (dtype {dtype}); object arrays are refused")
    expected = e.dtype.np.newbyteorder("<")
    if dtype != expected:
        _fail(src, where, f"the .npy header says dtype {dtype.str!r}, but the manifest says "
                          f"{e.dtype.name} (stored as {expected.str!r})")
    if tuple(shape) != e.shape:
        _fail(src, where, f"the .npy header says shape {list(shape)}, but the manifest says "
                          f"{list(e.shape)}")
    if len(data) - f.tell() != e.nbytes:
        _fail(src, where, f"has {len(data) - f.tell()} bytes of data, expected {e.nbytes}",
              CorruptFileError)
    f.seek(0)
    try:
        arr = np.load(f, allow_pickle=False, max_header_size=MAX_NPY_HEADER)
    except (ValueError, TypeError, OSError, EOFError) as exc:
        _fail(src, where, f"cannot be loaded: {exc}", CorruptFileError)
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
