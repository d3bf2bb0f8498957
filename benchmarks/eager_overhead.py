"""Eager per-op-call overhead of dualgraph on tiny tensors, next to NumPy and PyTorch.

What is measured: the wall time of one op call on a 4-element float32 tensor (plus a (4, 4)
matmul, a view, an in-place add and a tiny forward+backward). At this size the arithmetic costs
next to nothing, so the time is almost all per-call overhead: Python-level dispatch, argument
handling, result allocation and, for dualgraph, the `dualgraph.dispatch.bind` funnel that every
eager op call goes through (interpreter, dtype and shape rules, kernel, autograd tape node when
a grad is wanted). Why: that funnel is paid on every call of every eager program, and the
project's issue sets the target at <= 1.5x PyTorch's eager CPU overhead; the last line printed
is the geometric mean of dualgraph / torch over the cases.

How: per case the libraries are timed interleaved (numpy, dualgraph, torch, then again,
`repeats` times, rotating which goes first) so that load changes on a shared machine hit all of
them alike. Each timing is `timeit.Timer(stmt, globals=...).timeit(number)` (time.perf_counter,
GC off) with `number` calibrated so that one timing lasts ~30 ms; the reported per-call time is
the median over the repeats. The statement is compiled into timeit's loop rather than wrapped
in a lambda, so no extra Python function call is counted for any library.

NumPy runs the same expression where it has one (grad cases run the plain NumPy expression; it
has no backward: n/a). PyTorch is optional: without it, or with DUALGRAPH_BENCH_NO_TORCH=1, its
columns read n/a.

    python benchmarks/eager_overhead.py [--quick] [--repeats N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import timeit
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

import dualgraph as dg

NO_TORCH_ENV = "DUALGRAPH_BENCH_NO_TORCH"
LIBS = ("numpy", "dualgraph", "torch")
COLUMNS = ("case", "numpy us", "dualgraph us", "torch us", "dg/numpy", "dg/torch")
TARGET_S = {"full": 0.030, "quick": 0.002}  # seconds one timing should last
REPEATS = {"full": 7, "quick": 3}
WARMUP_CALLS = 20


@dataclass(frozen=True)
class Case:
    """One benchmarked expression over the operands of `operands` (a, b, m, x, w)."""

    name: str
    stmt: str  # the expression run in dualgraph and torch
    numpy_stmt: str | None  # the same in NumPy; None where NumPy has no counterpart
    grad: bool = False  # whether `a` requires grad (dualgraph and torch only)


CASES: tuple[Case, ...] = (
    Case("a + b", "a + b", "a + b"),
    Case("a + b (grad)", "a + b", "a + b", grad=True),
    Case("a * b (grad)", "a * b", "a * b", grad=True),
    Case("a + 2.0", "a + 2.0", "a + 2.0"),
    Case("a.exp()", "a.exp()", "np.exp(a)"),
    Case("a.sum()", "a.sum()", "a.sum()"),
    Case("a @ m", "a @ m", "a @ m"),
    Case("x.view(2, 2)", "x.view(2, 2)", "x.reshape(2, 2)"),
    Case("a.add_(b)", "a.add_(b)", "np.add(a, b, out=a)"),
    Case("(w * x).sum().backward()", "(w * x).sum().backward()", None),
)


def load_torch() -> ModuleType | None:
    """PyTorch if it imports and is not switched off with DUALGRAPH_BENCH_NO_TORCH=1."""
    if os.environ.get(NO_TORCH_ENV, "") not in ("", "0"):
        return None
    try:
        import torch
    except (ImportError, OSError):  # OSError: an install whose native libraries fail to load
        return None
    return torch


def ones(lib: str, mod: ModuleType, *shape: int, grad: bool = False) -> Any:
    """A float32 tensor (NumPy array) of ones; `grad` is ignored by NumPy."""
    if lib == "numpy":
        return np.ones(shape, dtype=np.float32)
    return mod.ones(*shape, dtype=mod.float32, requires_grad=grad)


def operands(lib: str, mod: ModuleType, grad: bool) -> dict[str, Any]:
    """Fresh operands for one case: a, b, x of shape (4,), m of (4, 4), w of (4,) with grad."""
    return {"np": np, "a": ones(lib, mod, 4, grad=grad), "b": ones(lib, mod, 4),
            "m": ones(lib, mod, 4, 4), "x": ones(lib, mod, 4), "w": ones(lib, mod, 4, grad=True)}


def calibrate(timer: timeit.Timer, target_s: float) -> int:
    """A loop count for which `timer.timeit(number)` lasts about `target_s`."""
    timer.timeit(WARMUP_CALLS)  # first calls pay one-off costs (lazy init, caches) to skip
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= target_s / 5:
            return max(1, round(number * target_s / elapsed))
        number *= 4


def time_case(case: Case, libs: dict[str, ModuleType], repeats: int,
              target_s: float) -> dict[str, float | None]:
    """Median seconds per call of `case` in each of LIBS (None where it was not run)."""
    timers = {}
    for lib, mod in libs.items():
        stmt = case.numpy_stmt if lib == "numpy" else case.stmt
        if stmt is not None:
            timers[lib] = timeit.Timer(stmt, globals=operands(lib, mod, case.grad))
    numbers = {lib: calibrate(timer, target_s) for lib, timer in timers.items()}
    samples: dict[str, list[float]] = {lib: [] for lib in timers}
    order = list(timers)
    for r in range(repeats):
        shift = r % len(order)
        for lib in order[shift:] + order[:shift]:  # interleaved, first place rotating
            samples[lib].append(timers[lib].timeit(numbers[lib]) / numbers[lib])
    return {lib: statistics.median(samples[lib]) if lib in samples else None for lib in LIBS}


def ratio(num: float | None, den: float | None) -> float | None:
    """num / den, or None where either is missing."""
    return None if num is None or den is None else num / den


def measure(case: Case, libs: dict[str, ModuleType], repeats: int,
            target_s: float) -> dict[str, Any]:
    """One table row: per-call medians in microseconds and the dualgraph ratios."""
    seconds = time_case(case, libs, repeats, target_s)
    us = {lib: None if s is None else s * 1e6 for lib, s in seconds.items()}
    return {"case": case.name, "numpy_us": us["numpy"], "dualgraph_us": us["dualgraph"],
            "torch_us": us["torch"], "dg_over_numpy": ratio(us["dualgraph"], us["numpy"]),
            "dg_over_torch": ratio(us["dualgraph"], us["torch"])}


def geomean(values: list[float]) -> float | None:
    """Geometric mean of positive values; None for none."""
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else None


def fmt(value: float | None, spec: str) -> str:
    """A table cell: the formatted value, or n/a."""
    return "n/a" if value is None else format(value, spec)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table with the COLUMNS header."""
    width = max(len(COLUMNS[0]), *(len(row["case"]) for row in rows))
    widths = [width] + [max(len(c), 8) for c in COLUMNS[1:]]
    lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(COLUMNS, widths)))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in rows:
        cells = [fmt(row["numpy_us"], ".3f"), fmt(row["dualgraph_us"], ".3f"),
                 fmt(row["torch_us"], ".3f"), fmt(row["dg_over_numpy"], ".2f"),
                 fmt(row["dg_over_torch"], ".2f")]
        lines.append(" | ".join([row["case"].ljust(width)]
                                + [c.rjust(w) for c, w in zip(cells, widths[1:])]))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Eager per-op-call overhead of dualgraph vs NumPy and PyTorch.")
    parser.add_argument("--quick", action="store_true",
                        help="short timings and 3 repeats (a smoke run; the numbers are noisy)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timings per library and case; the median is reported (default 7)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON to PATH")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    repeats = args.repeats or REPEATS[mode]
    torch = load_torch()
    libs = {"numpy": np, "dualgraph": dg, **({"torch": torch} if torch else {})}
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "dualgraph": dg.__version__, "torch": torch.__version__ if torch else None}
    print("eager per-op overhead, median of", repeats, "timings per cell, microseconds per call")
    print("  ".join(f"{name} {version or 'n/a'}" for name, version in versions.items()))
    rows = [measure(case, libs, repeats, TARGET_S[mode]) for case in CASES]
    print(format_table(rows))
    dg_torch = [row["dg_over_torch"] for row in rows if row["dg_over_torch"] is not None]
    mean = geomean(dg_torch)
    print(f"geometric mean dg/torch over {len(dg_torch)} cases: {fmt(mean, '.2f')}"
          " (target <= 1.5)")
    if args.json:
        report = {"versions": versions, "mode": mode, "repeats": repeats,
                  "cases": {row.pop("case"): row for row in rows},
                  "geomean_dg_over_torch": mean}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
