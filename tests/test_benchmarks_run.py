"""Smoke tests of benchmarks/eager_overhead.py (with and without PyTorch) and
benchmarks/profiler_accuracy.py: they run.

Only the shape of the output is checked, never the timings (they depend on the machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "eager_overhead.py"
HEADER = ("case", "numpy us", "dualgraph us", "torch us", "dg/numpy", "dg/torch")
CASES = ("a + b", "a + b (grad)", "a * b (grad)", "a + 2.0", "a.exp()", "a.sum()", "a @ m",
         "x.view(2, 2)", "a.add_(b)", "(w * x).sum().backward()")
# Runs the script with `import torch` failing, as on a machine without PyTorch.
BLOCK_TORCH = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
               "runpy.run_path(sys.argv[0], run_name='__main__')")


def run_script(tmp_path: Path, how: str) -> tuple[str, dict]:
    """Run the script with --quick in a subprocess; return its stdout and its JSON report."""
    env = {k: v for k, v in os.environ.items() if k != "DUALGRAPH_BENCH_NO_TORCH"}
    if how == "env":
        env["DUALGRAPH_BENCH_NO_TORCH"] = "1"
    prefix = [sys.executable, "-c", BLOCK_TORCH] if how == "import_error" else [sys.executable]
    out = tmp_path / "report.json"
    proc = subprocess.run(prefix + [str(SCRIPT), "--quick", "--json", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text(encoding="utf-8"))


def check_table(stdout: str, report: dict) -> None:
    header = next(line for line in stdout.splitlines() if line.startswith("case"))
    assert [cell.strip() for cell in header.split("|")] == list(HEADER)
    rows = {line.split("|")[0].strip(): line for line in stdout.splitlines() if "|" in line}
    for case in CASES:
        assert case in rows, f"no table row for {case!r}"
    assert "geometric mean dg/torch" in stdout.splitlines()[-1]
    assert set(report["cases"]) == set(CASES)
    assert {"python", "numpy", "dualgraph", "torch"} <= set(report["versions"])
    assert report["cases"]["(w * x).sum().backward()"]["numpy_us"] is None


def test_quick_run(tmp_path: Path) -> None:
    stdout, report = run_script(tmp_path, "plain")
    check_table(stdout, report)


@pytest.mark.parametrize("how", ["env", "import_error"])
def test_quick_run_without_torch(tmp_path: Path, how: str) -> None:
    stdout, report = run_script(tmp_path, how)
    check_table(stdout, report)
    assert report["versions"]["torch"] is None
    assert report["geomean_dg_over_torch"] is None
    for case in CASES:
        row = report["cases"][case]
        assert row["torch_us"] is None and row["dg_over_torch"] is None
        assert row["dualgraph_us"] is not None
    assert stdout.splitlines()[-1].split(":")[1].split()[0] == "n/a"


def test_script_step_quick_run_without_torch(tmp_path: Path) -> None:
    """benchmarks/script_step.py runs (PyTorch blocked) and reports every case."""
    env = {k: v for k, v in os.environ.items() if k != "DUALGRAPH_BENCH_NO_TORCH"}
    env["DUALGRAPH_BENCH_NO_TORCH"] = "1"
    out = tmp_path / "steps.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "script_step.py"),
                           "--quick", "--json", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [r["case"] for r in rows] == ["Net step (batch 64)", "GRU cell x16 step",
                                         "Newton while step"]
    for r in rows:
        assert r["eager_ms"] > 0 and r["script_ms"] > 0 and r["torch_ms"] is None
    assert "n/a" in proc.stdout


def test_profiler_accuracy_quick_run() -> None:
    """benchmarks/profiler_accuracy.py prints one row per mode with a ratio near 1 (the table
    is the profiled wall time) and the Python row's share."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profiler_accuracy.py"),
                           "--quick", "--batch", "4"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| step")]
    assert [r[0].strip() for r in rows] == ["eager", "traced model", "whole step compiled"]
    for _, plain, profiled, ratio, python in rows:
        assert float(plain) > 0 and float(profiled) > 0
        assert float(ratio) == pytest.approx(float(profiled) / float(plain), rel=0.02)
        assert 0 < float(python.strip().rstrip("%")) < 100
