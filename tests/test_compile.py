"""`dg.compile` (torch.compile's entry point): script first, trace where script refuses the
source, eager with one warning where both refuse (an error with fullgraph=True), PyTorch's
OptimizedModule state-dict prefix and its argument checks; results equal eager's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualgraph as dg


def _mlp():
    dg.manual_seed(0)
    return dg.nn.Sequential(dg.nn.Linear(4, 8), dg.nn.ReLU(), dg.nn.Linear(8, 2))


def _loop(x):
    while x.abs().max() > 1:  # data-dependent control flow: script keeps it
        x = x / 2
    return x


def _comprehension(x):
    return [t * 2 for t in x.unbind(0)]  # a comprehension: script refuses, trace takes it


def test_module_compiles_by_script_and_trains_like_eager():
    m = _mlp()
    c = dg.compile(m)
    assert isinstance(c, dg.OptimizedModule) and isinstance(c, dg.nn.Module)
    assert list(c.state_dict()) == ["_orig_mod." + k for k in m.state_dict()]  # PyTorch's keys
    assert c._orig_mod is m
    assert c.training and m[0].weight is c._orig_mod[0].weight
    for batch in (5, 9):  # one graph for every batch size
        x = dg.randn(batch, 4)
        out = c(x)
        out.sum().backward()
        grads = [p.grad.numpy().copy() for p in m.parameters()]
        m.zero_grad()
        ref = m(x)
        ref.sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
        for g, p in zip(grads, m.parameters()):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-6)
        m.zero_grad()
    assert c.compiled_with == "script"


def test_data_dependent_loop_stays_compiled():
    f = dg.compile(_loop)
    x = dg.tensor([8.0, -3.0])
    np.testing.assert_allclose(f(x).numpy(), _loop(x).numpy())
    assert f._dg_compiled.how == "script"


def test_script_refusal_falls_back_to_trace_without_a_warning():
    f = dg.compile(_comprehension)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = f(dg.ones(2, 3))
    assert f._dg_compiled.how == "trace" and "comprehension" in f._dg_compiled.why.lower()
    for a, b in zip(got, _comprehension(dg.ones(2, 3))):
        assert np.array_equal(a.numpy(), b.numpy())
    assert len(f(dg.ones(4, 3))) == 4  # unbind needs the size: each batch size its own trace


def test_both_refusing_runs_eagerly_with_one_warning_naming_the_line():
    f = dg.compile(_comprehension_then_item)
    with pytest.warns(RuntimeWarning, match=r"runs eagerly: .*test_compile.py:\d+"):
        got = f(dg.tensor([1.0, 2.0]))
    np.testing.assert_allclose(got.numpy(), [3.0, 6.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not per call
        np.testing.assert_allclose(f(dg.tensor([1.0, 1.0])).numpy(), [2.0, 2.0])


def _comprehension_then_item(x):
    parts = [t for t in x.unbind(0)]  # script refuses the comprehension
    return x * int(sum(p.item() for p in parts))  # trace refuses .item()


def test_fullgraph_refuses_to_run_eagerly():
    f = dg.compile(_comprehension_then_item, fullgraph=True)
    with pytest.raises(RuntimeError, match=r"fullgraph=True.*cannot be captured whole"):
        f(dg.tensor([1.0, 2.0]))


def test_decorator_forms_disable_and_backend_eager():
    @dg.compile
    def a(x):
        return x.relu() + 1

    @dg.compile(mode="max-autotune", dynamic=False)
    def b(x):
        return x * 3

    x = dg.tensor([-1.0, 2.0])
    assert a(x).tolist() == [1.0, 3.0] and b(x).tolist() == [-3.0, 6.0]
    assert a.__name__ == "a"
    assert dg.compile(_loop, disable=True) is _loop
    e = dg.compile(_loop, backend="eager")
    assert e(dg.tensor([4.0])).tolist() == [1.0] and e._dg_compiled.how == "eager"
    lite = dg.compile(_loop, mode="lite")
    assert lite(dg.tensor([4.0])).tolist() == [1.0]
    assert lite._dg_compiled.scripted.opt_level == 1


def test_eval_mode_recompiles():
    dg.manual_seed(0)
    m = dg.nn.Sequential(dg.nn.Linear(4, 4), dg.nn.Dropout(0.5))
    c = dg.compile(m)
    x = dg.ones(3, 4)
    c.eval()
    with dg.no_grad():
        assert np.array_equal(c(x).numpy(), m(x).numpy())  # no dropout in eval mode


@pytest.mark.parametrize("kwargs,error,match", [
    ({"backend": "nope"}, RuntimeError, "Invalid backend: 'nope'"),
    ({"backend": print}, TypeError, "torch.fx backend"),
    ({"mode": "fast"}, RuntimeError, "Unrecognized mode=fast, should be one of: default"),
    ({"options": {"triton.cudagraphs": True}}, RuntimeError, "no inductor options"),
    ({"mode": "default", "options": {}}, RuntimeError, "Either mode or options"),
    ({"dynamic": "yes"}, TypeError, "dynamic must be None, True or False"),
])
def test_pytorchs_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        dg.compile(_loop, **kwargs)


def test_not_callable():
    with pytest.raises(RuntimeError, match="expected a callable"):
        dg.compile(3)
