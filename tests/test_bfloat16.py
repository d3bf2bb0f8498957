"""dg.bfloat16: storage in ml_dtypes' bfloat16, arithmetic in float32 rounded back (PyTorch's CPU
kernels), PyTorch's promotion and printing, and the same values from trace and script."""

import subprocess
import sys

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.ir import types as T

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)


def ref(x):
    """The reference rounding: a float32 result rounded to bfloat16 by ml_dtypes."""
    return np.asarray(x, dtype=np.float32).astype(BF16)


def bf(a):
    return dg.tensor(np.asarray(a, dtype=np.float32)).bfloat16()


def same(t, expected):
    assert t.dtype is dg.bfloat16
    got = t.numpy()
    assert got.dtype == BF16
    np.testing.assert_array_equal(got.astype(np.float32), np.asarray(expected).astype(np.float32))


@pytest.mark.parametrize("a, b, out", [
    (T.bfloat16, T.float16, T.float32), (T.bfloat16, T.float32, T.float32),
    (T.bfloat16, T.float64, T.float64), (T.int64, T.bfloat16, T.bfloat16),
    (T.uint8, T.bfloat16, T.bfloat16), (T.bool_, T.bfloat16, T.bfloat16),
    (T.bfloat16, T.bfloat16, T.bfloat16)])
def test_promotion_table(a, b, out):
    assert dg.promote_types(a, b) is out and dg.promote_types(b, a) is out
    x, y = dg.zeros(2, dtype=a), dg.zeros(2, dtype=b)
    assert (x + y).dtype is out


def test_scalars_and_zero_dim_tensors_do_not_widen_bfloat16():
    x = bf([1.0, 2.0])
    assert (x * 2.5).dtype is dg.bfloat16
    assert (x + dg.tensor(1.0)).dtype is dg.bfloat16  # a 0-dim float32 is lower priority


def test_names_methods_and_printing():
    x = dg.tensor([1.0, 2.5, 3.3], dtype=dg.bfloat16)
    assert repr(x) == "tensor([1.0000, 2.5000, 3.2969], dtype=torch.bfloat16)"
    assert repr(dg.bfloat16) == "torch.bfloat16" and dg.bfloat16.is_floating_point
    assert dg.bfloat16.itemsize == 2 and x.element_size() == 2
    assert x.float().dtype is dg.float32 and dg.ones(2).bfloat16().dtype is dg.bfloat16
    assert dg.ones(2).to(dg.bfloat16).dtype is dg.bfloat16
    assert x.type() == "torch.BFloat16Tensor"
    assert dg.nn.Linear(2, 2).bfloat16().weight.dtype is dg.bfloat16
    assert dg.from_numpy(np.ones(2, dtype=BF16)).dtype is dg.bfloat16


def test_finfo_matches_pytorch():
    f = dg.finfo(dg.bfloat16)
    assert (f.bits, f.eps, f.tiny, f.resolution, f.dtype) == (16, 2.0 ** -7, 2.0 ** -126, 0.01,
                                                             "bfloat16")
    assert f.max == float(ml_dtypes.finfo(BF16).max) == 3.3895313892515355e38


def test_elementwise_ops_round_the_float32_result():
    rng = np.random.default_rng(0)
    a = ref(rng.standard_normal((3, 4)))
    b = ref(rng.standard_normal((3, 4)))
    x, y = dg.from_numpy(a), dg.from_numpy(b)
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    same(x + y, ref(fa + fb))
    same(x * y, ref(fa * fb))
    same(x / y, ref(fa / fb))
    same(x.exp(), ref(np.exp(fa)))
    same(x.tanh(), ref(np.tanh(fa)))
    same(x.sigmoid(), ref(1 / (1 + np.exp(-fa))))
    assert (x > y).dtype is dg.bool and np.array_equal((x > y).numpy(), fa > fb)


def test_matmul_linear_einsum_compute_in_float32():
    rng = np.random.default_rng(1)
    a, b = ref(rng.standard_normal((5, 7))), ref(rng.standard_normal((7, 3)))
    bias = ref(rng.standard_normal(3))
    x, w, c = dg.from_numpy(a), dg.from_numpy(b), dg.from_numpy(bias)
    fa, fb, fc = (v.astype(np.float32) for v in (a, b, bias))
    np.testing.assert_allclose((x @ w).float().numpy(), ref(fa @ fb).astype(np.float32),
                               rtol=2 ** -8)
    got = dg.nn.functional.linear(x, w.t(), c)
    np.testing.assert_allclose(got.float().numpy(), ref(fa @ fb + fc).astype(np.float32),
                               rtol=2 ** -8, atol=2 ** -8)
    assert got.dtype is dg.bfloat16
    same(dg.einsum("ij,jk->ik", x, w), ref(np.einsum("ij,jk->ik", fa, fb)))


def test_reductions_and_softmax_accumulate_in_float32():
    # 1 + 256 * 2**-8: a bfloat16 accumulator stays at 1 (each 2**-8 is lost), float32 gets 2
    x = dg.from_numpy(ref(np.r_[1.0, np.full(256, 2.0 ** -8)]))
    assert x.sum().item() == 2.0
    rng = np.random.default_rng(2)
    a = ref(rng.standard_normal((4, 6)))
    fa = a.astype(np.float32)
    t = dg.from_numpy(a)
    same(t.mean(dim=1), ref(fa.mean(axis=1)))
    e = np.exp(fa - fa.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(t.softmax(-1).float().numpy(),
                               ref(e / e.sum(-1, keepdims=True)).astype(np.float32), rtol=2 ** -8)
    assert t.softmax(-1).dtype is dg.bfloat16 and t.max(dim=1).values.dtype is dg.bfloat16


def test_creation_and_autograd():
    r = dg.rand(1000, dtype=dg.bfloat16)
    assert r.dtype is dg.bfloat16 and 0 <= r.min().item() and r.max().item() < 1
    assert dg.randn(3, dtype=dg.bfloat16).dtype is dg.bfloat16
    w = bf([[1.0, 2.0], [3.0, 4.0]]).requires_grad_()
    (w @ bf([1.0, -1.0])).sum().backward()
    assert w.grad.dtype is dg.bfloat16
    same(w.grad, [[1.0, -1.0], [1.0, -1.0]])


def f(x, y):
    return ((x @ y).relu() * 3 + 1).softmax(-1)


def test_trace_and_script_round_like_eager_and_do_not_fuse():
    rng = np.random.default_rng(3)
    x = dg.from_numpy(ref(rng.standard_normal((4, 5))))
    y = dg.from_numpy(ref(rng.standard_normal((5, 3))))
    eager = f(x, y)
    traced = dg.jit.trace(f, (x, y))
    scripted = dg.jit.script(f)
    for out in (traced(x, y), scripted(x, y)):
        assert out.dtype is dg.bfloat16
        np.testing.assert_array_equal(out.float().numpy(), eager.float().numpy())
    assert "bf16[4, 3]" in str(traced.graph)


def test_fused_kernel_refuses_bfloat16_cleanly():
    from dualgraph.runtime.fusion import Unfusable, kernel_source
    from dualgraph.ir.graph import Block
    g = dg.jit.trace(lambda a: (a * 2).exp() + 1, (bf([1.0, 2.0]),)).graph
    fused = [n for n in g.nodes if n.op.region]
    assert fused, str(g)
    body: Block = fused[0].blocks[0]
    with pytest.raises(Unfusable, match="bfloat16"):
        kernel_source(body, "t")


def test_without_ml_dtypes_the_error_names_the_extra():
    code = ("import sys; sys.modules['ml_dtypes'] = None\n"
            "import dualgraph as dg\n"
            "assert dg.promote_types(dg.bfloat16, dg.int8) is dg.bfloat16\n"
            "try:\n    dg.zeros(2, dtype=dg.bfloat16)\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'dualgraph[bfloat16]'" in out.stdout and "ml_dtypes" in out.stdout
