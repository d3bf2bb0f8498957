"""Arithmetic PyTorch does not implement for bool tensors is refused in every mode, with
PyTorch 2.13's messages, instead of NumPy's silent promotion to int (which left traced code
handing out int arrays labelled bool)."""

from __future__ import annotations

import pytest

import dualgraph as dg

B = [True, False, True]
REFUSED = [
    ("relu", lambda b: dg.relu(b), "Boolean inputs not supported for relu"),
    ("F.relu", lambda b: dg.nn.functional.relu(b), "Boolean inputs not supported for relu"),
    ("pow", lambda b: dg.pow(b, b), "\"pow\" not implemented for 'Bool'"),
    ("addcmul", lambda b: dg.addcmul(b, b, b), "\"addcmul_cpu_out\" not implemented for 'Bool'"),
]


@pytest.mark.parametrize("name,fn,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_eagerly_and_when_traced(name, fn, message):
    b = dg.tensor(B)
    with pytest.raises(RuntimeError, match=message):
        fn(b)
    with pytest.raises(RuntimeError, match=message):
        dg.jit.trace(fn, (b,))


def test_what_pytorch_computes_still_computes():
    b = dg.tensor(B)
    out = dg.pow(b, 2)  # a Python int exponent promotes bool to int64, as in PyTorch
    assert out.dtype == dg.int64 and out.tolist() == [1, 0, 1]
    traced = dg.jit.trace(lambda t: dg.pow(t, 2), (b,))
    got = traced(b)
    assert got.dtype == dg.int64 and got.numpy().dtype.name == "int64"
    assert dg.relu(b.float()).tolist() == [1.0, 0.0, 1.0]
