"""`dg.cuda.amp` and `dg.cpu.amp`: PyTorch's older spellings of `dg.amp.autocast` and
`dg.amp.GradScaler` for one device, kept (with PyTorch's FutureWarning) so programs run."""

from __future__ import annotations

import types
import warnings
from typing import Any

from ..ir.types import DType, bfloat16, float16
from .autocast_mode import autocast as _autocast
from .grad_scaler import GradScaler as _GradScaler


def _warn(device: str, name: str) -> None:
    warnings.warn(f"`torch.{device}.amp.{name}(args...)` is deprecated. Please use "
                  f"`torch.amp.{name}('{device}', args...)` instead.", FutureWarning,
                  stacklevel=3)


def _namespace(device: str, default: DType) -> types.SimpleNamespace:
    class autocast(_autocast):
        __doc__ = f"`dg.amp.autocast('{device}', ...)` under its deprecated name."

        def __init__(self, enabled: bool = True, dtype: DType = default,
                     cache_enabled: bool = True) -> None:
            _warn(device, "autocast")
            super().__init__(device, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class GradScaler(_GradScaler):
        __doc__ = f"`dg.amp.GradScaler('{device}', ...)` under its deprecated name."

        def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                     backoff_factor: float = 0.5, growth_interval: int = 2000,
                     enabled: bool = True) -> None:
            _warn(device, "GradScaler")
            super().__init__(device, init_scale, growth_factor, backoff_factor,
                             growth_interval, enabled)

    return types.SimpleNamespace(autocast=autocast, GradScaler=GradScaler)


cuda = _namespace("cuda", float16)
cpu = _namespace("cpu", bfloat16)


def namespace(device: str) -> Any:
    """The `amp` attribute of `dg.cuda` / `dg.cpu`."""
    return cuda if device == "cuda" else cpu
