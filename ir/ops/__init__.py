"""The op definitions, one module per family; importing this package registers them all."""

from . import elementwise, reduction, shape, special  # noqa: F401  (registration side effects)
