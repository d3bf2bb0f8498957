"""How faithful the profiler's table is: the MLP training step's time under `dg.profiler`
against the same step unprofiled, for an eager step, a traced model in an eager step, and the
whole step compiled.

What is measured, per mode: the median wall time of one step without the profiler, and the
median of the table's "Self CPU time total" per step (the top-level rows plus the
`[Python between ops]` row: the profiled wall time, by construction) with the profiler on. The
ratio is what the table overstates a step by (the profiler's own cost while recording); the
Python row's share says how much of a step ran no op, kernel or backward node. The issue's
target: the table adds up to the step's wall time within 10%.

How: the two are timed interleaved, `repeats` rounds of `steps` steps each, after a warm-up (the
compiled step traces on its first two calls); one thread for BLAS.

    python benchmarks/profiler_accuracy.py [--repeats 9] [--steps 20] [--batch 64] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import dualgraph as dg  # noqa: E402
from dualgraph import nn, optim  # noqa: E402
from dualgraph.profiler import PYTHON_ROW, profile  # noqa: E402

MODES = ("eager", "traced model", "whole step compiled")


def _make(mode: str, batch: int):
    """The step of one mode as a call of no arguments, on a fresh MLP 784-512-512-10."""
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = dg.randn(batch, 784), dg.randint(0, 10, (batch,))

    def step(m, x, y):
        loss = nn.functional.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    if mode == "eager":
        return lambda: step(model, x, y)
    if mode == "traced model":
        traced = dg.jit.trace(model, x)
        return lambda: step(traced, x, y)
    whole = dg.jit.trace(lambda x, y: step(model, x, y), (x, y))
    return lambda: whole(x, y)


def measure(mode: str, repeats: int, steps: int, batch: int) -> dict:
    """Median unprofiled and profiled step times (us) and the Python row's share."""
    run = _make(mode, batch)
    for _ in range(3):
        run()
    plain, profiled, python = [], [], []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(steps):
            run()
        plain.append((time.perf_counter_ns() - start) / 1e3 / steps)
        with profile() as prof:
            for _ in range(steps):
                run()
        rows = prof.key_averages()
        profiled.append(rows.self_cpu_time_total / steps)
        python.append(sum(r.self_cpu_time_total for r in rows if r.key == PYTHON_ROW)
                      / rows.self_cpu_time_total)
    a, b = statistics.median(plain), statistics.median(profiled)
    return {"mode": mode, "plain_us": a, "profiled_us": b, "ratio": b / a,
            "python_share": statistics.median(python)}


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 steps: a smoke run")
    args = parser.parse_args(argv)
    repeats, steps = (3, 3) if args.quick else (args.repeats, args.steps)
    print(f"MLP 784-512-512-10 training step, batch {args.batch}, median of {repeats} rounds "
          f"of {steps} steps")
    print("| step | unprofiled ms | table total ms | table / wall | Python row |")
    print("|---|---:|---:|---:|---:|")
    for mode in MODES:
        r = measure(mode, repeats, steps, args.batch)
        print(f"| {r['mode']} | {r['plain_us'] / 1e3:.3f} | {r['profiled_us'] / 1e3:.3f} | "
              f"{r['ratio']:.3f} | {100 * r['python_share']:.1f}% |")


if __name__ == "__main__":
    main()
