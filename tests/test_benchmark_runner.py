"""Smoke test of benchmarks/run.py: one small case through the worker processes, the table and
the JSON. Only the shape of the output is checked, never the timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "run.py"


def test_runner_measures_a_case_in_each_column(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--rounds", "2", "--cases", "chain,MLP inf",
         "--columns", "numpy,dg-eager,dg-O0,dg-O3", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert set(data["cases"]) == {"elementwise chain, 4M", "MLP inference 784-512-512-10, b256"}
    chain = data["cases"]["elementwise chain, 4M"]
    for column in ("numpy", "dg-eager", "dg-O0", "dg-O3"):
        assert chain[column]["why"] is None and len(chain[column]["times"]) == 2
        assert chain[column]["median_s"] > 0
    mlp = data["cases"]["MLP inference 784-512-512-10, b256"]
    assert mlp["numpy"]["why"] == "not applicable" and mlp["dg-O3"]["first_s"] > 0
    table = proc.stdout.splitlines()
    assert table[0].startswith("| case | numpy ms | dg-eager ms | dg-O0 ms | dg-O3 ms |")
    assert any(line.startswith("| elementwise chain, 4M |") for line in table)


def test_runner_refuses_unknown_columns():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--columns", "numpy,tensorflow"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown columns ['tensorflow']" in proc.stderr
