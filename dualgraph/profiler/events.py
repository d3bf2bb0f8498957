"""Recorded events and their summaries, in the shapes of PyTorch's `FunctionEvent`,
`FunctionEventAvg` and `EventList` (`key_averages()`, `table()`).

Times are in microseconds, as in PyTorch. `self_cpu_time_total` is an event's own time: its
duration less its children's. One row PyTorch does not have: `[Python between ops]`, the time
between top-level events (Python code of the caller that ran no op, no backward node, no
kernel), so the rows' self times add up to the profiled wall time instead of losing it.
"""

from __future__ import annotations

from typing import Any, Iterable

from .. import recording as R

PYTHON_ROW = "[Python between ops]"
SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "count", "cpu_memory_usage",
             "self_cpu_memory_usage")


class FunctionEvent:
    """One recorded range: an op, a backward node, a kernel, a `record_function` block."""

    def __init__(self, id: int, name: str, cat: str, start_ns: int, end_ns: int,
                 input_shapes: list | None, nbytes: int) -> None:
        self.id, self.name, self.cat = id, name, cat
        self.start_ns, self.end_ns = start_ns, end_ns  # integers: sums of times stay exact
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.own_bytes = nbytes
        self.cpu_parent: FunctionEvent | None = None
        self.cpu_children: list[FunctionEvent] = []

    key = property(lambda self: self.name)
    count = property(lambda self: 1)
    start_us = property(lambda self: self.start_ns / 1e3)
    end_us = property(lambda self: self.end_ns / 1e3)

    @property
    def cpu_time_total(self) -> float:
        return (self.end_ns - self.start_ns) / 1e3

    cpu_time = cpu_time_total

    @property
    def self_cpu_time_total(self) -> float:
        children = sum(c.end_ns - c.start_ns for c in self.cpu_children)
        return (self.end_ns - self.start_ns - children) / 1e3

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.own_bytes

    @property
    def cpu_memory_usage(self) -> int:
        return self.own_bytes + sum(c.cpu_memory_usage for c in self.cpu_children)

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_total:.3f}"
                f"us self_cpu_time={self.self_cpu_time_total:.3f}us>")


class FunctionEventAvg:
    """The events of one key (a name, or a name and input shapes) added up."""

    def __init__(self, key: str, input_shapes: list | None = None) -> None:
        self.key = key
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.cpu_parent = None

    def add(self, event: Any) -> "FunctionEventAvg":
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage
        return self

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}"
                f"us cpu_time={self.cpu_time:.3f}us count={self.count}>")


class EventList(list):
    """A list of events (or of averages) that prints PyTorch's table."""

    def __init__(self, events: Iterable = (), *, profile_memory: bool = False,
                 python_us: float = 0.0, python_count: int = 0) -> None:
        super().__init__(events)
        self._profile_memory = profile_memory
        self._python_us, self._python_count = python_us, python_count

    @property
    def self_cpu_time_total(self) -> float:
        """The sum of every row's self time (the table's footer)."""
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape: bool = False) -> "EventList":
        """One row per name (and per input shapes, when asked), plus the Python row."""
        rows: dict = {}
        for e in self:
            key = (e.key, str(e.input_shapes)) if group_by_input_shape else e.key
            row = rows.get(key)
            if row is None:
                row = rows[key] = FunctionEventAvg(
                    e.key, e.input_shapes if group_by_input_shape else None)
            row.add(e)
        out = list(rows.values())
        if self._python_count:
            python = FunctionEventAvg(PYTHON_ROW)
            python.count = self._python_count
            python.cpu_time_total = python.self_cpu_time_total = self._python_us
            out.append(python)
        return EventList(out, profile_memory=self._profile_memory)

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80,
              header: str | None = None, top_level_events_only: bool = False) -> str:
        """PyTorch's profiler table: Name, Self CPU %, Self CPU, CPU total %, CPU total, CPU time
        avg, (CPU Mem, Self CPU Mem,) # of Calls (, Input Shapes), sorted by `sort_by`."""
        from .table import build_table
        return build_table(self, sort_by, row_limit, max_name_column_width,
                           max_shapes_column_width, header, top_level_events_only,
                           self._profile_memory)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        """The table as HTML, for notebooks (`prof.key_averages()` shown in a cell)."""
        from .table import build_html
        return build_html(self, None, 100, self._profile_memory)


def build_events(rec: R.Recorder) -> tuple[EventList, float, int]:
    """The recorder's raw events as FunctionEvents linked to their parents; also the time
    between top-level events (microseconds) and how many such gaps there were."""
    events = [FunctionEvent(i, e[R.NAME], e[R.CAT], e[R.START], e[R.END],
                            e[R.SHAPES], e[R.BYTES]) for i, e in enumerate(rec.events)]
    top_ns = 0
    gaps = 0
    cursor = rec.start_ns
    for raw, event in zip(rec.events, events):
        parent = raw[R.PARENT]
        if parent >= 0:
            event.cpu_parent = events[parent]
            events[parent].cpu_children.append(event)
            continue
        top_ns += raw[R.END] - raw[R.START]
        gaps += raw[R.START] > cursor
        cursor = raw[R.END]
    gaps += rec.stop_ns > cursor
    python_us = (rec.stop_ns - rec.start_ns - top_ns) / 1e3
    return EventList(events, profile_memory=rec.profile_memory, python_us=python_us,
                     python_count=gaps), python_us, gaps
