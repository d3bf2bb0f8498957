"""The optional dependency: `onnx` is imported here only, lazily, with an error naming the extra."""

from __future__ import annotations

from typing import Any


def onnx() -> Any:
    """The `onnx` package, or an ImportError that says which extra installs it."""
    try:
        import onnx as module
    except ImportError as exc:
        raise ImportError("dualgraph.onnx needs the `onnx` package: pip install 'dualgraph[onnx]' "
                          f"(or pip install onnx onnxruntime); importing it failed: {exc}") from exc
    return module
