"""The profiler's text table, laid out as PyTorch's `_build_table` lays it out: columns 12
wide with two spaces between, the name column as wide as the longest name (at most 55), times as
`12.345us` / `1.234ms` / `1.234s`, percentages of the sum of self times, memory as `B` / `KB` /
`MB` / `GB`, and a footer with that sum."""

from __future__ import annotations

from typing import Any, Sequence

from .events import SORT_KEYS

COLUMN = 12
SPACING = 2


def format_time(us: float) -> str:
    """PyTorch's `_format_time`."""
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def format_share(us: float, total: float) -> str:
    """PyTorch's `_format_time_share`."""
    return "NaN" if total == 0 else f"{us * 100.0 / total:.2f}%"


def format_memory(nbytes: int) -> str:
    """PyTorch's `_format_memory`."""
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _sorted(events: Sequence, sort_by: str | None) -> list:
    if sort_by is None:
        return list(events)
    if sort_by not in SORT_KEYS:
        raise AttributeError(f"table(): cannot sort by {sort_by!r}; dualgraph's CPU profiler "
                             f"sorts by one of {', '.join(SORT_KEYS)}")
    return sorted(events, key=lambda e: getattr(e, sort_by), reverse=True)


def _layout(events: list, name_width: int, shapes_width: int, memory: bool,
            shapes: bool) -> tuple[list, str, str]:
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers.append("# of Calls")
    widths = [min(max(len(e.key) for e in events) + 4, name_width)]
    widths += [COLUMN] * (len(headers) - 1)
    if shapes:
        headers.append("Input Shapes")
        widths.append(min(max(len(str(e.input_shapes)) for e in events) + 4, shapes_width))
    row_format = "".join("{: >" + str(w) + "}" + " " * SPACING for w in widths)
    separator = "".join("-" * w + " " * SPACING for w in widths)
    return headers, row_format, separator


def _row(e: Any, total: float, name_width: int, shapes_width: int, memory: bool,
         shapes: bool) -> list:
    name = e.key
    if len(name) >= name_width - 3:
        name = name[:name_width - 3] + "..."
    values = [name, format_share(e.self_cpu_time_total, total), format_time(e.self_cpu_time_total),
              format_share(e.cpu_time_total, total), format_time(e.cpu_time_total),
              format_time(e.cpu_time)]
    if memory:
        values += [format_memory(e.cpu_memory_usage), format_memory(e.self_cpu_memory_usage)]
    values.append(e.count)
    if shapes:
        values.append(str(e.input_shapes)[:shapes_width])
    return values


def build_table(events: Sequence, sort_by: str | None, row_limit: int, name_width: int,
                shapes_width: int, header: str | None, top_level_only: bool,
                memory: bool) -> str:
    """The table of `events` (FunctionEvents or their averages); see the module docstring."""
    if not events:
        return ""
    rows = _sorted(events, sort_by)
    shapes = any(e.input_shapes for e in rows)
    headers, row_format, separator = _layout(rows, name_width, shapes_width, memory, shapes)
    total = sum(e.self_cpu_time_total for e in rows)
    lines = []
    if header is not None:
        lines += ["=" * (len(separator) - SPACING), header]
    if top_level_only:
        lines += ["=" * (len(separator) - SPACING),
                  "This report only display top-level ops statistics"]
    lines += [separator, row_format.format(*headers), separator]
    shown = 0
    for e in rows:
        if shown == row_limit:
            break
        if top_level_only and e.cpu_parent is not None:
            continue
        shown += 1
        lines.append(row_format.format(*_row(e, total, name_width, shapes_width, memory,
                                             shapes)))
    lines += [separator, f"Self CPU time total: {format_time(total)}"]
    return "\n".join(lines) + "\n"


def build_html(events: Sequence, sort_by: str | None, row_limit: int, memory: bool) -> str:
    """The table of `events` as HTML (a notebook's form of `build_table`): the same columns,
    rows and footer."""
    from .._html import html_table
    if not events:
        return html_table("no events", (), [])
    rows = _sorted(events, sort_by)
    shapes = any(e.input_shapes for e in rows)
    headers, _, _ = _layout(rows, 10 ** 6, 10 ** 6, memory, shapes)
    total = sum(e.self_cpu_time_total for e in rows)
    body = [_row(e, total, 10 ** 6, 10 ** 6, memory, shapes) for e in rows[:row_limit]]
    return html_table(f"Self CPU time total: {format_time(total)}", headers, body)
