"""`dg.save(obj, path)` / `dg.load(path)`: tensors, state dicts and compiled functions in the safe
`.dgm` format, the reader chosen by the manifest's `kind`.

Kinds register their reader here: compiled functions (`graph`, from dualgraph.jit), single
tensors (`tensor`) and (possibly nested) dicts of tensors and plain values (`state_dict`, e.g. a
Module's or an optimizer's state dict, or a training checkpoint). Unlike `torch.save`, nothing is
pickled: tensors are `.npy` members and every other value is JSON in the manifest's metadata, so
loading a file never executes anything from it (docs/FORMAT.md, "Tensors and state dicts").
"""

from __future__ import annotations

import inspect
import math
import os
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from .serialize import SerializationError, read_dgm, write_dgm

READERS: dict[str, Callable[..., Any]] = {}
_TAKES_MAP_LOCATION: set[str] = set()

TENSOR_KIND = "tensor"
STATE_DICT_KIND = "state_dict"
MAX_TREE_DEPTH = 64  # nesting of saved containers; bounds recursion when a file is decoded
_INT64 = (-(1 << 63), (1 << 63) - 1)


def register_reader(kind: str, reader: Callable[..., Any]) -> None:
    """`reader(path, manifest, graph, tensors)` builds the object a file of `kind` holds; a
    reader with a `map_location` parameter also receives `dg.load`'s `map_location=`."""
    READERS[kind] = reader
    if "map_location" in inspect.signature(reader).parameters:
        _TAKES_MAP_LOCATION.add(kind)
    else:
        _TAKES_MAP_LOCATION.discard(kind)


def load(path: str | os.PathLike, map_location: Any = None, *,
         weights_only: bool | None = None) -> Any:
    """Load a `.dgm` file of any kind: a compiled function (`graph`), a tensor or a state dict.

    `map_location` (a device, its name, or a {saved device: device} dict) moves loaded tensors.
    `weights_only` is accepted for PyTorch compatibility and changes nothing: a `.dgm` file holds
    data only, so loading is always as safe as PyTorch's `weights_only=True`."""
    _check_map_location(map_location)
    path = _path(path, "load")
    manifest, graph, tensors = read_dgm(path)
    kind = manifest.get("kind")
    reader = READERS.get(kind)
    if reader is None:
        raise SerializationError(f"{path}: unknown kind {kind!r}; this dualgraph reads "
                                 f"{sorted(READERS)}")
    if kind in _TAKES_MAP_LOCATION:
        return reader(path, manifest, graph, tensors, map_location=map_location)
    if map_location is not None and _target(map_location, "cpu") != "cpu":
        raise ValueError(f"load(): map_location applies to tensors and state dicts; {path} holds "
                         f"a {kind!r}")
    return reader(path, manifest, graph, tensors)


def save(obj: Any, f: str | os.PathLike) -> None:
    """Save a tensor, or a dict of tensors and plain values (a state dict), to a `.dgm` file.

    Modules and other objects are refused with a TypeError: PyTorch pickles them, which ties a
    file to the code that wrote it and lets a file run code when loaded; save `state_dict()`."""
    path = _path(f, "save")
    from .tensor import Tensor
    if isinstance(obj, Tensor):
        tensors: dict[str, Any] = {}
        tree = _Encoder(tensors).value(obj, ())
        write_dgm(path, TENSOR_KIND, None, tensors, {"tensor": tree})
    elif isinstance(obj, dict):
        tensors = {}
        tree = _Encoder(tensors).value(obj, ())
        write_dgm(path, STATE_DICT_KIND, None, tensors, {"state_dict": tree})
    else:
        from .nn.module import Module
        if isinstance(obj, Module):
            raise TypeError(f"save(): cannot save a whole module ({type(obj).__name__}); "
                            "dualgraph never pickles code. Save its weights with "
                            "dg.save(model.state_dict(), path), then rebuild the module and call "
                            "model.load_state_dict(dg.load(path))")
        raise TypeError(f"save(): cannot save an object of type {type(obj).__name__}; "
                        "dg.save stores a Tensor or a dict (such as a state_dict) of tensors and "
                        "JSON-like values")


def _path(f: Any, fn: str) -> str:
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"{fn}(): expected a file path (str or os.PathLike), got "
                        f"{type(f).__name__}; file objects are not supported")
    path = os.fspath(f)
    return path if isinstance(path, str) else path.decode(errors="replace")


# ---------------------------------------------------------------------------------- encoding
# A saved value is a JSON "tree": JSON scalars stand for themselves, anything else is an object
# with exactly one tag key: {"tensor": name, ...}, {"dict"|"odict": [[key, value], ...]},
# {"list"|"tuple": [values]}, {"float": "nan"|"inf"|"-inf"}. Tensors are members named by
# their path ("fc.weight", "state.0.exp_avg").

def _where(path: tuple) -> str:
    return "".join(f"[{k!r}]" for k in path) or "the object"


class _Encoder:
    """Turns a value into its JSON tree, collecting tensors (by identity, so shared ones are
    stored once and come back shared)."""

    def __init__(self, tensors: dict) -> None:
        self.tensors = tensors
        self.names: dict[int, str] = {}
        self.keep: list = []  # keep encoded tensors alive so their ids stay unique

    def value(self, x: Any, path: tuple) -> Any:
        from .tensor import Tensor
        if len(path) > MAX_TREE_DEPTH:
            raise ValueError(f"save(): {_where(path[:3])}... is nested more than "
                             f"{MAX_TREE_DEPTH} levels deep")
        if isinstance(x, Tensor):
            return self.tensor(x, path)
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, int):  # after bool: bool is an int
            if not _INT64[0] <= x <= _INT64[1]:
                raise TypeError(f"save(): {_where(path)} is an int outside int64 ({x})")
            return int(x)
        if isinstance(x, float):
            return x if math.isfinite(x) else {"float": repr(float(x))}
        if isinstance(x, dict):
            tag = "odict" if isinstance(x, OrderedDict) else "dict"
            return {tag: [[self.key(k, path), self.value(v, path + (k,))] for k, v in x.items()]}
        if isinstance(x, (list, tuple)):
            tag = "tuple" if isinstance(x, tuple) else "list"
            return {tag: [self.value(v, path + (i,)) for i, v in enumerate(x)]}
        raise TypeError(f"save(): cannot store {_where(path)} of type {type(x).__name__}; a "
                        "saved dict may hold tensors, dicts, lists, tuples, str, int, float, "
                        "bool and None")

    def key(self, k: Any, path: tuple) -> Any:
        if isinstance(k, str) or (isinstance(k, int) and not isinstance(k, bool)
                                  and _INT64[0] <= k <= _INT64[1]):
            return k
        raise TypeError(f"save(): cannot store the key {k!r} of type {type(k).__name__} in "
                        f"{_where(path)}; dict keys must be str or int")

    def tensor(self, t: Any, path: tuple) -> dict:
        name = self.names.get(id(t))
        if name is None:
            name = ".".join(str(k) for k in path) or "tensor"
            if name in self.tensors or name.startswith("graph/"):
                name = f"{name}#{len(self.tensors)}"
            self.tensors[name] = t.detach().cpu().numpy()
            self.names[id(t)] = name
            self.keep.append(t)
        node: dict = {"tensor": name}
        if t.requires_grad:
            node["requires_grad"] = True
        if str(t.device) != "cpu":
            node["device"] = str(t.device)
        return node


# ---------------------------------------------------------------------------------- decoding

def _check_map_location(m: Any) -> None:
    from .ir.types import Device
    ok = m is None or isinstance(m, (str, Device)) or (
        isinstance(m, dict) and all(isinstance(v, (str, Device)) for v in m.values()))
    if not ok:
        raise TypeError(f"load(): map_location must be None, a device, a device name or a dict "
                        f"of device names, not {type(m).__name__}")


def _target(m: Any, saved: str) -> str:
    """The device a tensor saved on `saved` is loaded onto."""
    if m is None:
        return saved
    if isinstance(m, dict):
        return str(m.get(saved, saved))
    return str(m)


def _valid_device(name: str) -> bool:
    """`name` is a device exactly as dualgraph writes one ('cpu', 'cuda:0', ...)."""
    from .ir.types import Device
    try:
        return str(Device(name)) == name
    except (RuntimeError, TypeError, ValueError):
        return False


class _Decoder:
    """Rebuilds a value from its JSON tree; any malformed part raises SerializationError."""

    def __init__(self, src: str, arrays: dict, map_location: Any) -> None:
        self.src, self.arrays, self.map_location = src, arrays, map_location
        self.built: dict[str, Any] = {}

    def fail(self, where: str, msg: str) -> None:
        raise SerializationError(f"{self.src}: manifest.json: metadata{where}: {msg}")

    def value(self, node: Any, where: str, depth: int = 0) -> Any:
        if depth > MAX_TREE_DEPTH + 1:
            self.fail(where, f"nested more than {MAX_TREE_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            self.fail(where, "expected a JSON scalar or a tagged object, found an array")
        tag = next((k for k in ("tensor", "dict", "odict", "list", "tuple", "float")
                    if k in node), None)
        if tag is None:
            self.fail(where, f"expected one of the tags tensor, dict, odict, list, tuple, float; "
                             f"found keys {sorted(node)}")
        if tag == "tensor":
            return self.tensor(node, where)
        if set(node) != {tag}:
            self.fail(where, f"a {tag!r} node has exactly one key, found {sorted(node)}")
        body = node[tag]
        if tag == "float":
            if body not in ("nan", "inf", "-inf"):
                self.fail(where, f"expected 'nan', 'inf' or '-inf', found {body!r}")
            return float(body)
        if not isinstance(body, list):
            self.fail(f"{where}.{tag}", f"expected an array, found {type(body).__name__}")
        if tag in ("list", "tuple"):
            items = [self.value(v, f"{where}.{tag}[{i}]", depth + 1) for i, v in enumerate(body)]
            return tuple(items) if tag == "tuple" else items
        out: dict = OrderedDict() if tag == "odict" else {}
        for i, pair in enumerate(body):
            at = f"{where}.{tag}[{i}]"
            if not (isinstance(pair, list) and len(pair) == 2):
                self.fail(at, "expected a [key, value] pair")
            k = pair[0]
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                self.fail(at, f"a key must be a string or an integer, found {k!r}")
            if k in out:
                self.fail(at, f"the key {k!r} appears twice")
            out[k] = self.value(pair[1], at, depth + 1)
        return out

    def tensor(self, node: dict, where: str) -> Any:
        extra = set(node) - {"tensor", "requires_grad", "device"}
        if extra:
            self.fail(where, f"unknown tensor fields {sorted(extra)}")
        name, rg, dev = node["tensor"], node.get("requires_grad", False), node.get("device", "cpu")
        if not isinstance(name, str) or name not in self.arrays:
            self.fail(where, f"refers to tensor {name!r}, which the file does not hold")
        if not isinstance(rg, bool) or not isinstance(dev, str):
            self.fail(where, "requires_grad must be a boolean and device a string")
        if not _valid_device(dev):
            self.fail(f"{where}.device", f"expected a device 'cpu' or 'cuda:N', found {dev!r:.80}")
        if name not in self.built:
            self.built[name] = self.make(self.arrays[name], rg, _target(self.map_location, dev))
        return self.built[name]

    def make(self, arr: np.ndarray, requires_grad: bool, device: str) -> Any:
        from .creation import from_numpy
        t = from_numpy(np.require(arr, requirements="C"))  # ascontiguousarray would make
        # a zero-dim array 1-dim
        if device != "cpu":
            t = t.to(device)
        if requires_grad:
            if not t.dtype.is_floating_point:
                raise SerializationError(f"{self.src}: a {t.dtype} tensor cannot require grad")
            t.requires_grad_(True)
        return t

    def check_all_used(self) -> None:
        unused = sorted(set(self.arrays) - set(self.built))
        if unused:
            raise SerializationError(f"{self.src}: manifest.json: tensors {unused} are not "
                                     "referenced by the metadata")


def _read_tree(path: str, manifest: dict, graph: Any, tensors: dict, map_location: Any,
               kind: str, field: str) -> Any:
    if graph is not None:
        raise SerializationError(f"{path}: a {kind!r} file has no graph (manifest.json: graph)")
    meta = manifest["metadata"]
    if field not in meta:
        raise SerializationError(f"{path}: manifest.json: metadata: a {kind!r} file needs the "
                                 f"field {field!r}")
    decoder = _Decoder(path, tensors, map_location)
    value = decoder.value(meta[field], f".{field}")
    decoder.check_all_used()
    return value


def _read_tensor(path: str, manifest: dict, graph: Any, tensors: dict, *,
                 map_location: Any = None) -> Any:
    """The one tensor of a `tensor` file."""
    from .tensor import Tensor
    value = _read_tree(path, manifest, graph, tensors, map_location, TENSOR_KIND, "tensor")
    if not isinstance(value, Tensor):
        raise SerializationError(f"{path}: manifest.json: metadata.tensor: expected a tensor "
                                 f"node, found {type(value).__name__}")
    return value


def _read_state_dict(path: str, manifest: dict, graph: Any, tensors: dict, *,
                     map_location: Any = None) -> Any:
    """The dict of a `state_dict` file (an OrderedDict where one was saved)."""
    value = _read_tree(path, manifest, graph, tensors, map_location, STATE_DICT_KIND,
                       "state_dict")
    if not isinstance(value, dict):
        raise SerializationError(f"{path}: manifest.json: metadata.state_dict: expected a dict "
                                 f"node, found {type(value).__name__}")
    return value


def _register_builtin() -> None:
    from .jit.io import GRAPH_KIND, from_parts
    register_reader(GRAPH_KIND, from_parts)
    register_reader(TENSOR_KIND, _read_tensor)
    register_reader(STATE_DICT_KIND, _read_state_dict)


_register_builtin()
