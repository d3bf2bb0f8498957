"""Deployment: traced models saved to .dgm, loaded in a fresh process that never imports the
model's code, run from the command line, and drawn."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.cli import main

from .test_trace import MLP, rnn_cell_unrolled


def _fresh_process(script: str, cwd) -> str:
    """Run `script` in a new interpreter: only dualgraph and NumPy are importable as usual."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_mlp_and_rnn_load_in_a_fresh_process(tmp_path):
    dg.manual_seed(3)
    model = MLP()
    mlp = dg.jit.trace(model, dg.randn(7, 6), dynamic_dims={0: "B"})
    w_x, w_h, b = dg.randn(4, 8), dg.randn(8, 8), dg.randn(8)
    rnn = dg.jit.trace(lambda xs, h: rnn_cell_unrolled(xs, h, w_x, w_h, b),
                       (dg.randn(5, 3, 4), dg.zeros(3, 8)), dynamic_dims=[{1: "B"}, {0: "B"}])
    mlp.save(tmp_path / "mlp.dgm")
    dg.jit.save(rnn, tmp_path / "rnn.dgm")
    expected = {}
    for batch in (1, 7, 64):
        x, xs, h = dg.randn(batch, 6), dg.randn(5, batch, 4), dg.randn(batch, 8)
        for name, arr in (("x", x), ("xs", xs), ("h", h)):
            np.save(tmp_path / f"{name}{batch}.npy", arr.numpy())
        with dg.no_grad():
            expected[batch] = (model(x).numpy(), rnn_cell_unrolled(xs, h, w_x, w_h, b).numpy())
    _fresh_process("""
        import sys, numpy as np, dualgraph as dg
        assert "tests" not in sys.modules and "tests.test_trace" not in sys.modules
        mlp, rnn = dg.load("mlp.dgm"), dg.jit.load("rnn.dgm")
        for batch in (1, 7, 64):
            x, xs, h = (dg.from_numpy(np.load(f"{n}{batch}.npy")) for n in ("x", "xs", "h"))
            np.save(f"mlp_out{batch}.npy", mlp(x).numpy())
            np.save(f"rnn_out{batch}.npy", rnn(xs, h).numpy())
    """, tmp_path)
    for batch in (1, 7, 64):
        np.testing.assert_allclose(np.load(tmp_path / f"mlp_out{batch}.npy"), expected[batch][0],
                                   rtol=1e-6)
        np.testing.assert_allclose(np.load(tmp_path / f"rnn_out{batch}.npy"), expected[batch][1],
                                   rtol=1e-5, atol=1e-5)  # fused float32 tanh: a few ulps


def test_loaded_function_keeps_buffer_side_effects(tmp_path):
    from .test_trace import Counter
    traced = dg.jit.trace(Counter(), dg.ones(3))
    traced.save(tmp_path / "c.dgm")
    loaded = dg.load(tmp_path / "c.dgm")
    loaded(dg.ones(3))
    loaded(dg.ones(3))
    state = loaded.state_dict()
    assert state["total"].tolist() == [2.0, 2.0, 2.0] and state["calls"].item() == 2.0


def test_cli_show_run_viz(tmp_path, capsys):
    traced = dg.jit.trace(MLP(), dg.randn(2, 6), dynamic_dims={0: "B"})
    path = str(tmp_path / "m.dgm")
    traced.save(path)
    assert main(["show", path]) == 0
    shown = capsys.readouterr().out
    assert "x: f32[B, 6]" in shown and "matmul x2" in shown and "graph(%x" in shown
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = str(tmp_path / "y.npy")
    assert main(["run", path, "--input", str(tmp_path / "x.npy"), "--output", out]) == 0
    with dg.no_grad():
        np.testing.assert_allclose(np.load(out), traced(dg.from_numpy(x)).numpy(), rtol=1e-6)
    assert main(["run", path, "--input", str(tmp_path / "x.npy")]) == 0
    assert "tensor(" in capsys.readouterr().out
    if shutil.which("dot"):
        assert main(["viz", path, "-o", str(tmp_path / "m.svg")]) == 0
        assert "<svg" in (tmp_path / "m.svg").read_text()


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.dgm"
    bad.write_bytes(b"not a zip")
    assert main(["show", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dualgraph show: error:") and "bad.dgm" in err
    traced = dg.jit.trace(lambda x: x * 2, dg.ones(3))
    traced.save(tmp_path / "f.dgm")
    np.save(tmp_path / "wrong.npy", np.ones(4, dtype=np.float32))
    assert main(["run", str(tmp_path / "f.dgm"), "--input", str(tmp_path / "wrong.npy")]) == 1
    assert "expected f32[3]" in capsys.readouterr().err


def test_console_script_runs_the_demo():
    out = subprocess.run([sys.executable, "-m", "dualgraph.cli", "demo"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "tensor(27., grad_fn=<MeanBackward0>)" in out.stdout
    assert "batch 3 through the graph traced at batch 8 equals eager: True" in out.stdout
    assert "loaded output equals: True" in out.stdout


def test_load_refuses_a_file_of_another_kind(tmp_path):
    from dualgraph.serialize import write_dgm
    write_dgm(str(tmp_path / "t.dgm"), "weights-of-the-future", None, {}, {})
    with pytest.raises(dg.SerializationError, match="unknown kind"):
        dg.load(tmp_path / "t.dgm")


def test_every_subpackage_is_in_the_package_list():
    """A regular (not editable) install ships only the packages pyproject.toml lists."""
    import tomllib
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    where = {v: k for k, v in config["tool"]["setuptools"]["package-dir"].items()}
    found = set()
    for top in where:
        for init in (root / top).rglob("__init__.py"):
            rel = init.parent.relative_to(root / top).parts
            found.add(".".join((where[top],) + rel))
    assert found - listed == set(), "add these to [tool.setuptools] packages"
