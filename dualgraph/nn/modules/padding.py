"""Padding layers (`nn.ZeroPad2d`, `nn.ReflectionPad1d`, ...): `F.pad` with a fixed padding."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..module import Module

__all__ = [f"{kind}Pad{n}d" for kind in ("Zero", "Constant", "Reflection", "Replication",
                                          "Circular") for n in (1, 2, 3)]


class _PadNd(Module):
    """Pads the last n dims by `padding` (an int: the same on every side) in one mode."""

    mode = "constant"
    dims = 1

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        self.padding = (tuple(int(p) for p in padding) if isinstance(padding, (tuple, list))
                        else (int(padding),) * (2 * self.dims))
        if self.mode == "constant":
            self.value = value

    def forward(self, input: Any) -> Any:
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _make(base: type, kind: str, mode: str, n: int) -> type:
    doc = f"Pads the last {n} dim(s) of the input ({mode} mode), as PyTorch's {kind}Pad{n}d."
    return type(f"{kind}Pad{n}d", (base,), {"mode": mode, "dims": n, "__doc__": doc,
                                           "__module__": __name__})


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_make(_ZeroPadNd, "Zero", "constant", n) for n in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (_make(_ConstantPadNd, "Constant", "constant", n)
                                               for n in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_make(_PadNd, "Reflection", "reflect", n)
                                                     for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (
    _make(_PadNd, "Replication", "replicate", n) for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_make(_PadNd, "Circular", "circular", n)
                                               for n in (1, 2, 3))
