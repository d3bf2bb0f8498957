"""`dualgraph convert a.dgm b.onnx` and back: the format follows each file's extension."""

from __future__ import annotations

import os
from typing import Any


def load_any(path: str, opt_level: int = 3) -> Any:
    """A compiled function from a `.dgm` or an `.onnx` file."""
    if os.fspath(path).endswith(".onnx"):
        from .importer import load
        return load(path, opt_level=opt_level)
    from ..jit import load as load_dgm
    return load_dgm(path, opt_level=opt_level)


def convert(src: str, dst: str, opset_version: int | None = None) -> str:
    """Read `src` (.dgm or .onnx) and write it as `dst` (.onnx or .dgm); returns a summary."""
    kinds = [os.path.splitext(p)[1].lower() for p in (src, dst)]
    for path, kind in zip((src, dst), kinds):
        if kind not in (".dgm", ".onnx"):
            raise ValueError(f"convert: {path}: expected a .dgm or .onnx file name")
    fn = load_any(src)
    if kinds[1] == ".onnx":
        from .export import export
        proto = export(fn, (), dst, opset_version=opset_version)
        return f"wrote {dst}: {len(proto.graph.node)} ONNX nodes, opset " \
               f"{proto.opset_import[0].version}"
    fn.save(dst)
    return f"wrote {dst}: {len(fn.graph_before_passes.nodes)} nodes"
