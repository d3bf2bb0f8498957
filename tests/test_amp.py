"""dg.amp: autocast's op lists and regions (eager, trace, script), GradScaler's algorithm with
explicit numbers, the deprecated cuda/cpu spellings, and dg.serialization's safe globals."""

import warnings

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.ir import registry
from dualgraph.ir.autocast import FP32, LOWER, POLICIES
from dualgraph.utils import op_log

pytest.importorskip("ml_dtypes")
NO_CUDA = not dg.cuda.is_available()


def test_every_listed_op_is_a_registry_op():
    for table in POLICIES.values():
        for name in table:
            registry.get(name)  # raises KeyError for a name that is not an op


def test_lower_precision_ops_run_in_bfloat16_by_default_on_cpu():
    a, b = dg.randn(4, 5), dg.randn(5, 3)
    with dg.autocast("cpu"):
        assert dg.is_autocast_enabled("cpu") and dg.get_autocast_dtype("cpu") is dg.bfloat16
        y = a @ b
        lin = dg.nn.functional.linear(a, b.t(), dg.ones(3))
    assert not dg.is_autocast_enabled("cpu")
    assert y.dtype is dg.bfloat16 and lin.dtype is dg.bfloat16
    # the value: both inputs rounded to bfloat16 first, the product in float32, then rounded
    import ml_dtypes
    bf = np.dtype(ml_dtypes.bfloat16)
    ref = (a.numpy().astype(bf).astype(np.float32) @ b.numpy().astype(bf).astype(np.float32))
    np.testing.assert_allclose(y.float().numpy(), ref.astype(bf).astype(np.float32), rtol=2 ** -8)


def test_float32_ops_unlisted_ops_and_ineligible_calls():
    x = dg.randn(3, 4).bfloat16()
    with dg.autocast("cpu"):
        assert dg.nn.functional.mse_loss(x, dg.zeros(3, 4).bfloat16()).dtype is dg.float32
        assert x.prod().dtype is dg.float32  # on the CPU float32 list
        assert x.prod(dtype=dg.bfloat16).dtype is dg.bfloat16  # an explicit dtype= is kept
        assert x.softmax(-1).dtype is dg.bfloat16  # not listed on the CPU: runs as it is
        assert (x + dg.ones(4)).dtype is dg.float32  # unlisted, mixed: promotes as usual
        d = dg.randn(2, 2, dtype=dg.float64)
        assert (d @ d).dtype is dg.float64  # float64 is never cast
        w = dg.randn(2, 2)
        w.addmm_(w, w)  # in place: not eligible
        assert w.dtype is dg.float32
        assert (dg.arange(4).reshape(2, 2) @ dg.arange(4).reshape(2, 2)).dtype is dg.int64


def test_nesting_decorator_and_explicit_dtype():
    a = dg.randn(2, 2)
    with dg.autocast("cpu"):
        with dg.autocast("cpu", enabled=False):
            assert (a @ a).dtype is dg.float32 and not dg.is_autocast_enabled("cpu")
        with dg.autocast("cpu", dtype=dg.float16):
            assert (a @ a).dtype is dg.float16
        assert (a @ a).dtype is dg.bfloat16

    @dg.amp.autocast("cpu")
    def f(x):
        return x @ x
    assert f(a).dtype is dg.bfloat16 and (a @ a).dtype is dg.float32
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        off = dg.autocast("cpu", dtype=dg.float64)
    with off:
        assert (a @ a).dtype is dg.float32


def test_gradients_reach_float32_leaves_and_weights_are_cast_once():
    w = dg.randn(3, 3, requires_grad=True)
    x = dg.randn(2, 3)
    with op_log() as log, dg.autocast("cpu"):
        y = (x @ w) @ w
    casts = [c for c in log if c.op == "to_dtype"]
    assert len(casts) == 2  # x, and w once (cached); the bfloat16 product is not cast
    y.float().sum().backward()
    assert w.grad.dtype is dg.float32 and y.grad_fn.name() == "MmBackward0"
    # the gradient: y = x w w, so dL/dw = x^T 1 w^T + (x w)^T 1, all through bfloat16 values
    ones = np.ones((2, 3), np.float32)
    xn, wn = x.numpy(), w.detach().numpy()
    np.testing.assert_allclose(w.grad.numpy(), xn.T @ ones @ wn.T + (xn @ wn).T @ ones,
                               rtol=0.05, atol=0.05)


def test_cache_disabled_casts_every_use():
    w = dg.randn(3, 3, requires_grad=True)
    x = dg.randn(2, 3)
    with op_log() as log, dg.autocast("cpu", cache_enabled=False):
        (x @ w) @ w
    assert len([c for c in log if c.op == "to_dtype"]) == 3  # x, w, and w again


def region(x, y):
    with dg.autocast("cpu"):
        return (x @ y).relu()


def test_trace_records_the_casts_inside_and_around_the_function():
    a, b = dg.randn(4, 5), dg.randn(5, 3)
    traced = dg.jit.trace(region, (a, b))
    text = str(traced.graph)
    assert text.count("to_dtype") == 2 and "bf16[4, 3]" in text
    np.testing.assert_array_equal(traced(a, b).float().numpy(), region(a, b).float().numpy())
    with dg.autocast("cpu"):
        outer = dg.jit.trace(lambda x, y: x @ y, (a, b))
    assert str(outer.graph).count("to_dtype") == 2
    assert outer(a, b).dtype is dg.bfloat16  # outside a region it keeps its casts
    plain = dg.jit.trace(lambda x, y: x @ y, (a, b))
    with dg.autocast("cpu"), pytest.raises(RuntimeError, match="captured with no autocast"):
        plain(a, b)


def test_script_refuses_a_with_block_and_specializes_per_region():
    with pytest.raises(dg.ScriptError, match="with block"):
        dg.jit.script(region)(dg.randn(2, 2), dg.randn(2, 2))

    def mm(x, y):
        return x @ y
    s = dg.jit.script(mm)
    a = dg.randn(2, 2)
    assert s(a, a).dtype is dg.float32
    with dg.autocast("cpu"):
        assert s(a, a).dtype is dg.bfloat16
    assert s(a, a).dtype is dg.float32


def test_cuda_without_a_gpu_and_deprecated_spellings():
    if NO_CUDA:
        with pytest.warns(UserWarning, match="CUDA is not available"):
            ctx = dg.autocast("cuda")
        with ctx:
            assert not dg.is_autocast_enabled("cuda")
    assert dg.get_autocast_dtype("cuda") is dg.float16
    with pytest.warns(FutureWarning, match=r"torch.amp.autocast\('cpu', args...\)"):
        ctx = dg.cpu.amp.autocast()
    with ctx:
        assert (dg.ones(2, 2) @ dg.ones(2, 2)).dtype is dg.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.warns(FutureWarning, match=r"torch.amp.GradScaler\('cuda', args...\)"):
            dg.cuda.amp.GradScaler()
    with pytest.raises(RuntimeError, match="unsupported autocast device_type"):
        dg.autocast("tpu")
    assert LOWER in POLICIES["cpu"].values() and FP32 in POLICIES["cpu"].values()


# ------------------------------------------------------------------------------ GradScaler

def _setup(scale=1024.0, interval=2):
    p = dg.nn.Parameter(dg.tensor([1.0, 2.0]))
    opt = dg.optim.SGD([p], lr=1.0)
    return p, opt, dg.amp.GradScaler("cpu", init_scale=scale, growth_interval=interval)


def _iteration(p, opt, scaler, poison=False):
    opt.zero_grad()
    scaler.scale((p * p).sum()).backward()  # grad = scale * 2p
    if poison:
        p.grad[0] = float("inf")
    out = scaler.step(opt)
    scaler.update()
    return out


def test_grad_scaler_steps_grows_and_backs_off_by_pytorchs_rules():
    p, opt, scaler = _setup()
    assert scaler.is_enabled() and scaler.get_scale() == 1024.0
    _iteration(p, opt, scaler)  # grads unscaled to 2p = [2, 4]; p - 2p = -p
    assert p.tolist() == [-1.0, -2.0] and scaler.get_scale() == 1024.0  # 1 clean step of 2
    _iteration(p, opt, scaler)
    assert p.tolist() == [1.0, 2.0] and scaler.get_scale() == 2048.0  # grown after 2
    _iteration(p, opt, scaler, poison=True)
    assert p.tolist() == [1.0, 2.0] and scaler.get_scale() == 1024.0  # skipped, backed off
    assert scaler.state_dict() == {"scale": 1024.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                   "growth_interval": 2, "_growth_tracker": 0}
    _iteration(p, opt, scaler)
    assert scaler.state_dict()["_growth_tracker"] == 1


def test_grad_scaler_unscale_once_per_step_and_state_round_trip():
    p, opt, scaler = _setup(scale=8.0)
    opt.zero_grad()
    scaler.scale((p * 3).sum()).backward()
    assert p.grad.tolist() == [24.0, 24.0]
    scaler.unscale_(opt)
    assert p.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    scaler.update(new_scale=4.0)
    other = dg.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 4.0
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        other.load_state_dict({})


def test_disabled_grad_scaler_passes_through():
    p, opt, _ = _setup()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scaler = dg.amp.GradScaler() if NO_CUDA else dg.amp.GradScaler("cpu", enabled=False)
    if NO_CUDA:
        assert any("CUDA is not available" in str(w.message) for w in caught)
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    loss = (p * p).sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.step(opt)
    assert p.tolist() == [-1.0, -2.0]


# ------------------------------------------------------------------------- serialization

class TinyNet(dg.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = dg.nn.Linear(2, 1)

    def forward(self, x):
        return self.fc(x)


def test_safe_globals_let_weights_only_load_rebuild_listed_classes(tmp_path):
    net = TinyNet()
    path = tmp_path / "net.dgm"
    dg.save(net, path)
    with pytest.raises(Exception, match="add_safe_globals"):
        dg.load(path)
    with dg.serialization.safe_globals([TinyNet]):
        assert dg.serialization.get_safe_globals() == [TinyNet]
        with pytest.raises(Exception, match="Linear"):
            dg.load(path)  # its child's class is not allowed yet
        dg.serialization.add_safe_globals([dg.nn.Linear])
        back = dg.load(path)
    assert type(back) is TinyNet and dg.equal(back.fc.weight, net.fc.weight)
    assert dg.serialization.get_safe_globals() == []
    with pytest.raises(Exception, match="Weights only load failed"):
        dg.load(path)
    with pytest.raises(TypeError, match="nn.Module subclasses"):
        dg.serialization.add_safe_globals([print])
    with pytest.raises(TypeError, match="expected a list"):
        dg.serialization.add_safe_globals(TinyNet)
