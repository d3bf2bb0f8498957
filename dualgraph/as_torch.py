"""`dualgraph as-torch script.py [args]`: run an unmodified PyTorch script on dualgraph.

An import hook maps `torch` and every `torch.<sub>` to `dualgraph` and `dualgraph.<sub>`. Only
this command installs it — importing dualgraph never touches `sys.meta_path` — so a user tries a
tutorial file as it is. A submodule or name dualgraph lacks fails with an error naming it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import runpy
import sys
from typing import Any, Sequence


class TorchAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves `torch[.x]` to the already-importable `dualgraph[.x]` module object."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> Any:
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
    old_argv = sys.argv
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
            del sys.modules[name]
