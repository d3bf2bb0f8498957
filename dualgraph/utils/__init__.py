"""`dg.utils`: helpers beside the core — `data` (datasets and loaders) and `op_log`."""

from . import data  # noqa: F401
from .op_log import OpCall, OpLogger, op_log

__all__ = ["data", "op_log", "OpLogger", "OpCall"]
