"""`dg.utils`: helpers beside the core — `data` (datasets and loaders), `checkpoint`
(activation checkpointing) and `op_log`."""

from . import checkpoint, data  # noqa: F401
from .op_log import OpCall, OpLogger, op_log

__all__ = ["checkpoint", "data", "op_log", "OpLogger", "OpCall"]
