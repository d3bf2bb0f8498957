"""The benchmark runner: every case x every column, measured in one run, medians and ratios.

Each column (NumPy by hand, dualgraph eager / O0 / O3, PyTorch eager, torch.compile, jax.jit)
runs in a worker process of its own, started with the same thread settings (BLAS, OpenMP and
Numba pools pinned to `--threads`, through environment variables and threadpoolctl when it is
installed), so no library's thread pool spins against another's in one process. The workers
are timed in rounds, the column order rotating each round, so machine drift hits all columns
alike. First-call time (capture, passes and code generation for compiled columns) is reported
apart from the steady-state median.

    python benchmarks/run.py                         # every case, the markdown table
    python benchmarks/run.py --quick                 # small sizes, 3 rounds: a smoke run
    python benchmarks/run.py --cases MLP,softmax     # cases whose name contains a word
    python benchmarks/run.py --columns numpy,dg-O3   # a subset of the columns
    python benchmarks/run.py --json out.json         # also the numbers for machines
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cases import COLUMNS, cases  # noqa: E402

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "XLA_FLAGS")


def _available(column: str) -> str | None:
    """None if the column can run here, else why not."""
    if column == "dg-C":
        import shutil
        return None if shutil.which(os.environ.get("CC", "cc")) and shutil.which("make") \
            else "no C compiler or make"
    module = {"torch": "torch", "torch-compile": "torch", "jax-jit": "jax"}.get(column)
    if module is None:
        return None
    if os.environ.get("DUALGRAPH_BENCH_NO_TORCH") and module == "torch":
        return "DUALGRAPH_BENCH_NO_TORCH is set"
    import importlib.util
    return None if importlib.util.find_spec(module) else f"{module} is not installed"


# ------------------------------------------------------------------------------------- worker

def _pin_threads(threads: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:  # optional: the worker's environment variables already pin the pools
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _time_per_call(fn: Any, target_s: float) -> float:
    """Seconds per call: calibrate the count so one timing lasts about `target_s`."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s or number >= 1 << 20:
            return elapsed / number
        number = max(number * 2, int(number * target_s / max(elapsed, 1e-9)))


def worker(column: str, quick: bool, threads: int) -> None:
    """Serve `setup` and `time` requests (JSON lines on stdin) for one column."""
    if column.startswith("torch"):
        import torch  # noqa: F401  (so _pin_threads reaches its pool)
    _pin_threads(threads)
    table = cases(quick)
    current: dict = {}
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict = {}
        try:
            if request["cmd"] == "setup":
                current.clear()
                gc.collect()
                fn = table[request["case"]](column)
                if fn is None:
                    reply = {"ok": False, "why": "not applicable"}
                else:
                    start = time.perf_counter()
                    fn()
                    first = time.perf_counter() - start
                    fn()  # warm caches and allocators before timing
                    current["fn"] = fn
                    reply = {"ok": True, "first_s": first}
            elif request["cmd"] == "time":
                gc.disable()
                try:
                    reply = {"ok": True, "s": _time_per_call(current["fn"], request["target_s"])}
                finally:
                    gc.enable()
            else:
                return
        except Exception as exc:  # report the failure as this cell's value, keep serving
            reply = {"ok": False, "why": f"{type(exc).__name__}: {exc}"[:300]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# ------------------------------------------------------------------------------------- parent

class _Worker:
    def __init__(self, column: str, quick: bool, threads: int) -> None:
        env = dict(os.environ)
        for var in _THREAD_VARS[:-1]:
            env[var] = str(threads)
        env["PYTHONHASHSEED"] = "0"
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", column,
             "--threads", str(threads)] + (["--quick"] if quick else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, **request: Any) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"ok": False, "why": "worker died"}

    def close(self) -> None:
        try:
            self.ask(cmd="quit")
        except (BrokenPipeError, ValueError):  # the worker already exited: nothing to ask
            pass
        self.proc.wait(timeout=30)


def run(case_names: list, columns: list, quick: bool, rounds: int, threads: int,
        target_s: float) -> dict:
    """Measure every case in every column; returns the results as a dict (see --json)."""
    skipped = {c: why for c in columns if (why := _available(c))}
    live = [c for c in columns if c not in skipped]
    workers = {c: _Worker(c, quick, threads) for c in live}
    results: dict = {}
    try:
        for name in case_names:
            row: dict = {}
            for c in live:
                reply = workers[c].ask(cmd="setup", case=name)
                row[c] = {"first_s": reply.get("first_s"), "times": [],
                          "why": None if reply["ok"] else reply["why"]}
            ready = [c for c in live if row[c]["why"] is None]
            for r in range(rounds):
                order = ready[r % len(ready):] + ready[:r % len(ready)] if ready else []
                for c in order:
                    reply = workers[c].ask(cmd="time", target_s=target_s)
                    if reply["ok"]:
                        row[c]["times"].append(reply["s"])
                    else:
                        row[c]["why"] = reply["why"]
            for c in columns:
                cell = row.get(c, {"first_s": None, "times": [], "why": skipped.get(c)})
                cell["median_s"] = statistics.median(cell["times"]) if cell["times"] else None
                row[c] = cell
            results[name] = row
            print(f"  measured: {name}", file=sys.stderr)
    finally:
        for w in workers.values():
            w.close()
    return {"versions": _versions(), "threads": threads, "rounds": rounds, "quick": quick,
            "columns": columns, "cases": results}


def _versions() -> dict:
    found = {"python": platform.python_version(), "machine": platform.machine()}
    for mod in ("numpy", "dualgraph", "torch", "jax", "numba"):
        try:
            found[mod] = __import__(mod).__version__
        except Exception:
            found[mod] = None
    return found


def _fmt_ms(s: float | None) -> str:
    if s is None:
        return "—"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def markdown(data: dict) -> str:
    """The README's table: medians in ms per column, then dg-O3 against the others."""
    columns = data["columns"]
    ratio_to = [c for c in ("numpy", "dg-eager", "torch", "torch-compile", "jax-jit")
                if c in columns]
    c_ratio_to = [c for c in ("dg-O3", "torch") if c in columns] if "dg-C" in columns else []
    head = ["case"] + [f"{c} ms" for c in columns] + [f"O3 / {c}" for c in ratio_to] \
        + [f"C / {c}" for c in c_ratio_to] + ["O3 first call ms"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for name, row in data["cases"].items():
        o3 = row.get("dg-O3", {}).get("median_s")
        cells = [name] + [_fmt_ms(row[c]["median_s"]) for c in columns]
        for c in ratio_to:
            other = row[c]["median_s"]
            cells.append(f"{o3 / other:.2f}" if o3 and other else "—")
        c_time = row.get("dg-C", {}).get("median_s")
        for c in c_ratio_to:
            other = row[c]["median_s"]
            cells.append(f"{c_time / other:.2f}" if c_time and other else "—")
        cells.append(_fmt_ms(row.get("dg-O3", {}).get("first_s")))
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({f"{c}: {row[c]['why'].splitlines()[0][:120]}" for row in data["cases"].values() for c in columns
                    if row[c]["why"] and row[c]["why"] != "not applicable"})
    if notes:
        lines += ["", "Not measured: " + "; ".join(notes[:12])]
    return "\n".join(lines)


def main(argv: list | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes and 3 rounds")
    p.add_argument("--cases", default="", help="comma-separated words; a case runs if its "
                                               "name contains one")
    p.add_argument("--columns", default=",".join(COLUMNS))
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.quick, args.threads)
        return 0
    columns = [c for c in args.columns.split(",") if c]
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        p.error(f"unknown columns {unknown}; choose from {list(COLUMNS)}")
    words = [w.strip().lower() for w in args.cases.split(",") if w.strip()]
    names = [n for n in cases(args.quick) if not words or any(w in n.lower() for w in words)]
    if not names:
        p.error(f"no case matches {args.cases!r}")
    rounds = args.rounds or (3 if args.quick else 7)
    data = run(names, columns, args.quick, rounds, args.threads,
               0.02 if args.quick else 0.2)
    print(markdown(data))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
