"""`dualgraph as-torch script.py [args]`: run an unmodified PyTorch script on dualgraph.

An import hook maps `torch` and every `torch.<sub>` to `dualgraph` and `dualgraph.<sub>`. Only
this command installs it — importing dualgraph never touches `sys.meta_path` — so a user tries a
tutorial file as it is. A submodule or name dualgraph lacks fails with an error naming it;
torch's companion packages (torchvision, torchaudio, torchtext) are out of scope and fail with a
message saying so. As `python script.py` does, the script's directory comes first on `sys.path`,
so the modules beside it import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import multiprocessing
import os
import runpy
import sys
from typing import Any, Sequence


# torch's companion packages: a real copy would import the real torch (here: dualgraph) and fail
# somewhere inside, so they are refused at the import with what to do instead.
OUT_OF_SCOPE = {
    "torchvision": "its datasets, transforms and models (build the data as tensors, e.g. "
                   "dualgraph.utils.data.TensorDataset over synthetic or NumPy-loaded images, and "
                   "write transforms as tensor operations)",
    "torchaudio": "its audio I/O and transforms (load audio with another library into NumPy "
                  "arrays and wrap them with torch.from_numpy)",
    "torchtext": "its datasets and tokenizers (tokenize in plain Python and build the tensors "
                 "yourself)",
}


def _top(fullname: str) -> str:
    return fullname.partition(".")[0]


class TorchAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves `torch[.x]` to the already-importable `dualgraph[.x]` module object, and refuses
    torch's companion packages (torchvision, ...) with a message saying what to do."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if _top(fullname) not in ("torch", *OUT_OF_SCOPE):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> Any:
        top = _top(spec.name)
        if top in OUT_OF_SCOPE:
            raise ModuleNotFoundError(
                f"{top} is out of dualgraph's scope: `dualgraph as-torch` runs torch code on "
                f"dualgraph, but provides no {top} (the script imports {spec.name!r}). Replace "
                f"{OUT_OF_SCOPE[top]}, or run this script with PyTorch.", name=spec.name)
        target = "dualgraph" + spec.name[len("torch"):]
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                f"dualgraph has no module {target!r} (the script imports {spec.name!r}, which "
                "dualgraph does not provide)", name=spec.name) from None

    def exec_module(self, module: Any) -> None:
        """The dualgraph module is already executed."""


def run(script: str, args: Sequence[str]) -> int:
    """Run `script` as __main__ with `torch` resolving to dualgraph; returns the exit status."""
    finder = TorchAliasFinder()
    sys.meta_path.insert(0, finder)
    old_argv, old_path = sys.argv, list(sys.path)
    old_method = multiprocessing.get_start_method(allow_none=True)
    sys.argv = [script, *args]
    # `python script.py` puts the script's directory (symlinks resolved) first on sys.path
    sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
    # a spawned child (DataLoader workers) would re-import the script without this hook: fork
    if old_method is None and "fork" in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method("fork")
    try:
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        sys.path[:] = old_path
        multiprocessing.set_start_method(old_method, force=True)
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
            del sys.modules[name]
