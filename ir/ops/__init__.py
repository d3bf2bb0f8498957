"""The op definitions, one module per family; importing this package registers them all.

Every module in this package is a family of op records (registered in name order), so a new
family is one new file here plus its kernels in `dualgraph/runtime/kernels/`.
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
