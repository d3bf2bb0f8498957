"""`dg.utils`: helpers beside the core — `data` (datasets and loaders) and `op_log`."""

from . import data  # noqa: F401
