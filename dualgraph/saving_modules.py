"""Whole `nn.Module`s in a `.dgm` file: the module tree recorded as data, never pickled, and
rebuilt only when the caller asks with `dg.load(..., weights_only=False)`.

Saving records, for each module: its class's import path (`package.module:Qualified.Name`), its
training flag, parameters, buffers (and which are non-persistent), child modules (a module that
appears twice is stored once and referenced) and its plain attributes — numbers, strings, None,
dtypes, devices, sizes, tensors, NumPy arrays, containers of those, and functions of dualgraph's
public namespaces (`F.relu`) by name. Anything else (a lambda, an open file, registered hooks) is
refused at save time, naming the attribute.

Loading refuses a module by default, as PyTorch 2.6+ does, naming the class. With
`weights_only=False` it rebuilds the tree; that is the one path on which loading imports code:

1. The class path must be dotted identifiers without dunders (but the module `__main__`).
2. Its module is taken from `sys.modules`, or imported (which runs that module's top-level
   code); a module of the standard library that is not imported yet is refused unimported
   (it defines no nn.Module, and some run code when imported).
3. The name is looked up statically (`inspect.getattr_static`: no module `__getattr__`, no
   descriptors) and must be a class deriving from `nn.Module`; anything else (`os:system`,
   `builtins:eval`) is refused by name.
4. The instance is made without running any of the class's code (`object.__new__`, then
   dualgraph's own `Module.__init__`), and its state is written into its `__dict__` directly, as
   unpickling does; the class's code runs only when the caller uses the module.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pickle
import re
import sys
import types
from typing import Any

from .serialize import SerializationError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_CLASS_PATH = re.compile(rf"^{_IDENT}(\.{_IDENT})*:{_IDENT}(\.{_IDENT})*$")
MAX_CLASS_PATH = 256
# where a saved function may come from (an activation held by a layer, e.g. F.gelu), and the
# modules that must define it: tensor math only, never I/O such as dg.save
FUNCTION_NAMESPACES = ("dualgraph.nn.functional", "dualgraph")
MATH_MODULES = frozenset({"dualgraph.ops", "dualgraph.linalg", "dualgraph.methods.math",
                          "dualgraph.methods.statistics", "dualgraph.methods.linalg",
                          "dualgraph.nn.functional", "dualgraph.nn.functional_layers"})
_STORES = ("training", "_parameters", "_buffers", "_non_persistent", "_modules")
MODULE_FIELDS = ("id", "class", "training", "parameters", "buffers", "non_persistent", "modules",
                 "attributes")


class WeightsOnlyError(SerializationError, pickle.UnpicklingError):
    """The file holds a whole module (or a function), which is rebuilt only with
    `weights_only=False`; an UnpicklingError too, as PyTorch raises."""


def _module_class() -> type:
    from .nn.module import Module
    return Module


@functools.lru_cache(maxsize=None)
def _internal_fields() -> frozenset:
    """The `__dict__` keys dualgraph's Module.__init__ creates (stores and hook tables)."""
    base = object.__new__(_module_class())
    _module_class().__init__(base)
    return frozenset(base.__dict__)


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _well_formed(path: str) -> bool:
    """`module:qualname` of identifiers, with no dunder part but the module `__main__` (where
    a script's classes live)."""
    if not _CLASS_PATH.match(path):
        return False
    module, qualname = path.split(":")
    parts = qualname.split(".") + ([] if module == "__main__" else module.split("."))
    return not any(_dunder(p) for p in parts)


def class_path(cls: type) -> str | None:
    """`module:qualname` when importing the module and looking the name up gives `cls`."""
    path = f"{cls.__module__}:{cls.__qualname__}"
    if not _well_formed(path):
        return None
    obj: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        obj = obj.__dict__.get(part) if hasattr(obj, "__dict__") else None
    return path if obj is cls else None


def function_path(fn: Any) -> str | None:
    """`namespace:name` of a function that one of FUNCTION_NAMESPACES holds by that name."""
    if not isinstance(fn, (types.FunctionType, types.BuiltinFunctionType)) or \
            getattr(fn, "__module__", None) not in MATH_MODULES:
        return None
    importlib.import_module(FUNCTION_NAMESPACES[0])
    name = getattr(fn, "__name__", "")
    for ns in FUNCTION_NAMESPACES:
        if re.fullmatch(_IDENT, name) and sys.modules[ns].__dict__.get(name) is fn:
            return f"{ns}:{name}"
    return None


# ---------------------------------------------------------------------------------- saving

def encode_module(enc: Any, m: Any, path: tuple, where: str) -> dict:
    """The record of module `m` (found at `where`), or a reference to its earlier record."""
    key = id(m)
    if key in enc.module_ids:
        if key in enc.open_modules:
            raise TypeError(f"save(): the module at {where} contains itself")
        return {"moduleref": enc.module_ids[key]}
    cls = type(m)
    cpath = class_path(cls)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if cpath is None:
        raise TypeError(f"save(): cannot save the module at {where}: its class {name} cannot be "
                        "imported by that name (a class defined inside a function?), so loading "
                        "could not rebuild it; define it at module level, or save "
                        "model.state_dict()")
    d = m.__dict__
    for k in sorted(_internal_fields() - set(_STORES)):
        if d.get(k):
            raise TypeError(f"save(): cannot save the module at {where} ({name}): it has hooks "
                            f"registered ({k}), which are code; remove them or save "
                            "model.state_dict()")
    mid = enc.module_ids[key] = len(enc.module_ids)
    enc.open_modules.add(key)
    enc.keep.append(m)

    def tensor(n: str, t: Any) -> Any:
        return None if t is None else enc.tensor(t, path + (n,))

    record = {
        "id": mid, "class": cpath, "training": bool(d["training"]),
        "parameters": [[n, tensor(n, t)] for n, t in d["_parameters"].items()],
        "buffers": [[n, tensor(n, t)] for n, t in d["_buffers"].items()],
        "non_persistent": sorted(d["_non_persistent"]),
        "modules": [[n, None if c is None else enc.value(c, path + (n,))]
                    for n, c in d["_modules"].items()],
        "attributes": [[n, enc.value(v, path + (n,))] for n, v in d.items()
                       if n not in _internal_fields()],
    }
    enc.open_modules.discard(key)
    return {"module": record}


def encode_function(fn: Any, where: str) -> dict:
    """A function by name, if dualgraph's public namespaces hold it."""
    fpath = function_path(fn)
    if fpath is None:
        raise TypeError(f"save(): cannot store {where}, the function "
                        f"{getattr(fn, '__qualname__', fn)!r}: dualgraph stores data, never "
                        f"code; it names only tensor functions of "
                        f"{' and '.join(FUNCTION_NAMESPACES)} (such as F.relu)")
    return {"function": fpath}


# ---------------------------------------------------------------------------------- loading

def refusal(src: str, what: str, path: str) -> WeightsOnlyError:
    """PyTorch 2.6+'s refusal of a file that needs `weights_only=False`, naming the class."""
    dotted = path.replace(":", ".")
    return WeightsOnlyError(
        f"{src}: Weights only load failed. This file can still be loaded, to do so you have one "
        f"option, do it only if you trust the source of the checkpoint: it holds {what} "
        f"{path}, and re-running `load` with `weights_only` set to `False` will rebuild it. That "
        f"imports the module that defines {path} (running its top-level code) but unpickles "
        f"nothing. WeightsUnpickler error: Unsupported global: GLOBAL {dotted} was not an "
        "allowed global by default. If you trust it, allow it with "
        f"dg.serialization.add_safe_globals([...]) or the dg.serialization.safe_globals([...]) "
        "context manager. To load weights only, save model.state_dict() instead.")


def check_path(dec: Any, where: str, x: Any, what: str) -> str:
    """A class or function path from the file, checked before it appears in any message."""
    if not isinstance(x, str) or len(x) > MAX_CLASS_PATH or not _well_formed(x):
        dec.fail(where, f"expected a {what} path 'package.module:Name' (identifiers, no "
                        f"dunders, at most {MAX_CLASS_PATH} characters), found {x!r:.80}")
    return x


def _lookup(dec: Any, where: str, path: str) -> Any:
    """The object `path` names: its module from sys.modules or imported (never an unimported
    standard-library module), then each name looked up statically."""
    modname, qualname = path.split(":")
    mod = sys.modules.get(modname)
    if mod is None:
        if modname.partition(".")[0] in sys.stdlib_module_names:
            dec.fail(where, f"{path} is not an nn.Module class (the standard library defines "
                            "none); refused without importing it")
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # what the import raised, reported as the file's fault
            dec.fail(where, f"cannot import {modname!r} for {path}: {type(exc).__name__}: "
                            f"{exc}")
    obj: Any = mod
    for part in qualname.split("."):
        try:
            obj = inspect.getattr_static(obj, part)
        except AttributeError:
            dec.fail(where, f"{path}: {modname} has no {qualname} (define or import the class "
                            "where it was defined before loading)")
    return obj


def resolve_class(dec: Any, where: str, path: str) -> type:
    """The nn.Module subclass `path` names, or a SerializationError naming it."""
    obj = _lookup(dec, where, path)
    if not (isinstance(obj, type) and issubclass(obj, _module_class())):
        dec.fail(where, f"{path} is not an nn.Module class (it is a "
                        f"{type(obj).__name__}); only nn.Module subclasses are rebuilt")
    return obj


def resolve_function(dec: Any, where: str, path: str) -> Any:
    """The function `path` names in one of FUNCTION_NAMESPACES."""
    if path.split(":")[0] not in FUNCTION_NAMESPACES or "." in path.split(":")[1]:
        dec.fail(where, f"{path} is refused: saved functions come from "
                        f"{', '.join(FUNCTION_NAMESPACES)} only")
    importlib.import_module(FUNCTION_NAMESPACES[0])
    obj = _lookup(dec, where, path)
    if not isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) or \
            getattr(obj, "__module__", None) not in MATH_MODULES:
        dec.fail(where, f"{path} is refused: it is not one of dualgraph's tensor functions")
    return obj


def _pairs(dec: Any, where: str, x: Any) -> list:
    if not isinstance(x, list) or not all(isinstance(p, list) and len(p) == 2 for p in x):
        dec.fail(where, "expected an array of [name, value] pairs")
    return x


def decode_module(dec: Any, body: Any, where: str, depth: int, cls: type | None = None) -> Any:
    """Rebuild a module from its record (the caller passed weights_only=False, or `cls` is the
    safe global the record's class path names: dualgraph/serialization.py)."""
    from .nn.parameter import Parameter
    if not isinstance(body, dict) or set(body) != set(MODULE_FIELDS):
        dec.fail(where, f"a module record has exactly the fields {list(MODULE_FIELDS)}, found "
                        f"{sorted(body) if isinstance(body, dict) else type(body).__name__}")
    if body["id"] != len(dec.modules) or isinstance(body["id"], bool):
        dec.fail(f"{where}.id", f"expected module id {len(dec.modules)} (ids count up in "
                                f"document order), found {body['id']!r:.40}")
    path = check_path(dec, f"{where}.class", body["class"], "class")
    cls = resolve_class(dec, f"{where}.class", path) if cls is None else cls
    if not isinstance(body["training"], bool):
        dec.fail(f"{where}.training", "expected a boolean")
    dec.modules.append(None)  # a reference to a module still being built is refused
    m = object.__new__(cls)  # none of the class's code runs: as unpickling does
    _module_class().__init__(m)
    d = m.__dict__
    d["training"] = body["training"]
    taken: set = set()

    def name(at: str, n: Any) -> str:
        """A name not yet used in this module: a store's key (no '.', as Module requires) or
        a plain attribute's (neither a dunder nor one of Module's own fields)."""
        if not isinstance(n, str) or not n or "." in n or _dunder(n) or n in taken or \
                n in _internal_fields() or not n.isprintable():
            dec.fail(at, f"expected a new name (printable, without '.', not a dunder nor one "
                         f"of Module's own fields), found {n!r:.80}")
        taken.add(n)
        return n

    def tensor(at: str, v: Any, parameter: bool) -> Any:
        if v is None:
            return None
        if not (isinstance(v, dict) and "tensor" in v):
            dec.fail(at, "expected a tensor node or null")
        t = dec.tensor(v, at)
        return t if not parameter or isinstance(t, Parameter) else dec.as_parameter(v, t)

    for i, (n, v) in enumerate(_pairs(dec, f"{where}.parameters", body["parameters"])):
        at = f"{where}.parameters[{i}]"
        d["_parameters"][name(at, n)] = tensor(at, v, True)
    for i, (n, v) in enumerate(_pairs(dec, f"{where}.buffers", body["buffers"])):
        at = f"{where}.buffers[{i}]"
        d["_buffers"][name(at, n)] = tensor(at, v, False)
    np_names = body["non_persistent"]
    if not isinstance(np_names, list) or not all(n in d["_buffers"] for n in np_names):
        dec.fail(f"{where}.non_persistent", "expected an array of the module's buffer names")
    d["_non_persistent"].update(np_names)
    Module = _module_class()
    for i, (n, v) in enumerate(_pairs(dec, f"{where}.modules", body["modules"])):
        at = f"{where}.modules[{i}]"
        child = None if v is None else dec.value(v, at, depth + 1)
        if child is not None and not isinstance(child, Module):
            dec.fail(at, "expected a module node, a moduleref or null")
        d["_modules"][name(at, n)] = child
    for i, (n, v) in enumerate(_pairs(dec, f"{where}.attributes", body["attributes"])):
        at = f"{where}.attributes[{i}]"
        d[name(at, n)] = dec.value(v, at, depth + 1)
    dec.modules[body["id"]] = m
    return m
