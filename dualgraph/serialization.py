"""`dg.serialization`: the globals a weights-only `dg.load` may rebuild.

dualgraph's files are never unpickled: a whole module is stored as data naming its class
(`package.module:Qualified.Name`) and a layer's activation as a function of dualgraph's
namespaces (`dualgraph.nn.functional:gelu`) (saving_modules.py). `dg.load` with its default
`weights_only=True` refuses such a file, as PyTorch 2.6+ refuses an unknown GLOBAL. The
classes and functions registered here are the exceptions: their records are rebuilt under
`weights_only=True` with the object given (no import, no lookup), and only they.

>>> dg.serialization.add_safe_globals([MyNet])   # doctest: +SKIP
>>> net = dg.load("net.dgm")                      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import types
from typing import Any, Iterator

from .saving_modules import class_path, function_path

_SAFE: list = []  # process-wide, as PyTorch keeps its list


def _path_of(obj: Any) -> str:
    """The path dualgraph's files record for `obj`, or a TypeError saying what may be listed."""
    from .nn.module import Module
    if isinstance(obj, type) and issubclass(obj, Module):
        path = class_path(obj)
        if path is None:
            raise TypeError(f"add_safe_globals(): {obj.__qualname__} cannot be found by its "
                            f"module and name ({obj.__module__}), so no file can name it; "
                            "pass (cls, 'module.Name') with the name the file records")
        return path
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        path = function_path(obj)
        if path is not None:
            return path
    raise TypeError(f"add_safe_globals(): expected nn.Module subclasses or dualgraph's tensor "
                    f"functions (F.relu), the only globals dualgraph's files name (they are "
                    f"never unpickled), got {obj!r:.80}")


def _entry(item: Any) -> tuple:
    """(recorded path, object) for an item of a safe-globals list."""
    if isinstance(item, tuple):
        if len(item) != 2 or not isinstance(item[1], str):
            raise TypeError(f"add_safe_globals(): expected (object, 'module.Name'), got "
                            f"{item!r:.80}")
        obj, name = item
        _path_of(obj)  # the object must be a kind a file can name
        module, _, qual = name.rpartition(".") if ":" not in name else name.partition(":")
        if not module or not qual:
            raise ValueError(f"add_safe_globals(): {name!r} is not 'module.Name'")
        return f"{module}:{qual}", obj
    return _path_of(item), item


def add_safe_globals(safe_globals: list) -> None:
    """Let `dg.load(..., weights_only=True)` rebuild modules of these classes and layers
    holding these functions; an item may be `(obj, "module.Name")`, the name the file uses."""
    if not isinstance(safe_globals, list):
        raise TypeError(f"add_safe_globals(): expected a list, got {type(safe_globals).__name__}")
    for item in safe_globals:
        _entry(item)  # check all before adding any
    _SAFE.extend(safe_globals)


def get_safe_globals() -> list:
    """The objects (and (object, name) pairs) added so far, in order."""
    return list(_SAFE)


def clear_safe_globals() -> None:
    """Forget every safe global: weights-only loads refuse every module again."""
    _SAFE.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list) -> Iterator[None]:
    """`add_safe_globals(safe_globals)` for the duration of the block only."""
    before = list(_SAFE)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _SAFE[:] = before


def allowed(path: str) -> Any:
    """The safe global a file's class or function path names, or None."""
    for item in reversed(_SAFE):
        p, obj = _entry(item)
        if p == path:
            return obj
    return None
