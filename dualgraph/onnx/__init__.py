"""`dualgraph.onnx`: ONNX export and import (the `onnx` extra: `pip install 'dualgraph[onnx]'`).

`export(model, args, f)` writes a traced, scripted or loaded function (or a module, traced on
`args`) as an ONNX model, each registry op through one table (`export_table.EXPORT`); `load(path)`
reads an ONNX model into a dualgraph graph of registry ops — verified, size-bounded, nothing in
the file executed — that runs, compiles, saves as `.dgm`, and differentiates. See docs/ONNX.md.
"""

from .emitter import ExportError
from .export import DEFAULT_OPSET, export, export_graph, missing_ops

__all__ = ["export", "export_graph", "missing_ops", "ExportError", "DEFAULT_OPSET"]

from .import_builder import ImportError_ as OnnxImportError, UnsupportedOpError  # noqa: E402
from .dtypes import UnsupportedDTypeError  # noqa: E402
from .importer import import_model, load, read_model  # noqa: E402

__all__ += ["load", "import_model", "read_model", "OnnxImportError", "UnsupportedOpError",
            "UnsupportedDTypeError"]
