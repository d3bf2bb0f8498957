"""The Chrome trace: the JSON trace-event format that Perfetto and chrome://tracing open.

One complete event (`"ph": "X"`) per recorded range with `name`, `cat`, `ts` and `dur` (in
microseconds), `pid` and `tid`; `args` carries the input shapes (`Input Dims`) and the bytes the
range allocated when they were recorded. Metadata events (`"ph": "M"`) name the process and the
thread. Children lie inside their parents, so the viewers draw the nesting.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Sequence


def trace_events(events: Sequence, thread: int) -> list[dict]:
    """The trace-event list of `events` (FunctionEvents) recorded on `thread`."""
    pid = os.getpid()
    tid = thread & 0x7FFFFFFF  # viewers read tids as 32-bit integers
    first = min((e.start_us for e in events), default=0.0)
    out: list[dict] = [
        {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "ts": first,
         "args": {"name": "python"}},
        {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "ts": first,
         "args": {"name": f"thread {tid} (python)"}},
    ]
    for e in events:
        args: dict[str, Any] = {}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.own_bytes:
            args["Bytes allocated"] = e.own_bytes
        out.append({"ph": "X", "cat": e.cat, "name": e.name, "pid": pid, "tid": tid,
                    "ts": round(e.start_ns / 1e3, 3), "dur": (e.end_ns - e.start_ns) / 1e3,
                    "args": args})
    return out


def write_trace(path: str | Path, events: Sequence, thread: int, meta: dict) -> str:
    """Write the trace of `events` to `path` as JSON; returns the path."""
    doc = {"schemaVersion": 1, "displayTimeUnit": "ms", "host_name": socket.gethostname(),
           "traceName": str(path), **meta, "traceEvents": trace_events(events, thread)}
    Path(path).write_text(json.dumps(doc), encoding="utf-8")
    return str(path)
