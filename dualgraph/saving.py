"""`dg.load(path)`: read any `.dgm` file, choosing the reader by the manifest's `kind`.

Kinds register their reader here: compiled functions (`graph`) today; the training library adds
state dicts and tensors.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from .serialize import SerializationError, read_dgm

READERS: dict[str, Callable[..., Any]] = {}


def register_reader(kind: str, reader: Callable[..., Any]) -> None:
    """`reader(path, manifest, graph, tensors)` builds the object a file of `kind` holds."""
    READERS[kind] = reader


def load(path: str | os.PathLike) -> Any:
    """Load a `.dgm` file of any kind (a compiled function for `kind: graph`)."""
    path = os.fspath(path)
    manifest, graph, tensors = read_dgm(path)
    kind = manifest.get("kind")
    reader = READERS.get(kind)
    if reader is None:
        raise SerializationError(f"{path}: unknown kind {kind!r}; this dualgraph reads "
                                 f"{sorted(READERS)}")
    return reader(path, manifest, graph, tensors)


def _register_builtin() -> None:
    from .jit.io import GRAPH_KIND, from_parts
    register_reader(GRAPH_KIND, from_parts)


_register_builtin()
