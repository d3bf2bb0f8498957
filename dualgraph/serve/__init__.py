"""`dualgraph.serve`: saved `.dgm` functions over HTTP with KServe's v2 (Open Inference) protocol.

    from dualgraph.serve import create_app, serve
    app = create_app({"mlp": "mlp.dgm"}, max_batch=64, max_delay_ms=5)   # an ASGI app
    serve(["mlp.dgm"], host="127.0.0.1", port=8000)                     # or run it (Uvicorn)

Requests for a model whose graph has a symbolic batch dimension are batched dynamically
(`batcher.py`). Needs the `serve` extra (Starlette, Uvicorn, prometheus_client); the names below
are imported on first use, so `import dualgraph.serve` itself needs none of them. docs/SERVING.md.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "create_app": "app", "ServerConfig": "config", "serve": "server",
    "ServedModel": "model", "load_model": "model", "ServeError": "errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dualgraph.serve' has no attribute {name!r}")
    from importlib import import_module
    return getattr(import_module(f"{__name__}.{module}"), name)
