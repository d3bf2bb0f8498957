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
`verify` accepts it. This package imports only `dualgraph.ir` and NumPy: a deployment needs nothing
of the runtime to read a file.
"""

from .archive import read_dgm, write_dgm
from .common import (FORMAT_VERSION, MAX_BYTES, CorruptFileError, SerializationError,
                     UnknownOpError, UnsafeFileError, UnsupportedVersionError)
from .schema import graph_from_json, graph_tensors, graph_to_json

__all__ = ["FORMAT_VERSION", "MAX_BYTES", "SerializationError", "CorruptFileError",
           "UnsafeFileError", "UnsupportedVersionError", "UnknownOpError", "graph_to_json",
           "graph_tensors", "graph_from_json", "write_dgm", "read_dgm"]
