"""`dg.save(obj, f)` / `dg.load(f)`: tensors, containers, whole modules and compiled functions in
the safe `.dgm` format, to a path or a binary file object, the reader chosen by the manifest's
`kind`.

Kinds register their reader here: compiled functions (`graph`, from dualgraph.jit), single
tensors (`tensor`), (possibly nested) dicts of tensors and plain values (`state_dict`, e.g. a
Module's or an optimizer's state dict, or a training checkpoint), any other value (`value`: a
list, tuple, number, string, None or NumPy array, nested) and whole modules (`module`, see
saving_modules.py). Unlike `torch.save`, nothing is pickled: tensors and NumPy arrays are `.npy`
members and every other value is JSON in the manifest's metadata, so loading a file never
executes anything from it; only a module rebuilt on request (`weights_only=False`) imports the
module that defines its class (docs/FORMAT.md, "Tensors, containers and modules").
"""

from __future__ import annotations

import inspect
import io
import math
import os
import types
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from . import saving_modules as records
from . import serialization
from .ir.types import Device, DType, dtype_from_name, dtype_from_numpy
from .serialize import SerializationError, read_dgm, write_dgm
from .serialize.archive import source_name

READERS: dict[str, Callable[..., Any]] = {}
_TAKES_MAP_LOCATION: set[str] = set()
_TAKES_WEIGHTS_ONLY: set[str] = set()

TENSOR_KIND = "tensor"
STATE_DICT_KIND = "state_dict"
VALUE_KIND = "value"
MODULE_KIND = "module"
MAX_TREE_DEPTH = 64  # nesting of saved containers; bounds recursion when a file is decoded
_INT64 = (-(1 << 63), (1 << 63) - 1)


def register_reader(kind: str, reader: Callable[..., Any]) -> None:
    """`reader(path, manifest, graph, tensors)` builds the object a file of `kind` holds; a
    reader with a `map_location` (`weights_only`) parameter also receives `dg.load`'s."""
    READERS[kind] = reader
    params = inspect.signature(reader).parameters
    for flag, kinds in (("map_location", _TAKES_MAP_LOCATION),
                        ("weights_only", _TAKES_WEIGHTS_ONLY)):
        (kinds.add if flag in params else kinds.discard)(kind)


def load(f: str | os.PathLike | io.IOBase, map_location: Any = None, *,
         weights_only: bool | None = None) -> Any:
    """Load a `.dgm` file (a path or a binary file object) of any kind: a compiled function, a
    tensor, a state dict or other container, or a whole module.

    `map_location` (a device, its name, or a {saved device: device} dict) moves loaded tensors.
    `weights_only` (default None, which means True, as in PyTorch 2.6+) refuses a file holding a
    whole module; `weights_only=False` rebuilds it, importing the module that defines its class
    (only nn.Module subclasses). Nothing is ever unpickled: every other file loads the same
    either way, as safely as PyTorch's `weights_only=True`."""
    _check_map_location(map_location)
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"load(): weights_only must be None, True or False, not "
                        f"{type(weights_only).__name__}")
    src = _file(f, "load")
    manifest, graph, tensors = read_dgm(src)
    path = source_name(src)
    kind = manifest.get("kind")
    reader = READERS.get(kind)
    if reader is None:
        raise SerializationError(f"{path}: unknown kind {kind!r}; this dualgraph reads "
                                 f"{sorted(READERS)}")
    kwargs: dict = {}
    if kind in _TAKES_WEIGHTS_ONLY:
        kwargs["weights_only"] = weights_only is not False
    if kind in _TAKES_MAP_LOCATION:
        kwargs["map_location"] = map_location
    elif map_location is not None and _target(map_location, "cpu") != "cpu":
        raise ValueError(f"load(): map_location applies to tensors and state dicts; {path} holds "
                         f"a {kind!r}")
    return reader(path, manifest, graph, tensors, **kwargs)


def save(obj: Any, f: str | os.PathLike | io.IOBase) -> None:
    """Save a tensor, a container (dict, list, tuple; nested) of tensors, NumPy arrays and plain
    values, or a whole module, to a `.dgm` file: a path (written atomically) or a binary file
    object such as `open(path, "wb")` or `io.BytesIO()`.

    Nothing is pickled: a module is recorded as its class's import path plus its parameters,
    buffers, children and plain attributes, and comes back only with
    `dg.load(f, weights_only=False)`. Objects with no such form (an optimizer, a lambda) are
    refused with a TypeError naming where they are, before the file is touched."""
    target = _file(f, "save")
    from .nn.module import Module
    from .tensor import Tensor
    kind, field = (TENSOR_KIND, "tensor") if isinstance(obj, Tensor) else \
        (STATE_DICT_KIND, "state_dict") if isinstance(obj, dict) else \
        (MODULE_KIND, "module") if isinstance(obj, Module) else (VALUE_KIND, "value")
    tensors: dict[str, Any] = {}
    tree = _Encoder(tensors).value(obj, ())
    write_dgm(target, kind, None, tensors, {field: tree})


def _file(f: Any, fn: str) -> Any:
    """A path as a str, or a binary file object that can do what `fn` needs."""
    if isinstance(f, (str, os.PathLike)):
        return source_name(f)
    method = "write" if fn == "save" else "read"
    if not callable(getattr(f, method, None)):
        raise TypeError(f"{fn}(): expected a file path (str or os.PathLike) or a binary file "
                        f"object with a {method}() method, got {type(f).__name__}")
    if isinstance(f, io.TextIOBase):
        mode = "wb" if fn == "save" else "rb"
        raise TypeError(f"{fn}(): the file object is in text mode; open it in binary mode "
                        f"({mode!r})")
    able = getattr(f, "writable" if fn == "save" else "readable", None)
    if callable(able) and not able():
        raise io.UnsupportedOperation(f"{fn}(): the file object is not open for "
                                      f"{'writing' if fn == 'save' else 'reading'}")
    return f


# ---------------------------------------------------------------------------------- encoding
# A saved value is a JSON "tree": JSON scalars stand for themselves, anything else is an object
# with exactly one tag key: {"tensor": name, ...}, {"ndarray": name[, "scalar": true]},
# {"dict"|"odict": [[key, value], ...]}, {"list"|"tuple": [values]}, {"size": [ints]},
# {"dtype": name}, {"device": name}, {"float": "nan"|"inf"|"-inf"}, and for modules
# {"module": record}, {"moduleref": id}, {"function": "namespace:name"}. Tensors and arrays are
# members named by their path ("fc.weight", "state.0.exp_avg").

def _where(path: tuple) -> str:
    return "".join(f"[{k!r}]" for k in path) or "the object"


_STORABLE = ("tensors, NumPy arrays, dicts, lists, tuples, str, int, float, bool, None, dtypes, "
             "devices and nn.Modules")


class _Encoder:
    """Turns a value into its JSON tree, collecting tensors and arrays (by identity, so shared
    ones are stored once and come back shared; modules likewise)."""

    def __init__(self, tensors: dict) -> None:
        self.tensors = tensors
        self.names: dict[int, str] = {}
        self.keep: list = []  # keep encoded objects alive so their ids stay unique
        self.module_ids: dict[int, int] = {}
        self.open_modules: set[int] = set()

    def value(self, x: Any, path: tuple) -> Any:
        from .nn.module import Module
        from .size import Size
        from .tensor import Tensor
        if len(path) > MAX_TREE_DEPTH:
            raise ValueError(f"save(): {_where(path[:3])}... is nested more than "
                             f"{MAX_TREE_DEPTH} levels deep")
        if isinstance(x, Tensor):
            return self.tensor(x, path)
        if isinstance(x, np.ndarray) or (isinstance(x, np.generic)
                                         and not isinstance(x, (str, bytes))):
            return self.array(x, path)  # before float: np.float64 is a float
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
        if isinstance(x, Size):
            return {"size": [self.value(int(d), path + (i,)) for i, d in enumerate(x)]}
        if isinstance(x, (list, tuple)):
            tag = "tuple" if isinstance(x, tuple) else "list"
            return {tag: [self.value(v, path + (i,)) for i, v in enumerate(x)]}
        if isinstance(x, DType):
            return {"dtype": x.name}
        if isinstance(x, Device):
            return {"device": str(x)}
        if isinstance(x, Module):
            return records.encode_module(self, x, path, _where(path))
        if isinstance(x, (types.FunctionType, types.BuiltinFunctionType)):
            return records.encode_function(x, _where(path))
        hint = "; save a compiled function with dg.jit.save(f, path)" if \
            callable(getattr(x, "save", None)) and hasattr(x, "graph") else ""
        raise TypeError(f"save(): cannot store {_where(path)} of type {type(x).__name__}; a "
                        f"saved object may hold {_STORABLE}{hint}")

    def array(self, a: Any, path: tuple) -> dict:
        """A NumPy array (or scalar) of a dualgraph dtype, stored natively as a member."""
        try:
            dtype_from_numpy(a.dtype.newbyteorder("="))
        except (TypeError, ValueError):
            raise TypeError(f"save(): cannot store {_where(path)}, a NumPy "
                            f"{'array' if isinstance(a, np.ndarray) else 'scalar'} of dtype "
                            f"{a.dtype}; arrays may have the dtypes float16/32/64, int8/16/32/64, "
                            "uint8 and bool") from None
        name = self._member(a, path, lambda: np.asarray(a))
        return {"ndarray": name, "scalar": True} if isinstance(a, np.generic) else \
            {"ndarray": name}

    def _member(self, x: Any, path: tuple, data: Callable[[], np.ndarray]) -> str:
        name = self.names.get(id(x))
        if name is None:
            name = ".".join(str(k) for k in path) or "tensor"
            if name in self.tensors or name.startswith("graph/"):
                name = f"{name}#{len(self.tensors)}"
            self.tensors[name] = data()
            self.names[id(x)] = name
            self.keep.append(x)
        return name

    def key(self, k: Any, path: tuple) -> Any:
        if isinstance(k, str) or (isinstance(k, int) and not isinstance(k, bool)
                                  and _INT64[0] <= k <= _INT64[1]):
            return k
        raise TypeError(f"save(): cannot store the key {k!r} of type {type(k).__name__} in "
                        f"{_where(path)}; dict keys must be str or int")

    def tensor(self, t: Any, path: tuple) -> dict:
        name = self._member(t, path, lambda: t.detach().cpu().numpy())
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


_TAGS = ("tensor", "ndarray", "dict", "odict", "list", "tuple", "size", "float", "dtype",
         "device", "module", "moduleref", "function")


class _Decoder:
    """Rebuilds a value from its JSON tree; any malformed part raises SerializationError. A
    module or function node is refused (WeightsOnlyError) unless `weights_only` is False."""

    def __init__(self, src: str, arrays: dict, map_location: Any,
                 weights_only: bool = True) -> None:
        self.src, self.arrays, self.map_location = src, arrays, map_location
        self.weights_only = weights_only
        self.built: dict[str, Any] = {}
        self.kinds: dict[str, str] = {}  # member name -> "tensor" or "ndarray"
        self.parameters: dict[str, Any] = {}
        self.modules: list = []  # rebuilt modules by id (None while one is being built)

    def fail(self, where: str, msg: str) -> None:
        raise SerializationError(f"{self.src}: manifest.json: metadata{where}: {msg}")

    def value(self, node: Any, where: str, depth: int = 0) -> Any:
        if depth > MAX_TREE_DEPTH + 1:
            self.fail(where, f"nested more than {MAX_TREE_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            self.fail(where, "expected a JSON scalar or a tagged object, found an array")
        tag = next((k for k in _TAGS if k in node), None)
        if tag is None:
            self.fail(where, f"expected one of the tags {', '.join(_TAGS)}; found keys "
                             f"{sorted(node)}")
        if tag == "tensor":
            return self.tensor(node, where)
        if tag == "ndarray":
            return self.ndarray(node, where)
        if set(node) != {tag}:
            self.fail(where, f"a {tag!r} node has exactly one key, found {sorted(node)}")
        body = node[tag]
        if tag in ("float", "dtype", "device", "moduleref", "function", "module"):
            return self.leaf(tag, body, where, depth)
        if not isinstance(body, list):
            self.fail(f"{where}.{tag}", f"expected an array, found {type(body).__name__}")
        if tag in ("list", "tuple", "size"):
            items = [self.value(v, f"{where}.{tag}[{i}]", depth + 1) for i, v in enumerate(body)]
            if tag == "size":
                from .size import Size
                if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                           for d in items):
                    self.fail(f"{where}.size", "expected an array of non-negative integers")
                return Size(items)
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

    def leaf(self, tag: str, body: Any, where: str, depth: int) -> Any:
        """A node whose body is not a list of values: a float, dtype, device or module."""
        at = f"{where}.{tag}"
        if tag == "float":
            if body not in ("nan", "inf", "-inf"):
                self.fail(where, f"expected 'nan', 'inf' or '-inf', found {body!r}")
            return float(body)
        if tag == "dtype":
            try:
                return dtype_from_name(body) if isinstance(body, str) else self.fail(
                    at, "expected a dtype name")
            except (TypeError, ValueError, KeyError):
                self.fail(at, f"unknown dtype {body!r:.60}")
        if tag == "device":
            if not isinstance(body, str) or not _valid_device(body):
                self.fail(at, f"expected a device 'cpu' or 'cuda:N', found {body!r:.80}")
            return Device(body)
        if tag == "moduleref":
            if isinstance(body, bool) or not isinstance(body, int) or \
                    not 0 <= body < len(self.modules) or self.modules[body] is None:
                self.fail(at, f"refers to module {body!r:.40}, which is not a module recorded "
                              "(and complete) before this point")
            return self.modules[body]
        if tag == "function":
            path = records.check_path(self, at, body, "function")
            if self.weights_only:
                fn = serialization.allowed(path)
                if fn is None:
                    raise records.refusal(self.src, "the function", path)
                return fn
            return records.resolve_function(self, at, path)
        cls = body.get("class") if isinstance(body, dict) else None
        path = records.check_path(self, f"{at}.class", cls, "class")
        cls = None
        if self.weights_only:
            cls = serialization.allowed(path)
            if cls is None:
                raise records.refusal(self.src, "a whole module, of class", path)
        return records.decode_module(self, body, at, depth, cls)

    def ndarray(self, node: dict, where: str) -> Any:
        """A NumPy array (or, with "scalar": true, a NumPy scalar) stored as a member."""
        extra = set(node) - {"ndarray", "scalar"}
        if extra:
            self.fail(where, f"unknown ndarray fields {sorted(extra)}")
        name, scalar = node["ndarray"], node.get("scalar", False)
        arr = self.member(name, where, "ndarray")
        if scalar is not True and scalar is not False:
            self.fail(f"{where}.scalar", "expected a boolean")
        if scalar:
            if arr.ndim:
                self.fail(where, f"a scalar has no dims; tensor {name!r} has shape "
                                 f"{list(arr.shape)}")
            return arr[()]
        if name not in self.built:
            self.built[name] = arr
        return self.built[name]

    def member(self, name: Any, where: str, kind: str) -> np.ndarray:
        """The array `name` refers to; one member is read either as tensors or as arrays."""
        if not isinstance(name, str) or name not in self.arrays:
            self.fail(where, f"refers to tensor {name!r}, which the file does not hold")
        if self.kinds.setdefault(name, kind) != kind:
            self.fail(where, f"tensor {name!r} is referred to both as a tensor and as a NumPy "
                             "array")
        return self.arrays[name]

    def as_parameter(self, node: dict, t: Any) -> Any:
        """The Parameter of a module's parameter node (one per member: tied weights stay
        tied)."""
        from .nn.parameter import Parameter
        name = node["tensor"]
        if name not in self.parameters:
            self.parameters[name] = Parameter(t, requires_grad=t.requires_grad)
            self.built[name] = self.parameters[name]
        return self.parameters[name]

    def tensor(self, node: dict, where: str) -> Any:
        extra = set(node) - {"tensor", "requires_grad", "device"}
        if extra:
            self.fail(where, f"unknown tensor fields {sorted(extra)}")
        name, rg, dev = node["tensor"], node.get("requires_grad", False), node.get("device", "cpu")
        self.member(name, where, "tensor")
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
        unused = sorted(set(self.arrays) - set(self.kinds))
        if unused:
            raise SerializationError(f"{self.src}: manifest.json: tensors {unused} are not "
                                     "referenced by the metadata")


def _read_tree(path: str, manifest: dict, graph: Any, tensors: dict, map_location: Any,
               weights_only: bool, kind: str, field: str) -> Any:
    if graph is not None:
        raise SerializationError(f"{path}: a {kind!r} file has no graph (manifest.json: graph)")
    meta = manifest["metadata"]
    if field not in meta:
        raise SerializationError(f"{path}: manifest.json: metadata: a {kind!r} file needs the "
                                 f"field {field!r}")
    decoder = _Decoder(path, tensors, map_location, weights_only)
    value = decoder.value(meta[field], f".{field}")
    decoder.check_all_used()
    return value


def _tree_reader(kind: str, field: str, expected: Callable[[], type | None],
                 what: str) -> Callable[..., Any]:
    """The reader of a kind whose metadata `field` holds one value tree, of the type
    `expected()` returns (None: any)."""
    def read(path: str, manifest: dict, graph: Any, tensors: dict, *,
             map_location: Any = None, weights_only: bool = True) -> Any:
        value = _read_tree(path, manifest, graph, tensors, map_location, weights_only, kind,
                           field)
        cls = expected()
        if cls is not None and not isinstance(value, cls):
            raise SerializationError(f"{path}: manifest.json: metadata.{field}: expected "
                                     f"{what} node, found {type(value).__name__}")
        return value
    read.__doc__ = f"The value of a {kind!r} file ({what})."
    return read


def _tensor_type() -> type:
    from .tensor import Tensor
    return Tensor


def _module_type() -> type:
    from .nn.module import Module
    return Module


def _register_builtin() -> None:
    from .jit.io import GRAPH_KIND, from_parts
    register_reader(GRAPH_KIND, from_parts)
    register_reader(TENSOR_KIND, _tree_reader(TENSOR_KIND, "tensor", _tensor_type, "a tensor"))
    register_reader(STATE_DICT_KIND, _tree_reader(STATE_DICT_KIND, "state_dict", lambda: dict,
                                                  "a dict"))
    register_reader(VALUE_KIND, _tree_reader(VALUE_KIND, "value", lambda: None, "any"))
    register_reader(MODULE_KIND, _tree_reader(MODULE_KIND, "module", _module_type,
                                              "a module"))


_register_builtin()
