"""The serve extra's third-party imports, with one clear error when the extra is missing."""

from __future__ import annotations

from importlib import import_module
from typing import Any


def require(module: str) -> Any:
    """Import `module` (Starlette, Uvicorn, prometheus_client); an ImportError names the extra."""
    try:
        return import_module(module)
    except ImportError as exc:
        raise ImportError(f"dualgraph.serve needs {module.split('.')[0]!r}, which is not "
                          f"installed: pip install 'dualgraph[serve]' ({exc})") from exc
