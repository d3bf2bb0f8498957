"""Script's scan outputs: a Python list that a compiled loop `.append`s to once per iteration.

`outs = []; for t in range(xs.shape[0]): ...; outs.append(h)` cannot stay a Python list when the
trip count is known only at run time. If the list is empty before the loop and the body adds
exactly one tensor to it (possibly in both arms of a tensor `if`), the item becomes a *scan
output* of the `loop` node — the per-iteration values stacked along a new first axis — and the
name is bound to a `ScannedList` holding that stacked tensor. `dg.stack(outs)` (`torch.stack`,
any `dim`) reads it; every other use (len, indexing, iterating, appending again) raises the
error a list changed in such a loop always had, at the loop's line.
"""

from __future__ import annotations

from typing import Any, Callable

from ..ir.graph import Graph, Value
from ..ir.registry import get
from ..ir.types import FRESH, TensorType

SYM_SIZE = get("sym_size")


class ScannedList:
    """A list filled in a run-time loop, held as its items stacked (the loop's scan output)."""

    __slots__ = ("stacked", "source", "error")

    def __init__(self, stacked: Any, source: list, error: Exception) -> None:
        self.stacked = stacked  # the TracerTensor of the scan output, [iterations, *item]
        self.source = source  # the Python list object the name held before the loop
        self.error = error  # raised by any use but stacking: the loop's own ScriptError

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    __iter__ = __len__ = __getitem__ = __setitem__ = __contains__ = __bool__ = _refuse
    __add__ = __radd__ = __mul__ = __iadd__ = _refuse

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._refuse()


def scanned_in(values: Any) -> list:
    """The ScannedLists among `values` (call arguments)."""
    return [v for v in values if isinstance(v, ScannedList)]


def refuse_scanned(value: Any, depth: int = 0) -> None:
    """Raise the error of the first ScannedList in a returned value (tuples, lists, dicts)."""
    if isinstance(value, ScannedList):
        value._refuse()
    if isinstance(value, (tuple, list)) and depth < 8:
        for x in value:
            refuse_scanned(x, depth + 1)
    elif isinstance(value, dict) and depth < 8:
        for x in value.values():
            refuse_scanned(x, depth + 1)


def call_with_scanned(fn: Callable, args: list, kwargs: dict) -> Any:
    """`dg.stack(outs[, dim])` of a ScannedList: its stacked tensor (moved to `dim`); any other
    call that is given one is refused."""
    from ..methods.indexing import stack
    if fn is stack and args and isinstance(args[0], ScannedList) and set(kwargs) <= {"dim"} \
            and len(args) <= 2 and not scanned_in(args[1:]) and not scanned_in(kwargs.values()):
        dim = args[1] if len(args) == 2 else kwargs.get("dim", 0)
        stacked = args[0].stacked
        if isinstance(dim, int) and not isinstance(dim, bool):
            rank = stacked.dim()
            if not -rank <= dim < rank:
                raise IndexError(f"stack(): dim {dim} is out of range for items of "
                                 f"{rank - 1} dims")
            return stacked if dim % rank == 0 else stacked.movedim(0, dim)
    return (scanned_in(args) or scanned_in(kwargs.values()))[0]._refuse()


def trip_size(trip: Any) -> Any:
    """The size expression of a loop's trip count: an int as it is, a `sym_size` of a graph
    input's symbolic dim as that dim (`T`); None when it is computed otherwise."""
    if isinstance(trip, int):
        return trip
    node = trip.node if isinstance(trip, Value) else None
    if node is not None and node.op is SYM_SIZE and isinstance(node.inputs[0], Value) and \
            isinstance(node.inputs[0].type, TensorType):
        size = node.inputs[0].type.shape[node.attrs["dim"]]
        return size if isinstance(size, str) else None
    return None


def scan_type(graph: Graph, item: TensorType, iterations: Any) -> TensorType:
    """A scan output's type, [iterations, *item]; a fresh symbol of `graph` where the number of
    iterations is known only when the loop ends (None)."""
    lead = FRESH if iterations is None else iterations
    return graph._name_fresh(TensorType(item.dtype, [lead, *item.shape], item.device))
