"""`dg.amp`: automatic mixed precision — `autocast` regions (op lists in ir/autocast.py) and
`GradScaler` (loss scaling), as `torch.amp` has them."""

from .autocast_mode import (autocast, get_autocast_dtype, is_autocast_cache_enabled,
                            is_autocast_enabled)
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype",
           "is_autocast_cache_enabled"]
