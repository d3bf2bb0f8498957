"""One training step (forward + backward) eager vs scripted, next to PyTorch's eager step, and
what scripting costs the first time.

What is measured: the wall time of `model(x)` -> loss -> `loss.backward()` (gradients zeroed
between calls) for three models small enough that per-op overhead matters: the tutorials' Net
(784-128-10 MLP, batch 64), a GRU cell run over 16 time steps in a Python `for` loop (batch 8,
hidden 32: eager runs 16 cells; script keeps one `loop` node, compiled forward and compiled
backward), and a data-dependent `while` (Newton's square root, about 6 iterations). Why:
scripting replaces per-op dispatch and tape recording with generated code and a compiled
backward graph, so it should not be slower than eager; the compile time (first call: parse,
compile, autodiff, code generation) should stay well under a second.

How: the three variants of a case are timed interleaved (`repeats` rounds, rotating the order)
with `timeit` (GC off, `number` calibrated to ~50 ms per timing); per-step times are medians.
PyTorch is optional (DUALGRAPH_BENCH_NO_TORCH=1 or no torch: n/a).

    python benchmarks/script_step.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import timeit
from typing import Any, Callable

import numpy as np

import dualgraph as dg

NO_TORCH_ENV = "DUALGRAPH_BENCH_NO_TORCH"
COLUMNS = ("case", "eager ms", "script ms", "torch ms", "script/eager", "script/torch",
           "compile ms")


def _torch() -> Any:
    if os.environ.get(NO_TORCH_ENV):
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---------------------------------------------------------------------------------- models

def net_case(lib: Any) -> tuple:
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            return self.fc2(lib.relu(self.fc1(lib.flatten(x, 1))))

    return Net, (64, 1, 28, 28)


def gru_case(lib: Any) -> tuple:
    nn = lib.nn

    class Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.GRUCell(16, 32)
            self.head = nn.Linear(32, 10)

        def forward(self, xs: Any) -> Any:
            h = lib.zeros(xs.shape[1], 32)
            for x in xs:
                h = self.cell(x, h)
            return self.head(h)

    return Seq, (16, 8, 16)


def newton_case(lib: Any) -> tuple:
    nn = lib.nn

    class Newton(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(lib.ones(256))

        def forward(self, a: Any) -> Any:
            a = a.abs() * self.scale + 1.0
            x = a
            while (x * x - a).abs().max() > 1e-4:
                x = 0.5 * (x + a / x)
            return x

    return Newton, (256,)


CASES = {"Net step (batch 64)": net_case, "GRU cell x16 step": gru_case,
         "Newton while step": newton_case}


def _step(model: Any, x: Any) -> Callable:
    params = list(model.parameters())

    def step() -> None:
        for p in params:
            p.grad = None
        model(x).sum().backward()
    return step


def _calibrate(fn: Callable, target: float) -> int:
    n = 1
    while True:
        t = timeit.timeit(fn, number=n)
        if t >= target / 5 or n > 10_000:
            return max(1, int(n * target / max(t, 1e-9)))
        n *= 4


def run(quick: bool) -> list[dict]:
    torch = _torch()
    target, repeats = (0.005, 3) if quick else (0.05, 7)
    rows = []
    for name, make in CASES.items():
        cls, shape = make(dg)
        dg.manual_seed(0)
        model = cls()
        x = dg.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
        scripted = dg.jit.script(model)
        t0 = time.perf_counter()
        _step(scripted, x)()
        compile_ms = (time.perf_counter() - t0) * 1e3
        steps = {"eager": _step(model, x), "script": _step(scripted, x)}
        if torch is not None:
            tcls, _ = make(torch)
            tmodel = tcls()
            steps["torch"] = _step(tmodel, torch.from_numpy(x.numpy()))
        numbers = {k: _calibrate(f, target) for k, f in steps.items()}
        times: dict = {k: [] for k in steps}
        order = list(steps)
        for r in range(repeats):
            for k in order[r % len(order):] + order[:r % len(order)]:
                times[k].append(timeit.timeit(steps[k], number=numbers[k]) / numbers[k] * 1e3)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"case": name, "eager_ms": med["eager"], "script_ms": med["script"],
                     "torch_ms": med.get("torch"), "compile_ms": compile_ms})
    return rows


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print("one training step (forward + backward), median ms; compile = the first scripted step")
    print(" | ".join(COLUMNS))
    for r in rows:
        ratio_t = None if r["torch_ms"] is None else r["script_ms"] / r["torch_ms"]
        print(" | ".join([r["case"], fmt(r["eager_ms"]), fmt(r["script_ms"]), fmt(r["torch_ms"]),
                          fmt(r["script_ms"] / r["eager_ms"]), fmt(ratio_t),
                          f"{r['compile_ms']:.0f}"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version.split()[0], "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
