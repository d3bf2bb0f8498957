"""Scripting before the first call: every scripted function of the script corpus has a generic
graph (typed from its annotations, sizes symbolic) that `.graph`, `.code` and `.save` give
before any call; the saved file, loaded in a fresh process, gives eager's results on fresh
inputs of the generic graph's types. Functions the generic search cannot compile are listed
with the reason, raise NoGenericGraph naming `example_inputs=`, and deploy with it."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from typing import List

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import nn

from .test_script_corpus import CASES, INPLACE_CASES, check_close, python_mode, to_np

script_mod = importlib.import_module("dualgraph.jit.script")

ALL = {name: (case[0], case[1] or case[0], case[2]) for name, case in CASES.items()}
ALL.update({name: (fn, fn, inputs) for name, (fn, inputs) in INPLACE_CASES.items()})
ALL["python_mode"] = (python_mode, python_mode, [(np.array([1.0, -2.0], np.float32), "double")])

# Where the generic search finds no graph, and why (each message must say so):
NO_GENERIC = {
    # a str argument has no tensor type: it is decided when compiling, per value
    "python_mode": "str",
}


def _fit(arg, typ, sizes):
    """An example argument brought to the generic input type `typ`: the corpus's own values
    (so data-dependent loops end as they do there), cast to its dtype, sliced or broadcast to
    its rank, symbols bound consistently across inputs."""
    a = np.asarray(arg.numpy() if isinstance(arg, dg.Tensor) else arg)
    while a.ndim > len(typ.shape):
        a = a[0]
    a = a.reshape((1,) * (len(typ.shape) - a.ndim) + a.shape)
    shape = []
    for want, have in zip(typ.shape, a.shape):
        shape.append(want if isinstance(want, int) else sizes.setdefault(want, have))
    if a.shape != tuple(shape):
        a = np.broadcast_to(a, shape) if all(h in (1, w) for h, w in zip(a.shape, shape)) \
            else np.resize(a, shape)
    return np.array(a, dtype=typ.dtype.np, order="C")  # 0-d stays 0-d


def _generic_inputs(graph, args):
    """The graph's user inputs for one corpus argument tuple, and the eager call's arguments
    (a Python scalar stays one for eager)."""
    sizes: dict = {}
    n_user = graph.meta["user_inputs"]
    arrays, eager_args = [], []
    for v, arg in zip(graph.inputs[:n_user], args):
        a = _fit(arg, v.type, sizes)
        arrays.append(a)
        eager_args.append(arg if isinstance(arg, (bool, int, float)) else dg.from_numpy(a.copy()))
    return arrays, eager_args


GENERIC = [name for name in ALL if name not in NO_GENERIC]

# newton_sqrt iterates to 1e-9, which only float64 reaches (at float32, eager loops forever
# too): its generic graph is made with float64 as the default dtype
DEFAULT_DTYPE = {"newton_sqrt": dg.float64}


def _script_generic(name):
    """The scripted corpus function with its generic graph made (under its default dtype)."""
    fn = ALL[name][0]
    old = dg.get_default_dtype()
    dg.set_default_dtype(DEFAULT_DTYPE.get(name, old))
    try:
        s = dg.jit.script(fn)
        s.generic
    finally:
        dg.set_default_dtype(old)
    return s


@pytest.mark.parametrize("name", GENERIC)
def test_generic_graph_before_the_first_call(name, tmp_path):
    s = _script_generic(name)
    graph = s.graph
    assert graph.meta["generic"] is True
    assert "def " in s.code
    s.save(tmp_path / f"{name}.dgm")
    dg.jit.save(s, tmp_path / f"{name}-2.dgm")
    assert s._forward._last is None if hasattr(s, "_forward") else s._last is None
    assert dg.jit.load(tmp_path / f"{name}.dgm").graph.meta["generic"] is True


@pytest.mark.parametrize("name", list(NO_GENERIC))
def test_functions_without_a_generic_graph_say_why_and_deploy_with_example_inputs(name,
                                                                                  tmp_path):
    fn, ref, inputs = ALL[name]
    s = dg.jit.script(fn)
    with pytest.raises(script_mod.NoGenericGraph) as err:
        s.save(tmp_path / "f.dgm")
    msg = str(err.value)
    assert NO_GENERIC[name] in msg and "example_inputs=" in msg, msg
    args = [dg.from_numpy(a.copy()) if isinstance(a, np.ndarray) else
            [dg.from_numpy(x.copy()) for x in a] if isinstance(a, list) else a
            for a in inputs[0]]
    s2 = dg.jit.script(fn, example_inputs=[tuple(args)])
    s2.save(tmp_path / "f.dgm")  # before any call: the example's signature
    assert "generic" not in s2.graph.meta
    with dg.no_grad():
        check_close(to_np(s2(*args)), to_np(ref(*args)))


def test_generic_graphs_saved_before_any_call_match_eager_in_a_fresh_process(tmp_path):
    plan, expected = [], {}
    for name in GENERIC:
        fn, ref, inputs = ALL[name]
        s = _script_generic(name)
        s.save(tmp_path / f"{name}.dgm")
        graph = s.graph
        for k, args in enumerate(inputs):
            arrays, eager_args = _generic_inputs(graph, args)
            with dg.no_grad():
                expected[f"{name}-{k}"] = to_np(ref(*eager_args))
            files = []
            for j, a in enumerate(arrays):
                np.save(tmp_path / f"{name}-{k}-in{j}.npy", a)
                files.append(f"{name}-{k}-in{j}.npy")
            plan.append((name, k, files))
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    code = textwrap.dedent("""
        import json, numpy as np, dualgraph as dg
        out = {}
        for name, k, files in json.load(open("plan.json")):
            f = dg.jit.load(f"{name}.dgm")
            r = f(*[dg.from_numpy(np.load(p)) for p in files])
            rs = list(r) if isinstance(r, (tuple, list)) else [r]
            out[f"{name}-{k}"] = [np.asarray(t.numpy()).tolist() for t in rs]
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(got) == set(expected)
    for key, exp in expected.items():
        check_close([np.asarray(g) for g in got[key]], exp if isinstance(exp, list) else [exp])


def test_generic_graphs_run_at_two_batch_sizes():
    # sizes the function does not constrain stay symbolic: one graph, several sizes
    for name in ("if_elif_else", "nested_loops", "rows_of_tensor", "bool_ops"):
        fn, ref, _ = ALL[name]
        g = dg.jit.script(fn).generic
        n_user = g.graph.meta["user_inputs"]
        for b in (2, 5):
            sizes: dict = {}
            rng = np.random.default_rng(b)
            arrays = [_fit(rng.normal(size=[b] * len(v.type.shape)), v.type, sizes)
                      for v in g.graph.inputs[:n_user]]
            with dg.no_grad():
                got = to_np(g(*[dg.from_numpy(a.copy()) for a in arrays]))
                check_close(got, to_np(ref(*[dg.from_numpy(a.copy()) for a in arrays])))


# ------------------------------------------------------------------ typing and unification
def annotated(x: dg.Tensor, k: int, s: float, flag: bool = True):
    return x * k + s if flag else x


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 2)

    def forward(self, x):
        return self.lin(x).relu()


def same_size(x, y):
    return (x * y).sum()


def test_annotations_type_the_generic_graph():
    g = dg.jit.script(annotated).graph
    assert str(g).startswith("graph(%x: f32[s0], %k: i64[], %s: f64[], %flag: bool[])"), g
    got = dg.jit.script(annotated).generic(dg.tensor([1.0, 2.0]), dg.tensor(3), dg.tensor(0.5, dtype=dg.float64),
                                           dg.tensor(True))
    np.testing.assert_allclose(got.numpy(), [3.5, 6.5])


def test_default_dtype_types_unannotated_tensors():
    old = dg.get_default_dtype()
    try:
        dg.set_default_dtype(dg.float64)
        assert str(dg.jit.script(same_size).graph).startswith("graph(%x: f64[s0], %y: f64[s0])")
    finally:
        dg.set_default_dtype(old)


def test_sizes_the_function_constrains_are_fixed_and_checked():
    s = dg.jit.script(Classifier())
    assert str(s.graph).startswith("graph(%x: f32[s0, 6], %lin.weight: f32[2, 6]")
    # x * y needs equal sizes: one symbol, so mismatched inputs are refused, never broadcast
    g = dg.jit.script(same_size).generic
    assert str(g.graph).startswith("graph(%x: f32[s0], %y: f32[s0])")
    with pytest.raises(RuntimeError, match="already bound by earlier inputs: s0=3"):
        g(dg.ones(3), dg.ones(4))


def test_calls_still_specialize_and_the_generic_graph_is_cached():
    s = dg.jit.script(Classifier())
    generic = s.generic
    assert s.generic is generic
    x = dg.randn(4, 6)
    with dg.no_grad():
        np.testing.assert_array_equal(s(x).numpy(), s.original(x).numpy())
    assert str(s.graph).startswith("graph(%x: f32[4, 6]")  # the specialization
    assert s.generic is generic
    s.eval()  # another mode: another generic graph, compiled when asked for
    assert s.generic is not generic


def total(xs: List[dg.Tensor]):
    return dg.stack(xs).sum()


def test_no_generic_graph_for_an_unsized_list_argument():
    with pytest.raises(script_mod.NoGenericGraph, match="List.*example_inputs="):
        dg.jit.script(total).graph
    s = dg.jit.script(total, example_inputs=[([dg.ones(2), dg.ones(2)],)])
    assert str(s.graph).startswith("graph(%xs_0: f32[2], %xs_1: f32[2])")
