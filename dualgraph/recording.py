"""The event recorder that every layer reports to while `dg.profiler.profile()` is active.

It sits below everything (it imports nothing of dualgraph), so the autograd engine, generated
code and the optimizers can report ranges without importing the profiler. When nothing is being
profiled, `ACTIVE` is None and a reporting site costs one global read: the eager op path costs
nothing at all (the profiler pushes an interpreter on the dispatch stack instead), and compiled
graphs switch to an instrumented copy of their generated function only while a recorder is on.

An event is a list `[name, category, start_ns, end_ns, parent, input_shapes, bytes]`; `parent`
is the index of the enclosing open event (-1 at top level). Times come from `perf_counter_ns`.
"""

from __future__ import annotations

import threading
from time import perf_counter_ns
from typing import Any, Callable

NAME, CAT, START, END, PARENT, SHAPES, BYTES = range(7)


class Recorder:
    """Collects nested timed ranges on one thread, from `start()` to `stop()`."""

    def __init__(self, record_shapes: bool = False, profile_memory: bool = False) -> None:
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.thread = threading.get_ident()
        self.events: list[list] = []
        self.open: list[int] = []
        self.start_ns = self.stop_ns = 0

    def begin(self, name: str, cat: str, shapes: list | None = None) -> int:
        """Open a range; returns its index, to be passed to `end`."""
        index = len(self.events)
        self.events.append([name, cat, perf_counter_ns(), 0,
                            self.open[-1] if self.open else -1, shapes, 0])
        self.open.append(index)
        return index

    def end(self, index: int, nbytes: int = 0) -> None:
        """Close the range `index` (and any left open inside it, as an exception would)."""
        now = perf_counter_ns()
        while self.open and self.open[-1] != index:
            self.events[self.open.pop()][END] = now
        if self.open:
            self.open.pop()
        event = self.events[index]
        event[END] = now
        event[BYTES] = nbytes


ACTIVE: Recorder | None = None


def current() -> Recorder | None:
    """The recorder collecting events on this thread, or None (the common, unprofiled case)."""
    rec = ACTIVE
    return rec if rec is not None and rec.thread == threading.get_ident() else None


def start(rec: Recorder) -> None:
    """Make `rec` the active recorder."""
    global ACTIVE
    if ACTIVE is not None:
        raise RuntimeError("profile(): another profiler is already recording; profilers do not "
                           "nest (leave the first `with profile()` block before starting one)")
    rec.start_ns = perf_counter_ns()
    ACTIVE = rec


def stop(rec: Recorder) -> None:
    """Stop recording; ranges still open (a `record_function` not yet left) end now."""
    global ACTIVE
    now = perf_counter_ns()
    for index in rec.open:
        rec.events[index][END] = now
    rec.open.clear()
    rec.stop_ns = now
    if ACTIVE is rec:
        ACTIVE = None


def _root(a: Any) -> Any:
    """The array owning a's memory: the end of its chain of `.base`s."""
    base = getattr(a, "base", None)
    while base is not None and hasattr(base, "nbytes"):
        a, base = base, getattr(base, "base", None)
    return a


def array_bytes(out: Any, inputs: Any = ()) -> int:
    """Bytes of the arrays in `out` (an array or a tuple/list of them) that are new memory:
    an array that is (a view of) one of `inputs`, or of memory they view, allocated nothing."""
    if isinstance(out, (tuple, list)):
        return sum(array_bytes(x, inputs) for x in out)
    nbytes = getattr(out, "nbytes", None)
    if nbytes is None:
        return 0
    if getattr(out, "base", None) is not None or any(x is out for x in inputs):
        root = _root(out)
        if any(_root(x) is root for x in inputs if hasattr(x, "nbytes")):
            return 0
    return int(nbytes)


def array_shapes(args: Any) -> list:
    """PyTorch's `Input Shapes` entry: each argument's shape as a list, [] for non-arrays."""
    return [list(a.shape) if hasattr(a, "shape") and hasattr(a, "dtype") else [] for a in args]


def timed(name: str, cat: str, fn: Callable) -> Callable:
    """`fn` reporting each call as a range `name` while a recorder is active (generated code's
    instrumented kernels)."""
    def run(*args: Any, **kwargs: Any) -> Any:
        rec = current()
        if rec is None:
            return fn(*args, **kwargs)
        index = rec.begin(name, cat, array_shapes(args) if rec.record_shapes else None)
        try:
            out = fn(*args, **kwargs)
        except BaseException:
            rec.end(index)
            raise
        rec.end(index, array_bytes(out, args) if rec.profile_memory else 0)
        return out
    run.__wrapped__ = fn
    return run
