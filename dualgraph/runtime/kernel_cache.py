"""Generated kernels as real Python files on disk, so Numba can cache their machine code.

Numba's `cache=True` needs a source file to key its cache on (it cannot cache `exec`'d code:
"no locator available"), so each generated kernel module is written to
`$DUALGRAPH_CACHE_DIR` (else `$XDG_CACHE_HOME/dualgraph`, else `~/.cache/dualgraph`), in a
folder named by a hash of the Python, NumPy and Numba versions and of the scalar-function
modules the kernels import, under a file name that is a hash of its source. A file is written
once, atomically (a temporary file hard-linked into place, so two processes compiling the same
kernel never see half a file and never replace each other's file, which would invalidate
Numba's index); a second process imports it and Numba loads the compiled code instead of
compiling. Nothing read from a graph file reaches these sources except through the generator's
encodings (dualgraph/runtime/fusion.py), and only files this module wrote are imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

_MODULES: dict[str, ModuleType] = {}
_DIR: list = []  # the resolved cache folder, once


def _version_key() -> str:
    import numba

    from . import fastmath, scalar_math
    h = hashlib.sha256()
    for part in (sys.version, np.__version__, numba.__version__):
        h.update(part.encode())
    for mod in (scalar_math, fastmath):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """The folder kernels are written to (created on first use)."""
    if _DIR:
        return _DIR[0]
    root = os.environ.get("DUALGRAPH_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "dualgraph")
    path = Path(root) / f"kernels-{_version_key()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, delete=True)
        probe.close()
    except OSError:  # an unwritable home: a private folder for this user, still on disk
        path = Path(tempfile.gettempdir()) / f"dualgraph-{os.getuid()}" / path.name
        path.mkdir(parents=True, exist_ok=True)
    _DIR.append(path)
    return path


def load_module(source: str) -> ModuleType:
    """The module whose source is `source`, written to the cache folder if it is not there."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    module = _MODULES.get(digest)
    if module is not None:
        return module
    path = cache_dir() / f"k{digest}.py"
    if not path.exists() or path.read_text() != source:
        _write_once(path, source)
    name = f"dualgraph_kernel_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Numba's cached code finds its globals through this name
    spec.loader.exec_module(module)
    _MODULES[digest] = module
    return module


def _write_once(path: Path, source: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        try:
            os.link(tmp, path)  # fails if another process got there first: keep its file
        except FileExistsError:
            if path.read_text() != source:  # a damaged file (not ours): replace it whole
                os.replace(tmp, path)
                tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
