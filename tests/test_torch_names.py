"""PyTorch names that programs use and dualgraph lacked: inference mode, the default device,
`dg.accelerator`, `dg.cuda.manual_seed_all`, the namespace's in-place functions, in-place shape
methods, thread control, deterministic algorithms and the float32 matmul precision.

Every expected value and message was produced by PyTorch 2.13 (CPU, on a machine without a GPU)
running the same calls; PyTorch itself is not imported here.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.runtime.settings import settings
from dualgraph.methods.inplace import TORCH_INPLACE

NO_GPU = not dg.cuda.is_available()


# ---------------------------------------------------------------------------- inference mode

def test_inference_mode_makes_inference_tensors_and_records_nothing():
    w = dg.ones(2, requires_grad=True)
    with dg.inference_mode():
        assert dg.is_inference_mode_enabled() and not dg.is_grad_enabled()
        t = dg.ones(2)
        y = w * 2
        made = (dg.tensor([1.0]), dg.from_numpy(np.ones(2)), w.clone(), t[0])
        with dg.enable_grad():  # PyTorch: grad mode on, yet nothing is recorded
            z = w * 2
            assert dg.is_grad_enabled()
        view_of_normal = w.view(2)
        with dg.inference_mode(False):
            u = dg.ones(2)
            assert not dg.is_inference_mode_enabled() and dg.is_grad_enabled()
    assert not dg.is_inference_mode_enabled() and dg.is_grad_enabled()
    assert t.is_inference() and not t.requires_grad
    assert y.is_inference() and not y.requires_grad and y.grad_fn is None
    assert all(m.is_inference() for m in made)
    assert z.is_inference() and not z.requires_grad
    assert not view_of_normal.is_inference() and not u.is_inference()
    assert not w.is_inference() and not dg.ones(1).is_inference()


def test_inference_tensors_outside_inference_mode_are_refused_as_pytorch_refuses_them():
    with dg.inference_mode():
        t = dg.ones(2)
    with pytest.raises(RuntimeError, match="Setting requires_grad=True on inference tensor "
                                           "outside InferenceMode is not allowed."):
        t.requires_grad_()
    w = dg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Inference tensors cannot be saved for backward\. "
                                           "Please do not use Tensors created in inference mode"):
        w * t  # mul saves both inputs
    assert (w + t).requires_grad  # add saves neither: allowed, as in PyTorch
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside "
                                           "InferenceMode is not allowed"):
        t.add_(1)
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside"):
        t.view(2).add_(1)  # a view of an inference tensor is one too
    assert t.tolist() == [1.0, 1.0]
    with dg.inference_mode():
        t.add_(1)  # inside, allowed
    assert t.tolist() == [2.0, 2.0] and t.clone().is_inference() is False


def test_inference_mode_as_a_decorator_with_and_without_parentheses():
    w = dg.ones(2, requires_grad=True)

    @dg.inference_mode()
    def a(x):
        return x * 2

    @dg.inference_mode
    def b(x):
        return x * 2

    @dg.inference_mode(False)
    def c(x):
        return x * 2

    @dg.inference_mode()
    def gen():
        yield dg.is_inference_mode_enabled()
        yield dg.is_inference_mode_enabled()

    assert not a(w).requires_grad and a(w).is_inference()
    assert not b(w).requires_grad
    assert c(w).requires_grad
    assert list(gen()) == [True, True]
    assert not dg.is_inference_mode_enabled()
    assert dg.autograd.inference_mode is dg.inference_mode
    with pytest.raises(TypeError, match="argument 'mode' must be bool"):
        dg.inference_mode("yes")


def test_inference_mode_is_per_thread():
    seen = []
    with dg.inference_mode():
        th = threading.Thread(target=lambda: seen.append(dg.is_inference_mode_enabled()))
        th.start()
        th.join()
    assert seen == [False]


def test_autograd_function_inside_inference_mode_records_nothing():
    class Double(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    w = dg.ones(2, requires_grad=True)
    with dg.inference_mode(), dg.enable_grad():
        out = Double.apply(w)
    assert out.grad_fn is None and out.is_inference()


# ---------------------------------------------------------------------------- default device

@pytest.fixture
def default_device():
    yield
    dg.set_default_device(None)


def test_default_device_is_cpu_and_factories_honour_it(default_device):
    assert dg.get_default_device() == dg.device("cpu")
    assert repr(dg.get_default_device()) == "device(type='cpu')"
    dg.set_default_device("cpu")
    assert dg.get_default_device() == dg.device("cpu")
    dg.set_default_device(dg.device("cpu"))
    assert all(t.device == dg.device("cpu") for t in (
        dg.zeros(2), dg.ones(2), dg.empty(2), dg.full((2,), 1.0), dg.arange(3), dg.eye(2),
        dg.rand(2), dg.randn(2), dg.randint(0, 5, (2,)), dg.linspace(0, 1, 3),
        dg.tensor([1.0])))
    dg.set_default_device(None)
    assert dg.get_default_device() == dg.device("cpu")


def test_default_device_refuses_what_does_not_exist_here(default_device):
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda device type at start of "
                                           "device string: meta"):
        dg.set_default_device("meta")
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda device type at start of "
                                           "device string: foo"):
        dg.set_default_device("foo")
    if NO_GPU:
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is "
                                               "available."):
            dg.set_default_device(3)
        with pytest.raises(RuntimeError, match=r"set_default_device\(\): cuda is not available"):
            dg.set_default_device("cuda")
    assert dg.get_default_device() == dg.device("cpu")


@pytest.mark.skipif(NO_GPU, reason="needs a GPU")
def test_default_device_cuda_places_factories(default_device):
    dg.set_default_device("cuda")
    assert dg.get_default_device() == dg.device("cuda", 0)
    assert dg.zeros(2).device == dg.device("cuda", 0)
    x = dg.from_numpy(np.ones(2))
    assert x.device == dg.device("cpu") and dg.zeros_like(x).device == dg.device("cpu")


def test_device_as_a_context_manager(default_device):
    with dg.device("cpu") as d:  # PyTorch: `as` gives the device
        assert d == dg.device("cpu") and dg.get_default_device() == dg.device("cpu")
        assert dg.zeros(1).device == dg.device("cpu")
        with dg.device("cpu"):
            assert dg.ones(1).device == dg.device("cpu")
    assert dg.get_default_device() == dg.device("cpu")
    if NO_GPU:
        with dg.device("cuda"):  # placing is what fails, as in PyTorch without CUDA
            assert dg.get_default_device() == dg.device("cuda", 0)
            with pytest.raises(RuntimeError, match="CUDA is not available"):
                dg.zeros(1)
        assert dg.zeros(1).device == dg.device("cpu")


def test_default_device_is_per_thread(default_device):
    dg.set_default_device("cpu")
    seen = []
    th = threading.Thread(target=lambda: seen.append(dg.get_default_device()))
    th.start()
    th.join()
    assert seen == [dg.device("cpu")]


# --------------------------------------------------------------------- accelerator and seeds

@pytest.mark.skipif(not NO_GPU, reason="PyTorch's answers on a machine without a GPU")
def test_accelerator_without_a_gpu():
    assert dg.accelerator.is_available() is False
    assert dg.accelerator.current_accelerator() is None
    assert dg.accelerator.current_accelerator(check_available=True) is None
    assert dg.accelerator.device_count() == 0
    for fn in (dg.accelerator.current_device_index, dg.accelerator.synchronize):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is "
                                               "available."):
            fn()


@pytest.mark.skipif(not NO_GPU, reason="PyTorch's answers on a machine without a GPU")
def test_cuda_manual_seed_all_without_a_gpu_leaves_the_cpu_stream_alone():
    dg.manual_seed(0)
    a = dg.rand(3)
    dg.manual_seed(0)
    first = dg.rand(3)
    dg.cuda.manual_seed_all(0)  # no GPU generator to seed: PyTorch ignores it
    dg.cuda.manual_seed("7")   # PyTorch converts with int()
    second = dg.rand(3)
    assert first.tolist() == a.tolist() and second.tolist() != first.tolist()
    with pytest.raises(TypeError, match="int"):
        dg.cuda.manual_seed_all(object())


# ------------------------------------------------------------------- namespace in-place fns

# PyTorch 2.13's values for each call on tensor([-1., 2.]) (fill_ with 3)
@pytest.mark.parametrize("name,args,expected", [
    ("sin_", (), [np.sin(-1.0), np.sin(2.0)]), ("exp_", (), [np.exp(-1.0), np.exp(2.0)]),
    ("relu_", (), [0.0, 2.0]), ("sigmoid_", (), [1 / (1 + np.e), 1 / (1 + np.exp(-2.0))]),
    ("zero_", (), [0.0, 0.0]), ("fill_", (3,), [3.0, 3.0]), ("neg_", (), [1.0, -2.0]),
    ("negative_", (), [1.0, -2.0]), ("abs_", (), [1.0, 2.0]), ("cos_", (), [np.cos(-1.0),
                                                                            np.cos(2.0)]),
    ("tanh_", (), [np.tanh(-1.0), np.tanh(2.0)]), ("reciprocal_", (), [-1.0, 0.5]),
    ("detach_", (), [-1.0, 2.0]),
])
def test_namespace_inplace_functions_write_into_their_input(name, args, expected):
    x = dg.tensor([-1.0, 2.0])
    before = x._version_counter().value
    out = getattr(dg, name)(x, *args)
    assert out is x
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6)
    if name != "detach_":
        assert x._version_counter().value == before + 1


def test_namespace_inplace_functions_follow_the_methods_rules():
    assert dg.sin_(input=dg.tensor([0.0])).tolist() == [0.0]
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        dg.sin_(dg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation."):
        dg.sin_(dg.ones(2, requires_grad=True))
    q = dg.ones(2, requires_grad=True)
    r = q * 1
    assert dg.sin_(r).grad_fn.name() == "SinBackward0"
    r.sum().backward()
    np.testing.assert_allclose(q.grad.numpy(), np.cos([1.0, 1.0]), rtol=1e-6)
    with pytest.raises(TypeError, match=r"sin_\(\): argument 'input' \(position 1\) must be "
                                        "Tensor, not float"):
        dg.sin_(1.0)


def test_every_pytorch_namespace_inplace_function_with_an_op_exists():
    have = [n for n in TORCH_INPLACE if hasattr(dg, n)]
    missing = sorted(set(TORCH_INPLACE) - set(have))
    assert len(TORCH_INPLACE) == 74
    # what is left needs ops dualgraph does not have yet (i0, gcd, celu, ...), or the
    # namespace dropout family
    assert missing == ['addmv_', 'alpha_dropout_', 'as_strided_', 'celu_', 'conj_physical_',
                       'dropout_', 'embedding_renorm_', 'feature_alpha_dropout_',
                       'feature_dropout_', 'i0_', 'resize_as_sparse_', 'rrelu_', 'selu_',
                       'threshold_']
    for name in missing:
        assert not hasattr(dg.Tensor, name) or name == "as_strided_"


# ------------------------------------------------- erf, erfc, deg2rad, rad2deg, sinc, logit, ...

# PyTorch 2.13 on tensor([0.3, -0.7, 0.0, 2.0], requires_grad=True): value, then the gradient of
# the sum, and the node name
_UNARY_TORCH = {
    "erf": ([0.3286267817020416, -0.6778011918067932, 0.0, 0.9953222870826721],
            [1.0312609672546387, 0.6912749409675598, 1.128379225730896, 0.02066698670387268],
            "ErfBackward0"),
    "erfc": ([0.6713732481002808, 1.6778011322021484, 1.0, 0.004677734803408384],
             [-1.0312609672546387, -0.6912749409675598, -1.128379225730896,
              -0.02066698670387268], "ErfcBackward0"),
    "deg2rad": ([0.005235987715423107, -0.012217304669320583, 0.0, 0.03490658476948738],
                [0.01745329238474369] * 4, "Deg2RadBackward0"),
    "rad2deg": ([17.18873405456543, -40.1070442199707, 0.0, 114.59156036376953],
                [57.295780181884766] * 4, "Rad2DegBackward0"),
    "sinc": ([0.858393669128418, 0.36788302659988403, 1.0, 2.7827534054836178e-08],
             [-0.9020284414291382, 1.365240216255188, 0.0, 0.5], "SincBackward0"),
    "logit": ([-0.8472977876663208, np.nan, -np.inf, np.nan],
              [4.761904716491699, np.nan, np.inf, np.nan], "LogitBackward0"),
}


@pytest.mark.parametrize("name", list(_UNARY_TORCH))
def test_special_functions_match_pytorch(name):
    value, grad, node = _UNARY_TORCH[name]
    x = dg.tensor([0.3, -0.7, 0.0, 2.0], requires_grad=True)
    y = getattr(dg, name)(x)
    y.sum().backward()
    assert y.grad_fn.name() == node
    np.testing.assert_allclose(y.detach().numpy(), value, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-5, atol=1e-7)
    assert getattr(dg, name)(dg.tensor([1, 2, 0])).dtype == dg.float32  # ints: the default float
    assert getattr(dg, name)(dg.tensor([0.5], dtype=dg.float16)).dtype == dg.float16
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        getattr(dg, name + "_")(dg.tensor([1, 2]))
    t = dg.tensor([0.25, 0.5])
    assert getattr(dg, name + "_")(t) is t
    np.testing.assert_allclose(t.numpy(), getattr(dg, name)(dg.tensor([0.25, 0.5])).numpy())


def test_special_function_edges_as_pytorch():
    sinc = dg.sinc(dg.tensor([0.0, 1.0, 0.5, float("nan"), float("inf")]))
    np.testing.assert_allclose(sinc.numpy(), [1.0, -2.7827534054836178e-08, 0.6366197466850281,
                                              np.nan, np.nan], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(dg.erfc(dg.tensor([10.0, -10.0, 5.0])).numpy(),
                               [1.401298464324817e-45, 2.0, 1.5374598295869735e-12], rtol=1e-6)
    x = dg.tensor([0.0, 0.05, 0.3, 0.97, 1.0], requires_grad=True)
    y = dg.logit(x, eps=0.1)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [-2.1972246170043945, -2.1972246170043945,
                                                    -0.8472977876663208, 2.1972243785858154,
                                                    2.1972243785858154], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 4.761904716491699, 0.0, 0.0],
                               rtol=1e-6)
    np.testing.assert_allclose(dg.logit(dg.tensor([0.2]), 0.1).numpy(), [-1.3863], atol=1e-4)
    np.testing.assert_allclose(dg.logit(dg.tensor([0.2, 0.0]), 0.7).numpy(), [0.8473, 0.8473],
                               atol=1e-4)
    assert dg.logit(dg.tensor([0.2, 0.0]), -0.1).tolist()[1] == -np.inf
    assert dg.logit_(dg.tensor([0.2, 0.0]), 0.1).tolist() == pytest.approx([-1.3863, -2.1972],
                                                                           abs=1e-4)


def test_xlogy_and_ldexp_as_pytorch():
    x = dg.tensor([0.0, 1.0, 2.0, 0.0, 3.0], requires_grad=True)
    y = dg.tensor([0.0, 2.0, 0.5, float("nan"), 0.0], requires_grad=True)
    r = dg.xlogy(x, y)
    r.sum().backward()
    assert r.grad_fn.name() == "XlogyBackward0"
    np.testing.assert_allclose(r.detach().numpy(), [0.0, 0.6931471824645996, -1.3862943649291992,
                                                    np.nan, -np.inf], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.6931471824645996, -0.6931471824645996,
                                                np.nan, -np.inf], rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), [np.nan, 0.5, 4.0, np.nan, np.inf], rtol=1e-6)
    w = dg.tensor([3.0], requires_grad=True)
    assert dg.xlogy(2, w).grad_fn.name() == "XlogyBackward1"
    assert dg.xlogy(w, 2).grad_fn.name() == "XlogyBackward2"
    assert dg.xlogy(2, dg.tensor([3.0])).tolist() == pytest.approx([2.1972], abs=1e-4)
    assert dg.xlogy(dg.tensor([1, 2]), dg.tensor([3, 4])).tolist() == pytest.approx(
        [1.0986, 2.7726], abs=1e-4)
    assert list(dg.xlogy(dg.tensor([[1.0], [2.0]]), dg.tensor([3.0, 4.0])).shape) == [2, 2]
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        dg.xlogy_(dg.tensor([1, 2]), dg.tensor([3.0, 4.0]))
    assert dg.ldexp(dg.tensor([1.0, 2.0]), dg.tensor([2, 3])).tolist() == [4.0, 16.0]
    assert dg.ldexp(dg.tensor([1, 2]), dg.tensor([2, 3])).tolist() == [4.0, 16.0]
    assert dg.ldexp(dg.tensor([1.0, 2.0]), dg.tensor([0.5, -1.0])).tolist() == pytest.approx(
        [1.4142, 1.0], abs=1e-4)
    with pytest.raises(TypeError, match=r"ldexp\(\): argument 'other' \(position 2\) must be "
                                        "Tensor, not int"):
        dg.ldexp(dg.tensor([1.0, 2.0]), 2)
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    e = dg.tensor([2.0, 3.0], requires_grad=True)
    r = dg.ldexp(a, e)
    r.sum().backward()
    assert r.grad_fn.name() == "LdexpBackward0"
    assert a.grad.tolist() == [4.0, 8.0]
    np.testing.assert_allclose(e.grad.numpy(), [2.7725887298583984, 11.090354919433594],
                               rtol=1e-6)


def test_gcd_and_lcm_as_pytorch():
    a, b = dg.tensor([12, -18, 0, 7]), dg.tensor([8, 12, 0, -21])
    assert dg.gcd(a, b).tolist() == [4, 6, 0, 7] and dg.lcm(a, b).tolist() == [24, 36, 0, 21]
    assert dg.gcd(a.int(), b).dtype == dg.int64
    assert dg.gcd(a, dg.tensor([6])).tolist() == [6, 6, 6, 1]
    # PyTorch wraps the product, then takes abs: 3162774884111613952 (NumPy's lcm gives -...)
    assert dg.lcm(dg.tensor([2 ** 40]), dg.tensor([3 ** 20])).tolist() == [3162774884111613952]
    assert dg.lcm(dg.tensor([100], dtype=dg.int8), dg.tensor([3], dtype=dg.int8)).tolist() == [44]
    c = a.clone()
    assert dg.gcd_(c, b) is c and c.tolist() == [4, 6, 0, 7]
    assert a.clone().lcm_(b).tolist() == [24, 36, 0, 21]
    for bad, kind in ((a.float(), "Float"), (a > 0, "Bool")):
        with pytest.raises(NotImplementedError, match=f'"gcd_cpu" not implemented for '
                                                      f"'{kind}'"):
            dg.gcd(bad, bad)
    with pytest.raises(TypeError, match=r"gcd\(\): argument 'other' \(position 2\) must be "
                                        "Tensor, not int"):
        dg.gcd(a, 4)


# ----------------------------------------------------------------- in-place shape methods

@pytest.mark.parametrize("call,shape", [
    (lambda t: t.unsqueeze_(0), [1, 2, 3, 1]), (lambda t: t.squeeze_(), [2, 3]),
    (lambda t: t.squeeze_(2), [2, 3]), (lambda t: t.squeeze_((0, 2)), [2, 3]),
    (lambda t: t.transpose_(0, 1), [3, 2, 1]), (lambda t: t.swapdims_(0, 1), [3, 2, 1]),
    (lambda t: t.swapaxes_(0, 1), [3, 2, 1]),
])
def test_inplace_shape_methods_change_the_tensor_itself(call, shape):
    base = np.arange(6.0).reshape(2, 3, 1)
    x = dg.tensor(base)
    assert call(x) is x
    assert list(x.shape) == shape and x._version_counter().value == 1  # PyTorch: version 1
    np.testing.assert_array_equal(x.numpy().reshape(-1), (base.transpose(1, 0, 2) if "3, 2" in
                                                           str(shape) else base).reshape(-1))


def test_inplace_shape_methods_under_autograd():
    y = dg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation."):
        y.t_()
    z = y * 1
    z.transpose_(0, 1)
    assert list(z.shape) == [3, 2] and z.grad_fn.name() == "TransposeBackward1"  # PyTorch's
    z.unsqueeze_(0)
    assert z.grad_fn.name() == "UnsqueezeBackward1"  # PyTorch's
    weights = dg.tensor(np.arange(6.0).reshape(1, 3, 2))
    (z * weights).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.arange(6.0).reshape(3, 2).T)
    with pytest.raises(RuntimeError, match=r"t_\(\) expects a tensor with <= 2 dimensions, but "
                                           "self is 3D"):
        dg.ones(2, 3, 4).t_()
    v = dg.ones(3)
    assert v.t_() is v and list(v.shape) == [3]


def test_inplace_shape_method_on_a_view_keeps_it_a_view_of_its_base():
    base = dg.ones(2, 3)
    v = base[0]
    v.unsqueeze_(0)
    assert list(v.shape) == [1, 3] and v._base is base
    assert base._version_counter().value == 1 and v._version is base._version  # PyTorch: 1, 1
    v.mul_(2)  # a write through the reshaped view reaches the base
    assert base.tolist() == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]
    b = dg.ones(2, 3, requires_grad=True)
    c = b * 1
    w = c[0]
    w.unsqueeze_(0)
    w.mul_(3)
    c.sum().backward()
    assert b.grad.tolist() == [[3.0, 3.0, 3.0], [1.0, 1.0, 1.0]]


def test_inplace_shape_methods_trace():
    def f(x):
        y = x * 2
        y.unsqueeze_(0)
        y.t_() if y.dim() == 2 else y.transpose_(0, 2)
        return y + 1

    x = dg.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    traced = dg.jit.trace(f, (x,))
    np.testing.assert_array_equal(traced(x).numpy(), f(x).numpy())
    with pytest.raises(dg.TraceError, match="changed its shape in place"):
        dg.jit.trace(lambda t: t.t_(), (dg.ones(2, 3),))


# ---------------------------------------------------------------------------- thread control

@pytest.fixture
def restore_threads():
    saved = (settings.num_threads, settings.interop_threads)
    threads = dg.get_num_threads()
    yield
    dg.set_num_threads(threads)
    settings.num_threads, settings.interop_threads = saved


def test_set_num_threads_reaches_numba_and_blas(restore_threads):
    import numba
    dg.set_num_threads(1)
    assert dg.get_num_threads() == 1 and numba.get_num_threads() == 1
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(n == 1 for n in blas)
    dg.set_num_threads(64)  # PyTorch accepts more than the machine has and reports it
    assert dg.get_num_threads() == 64
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("value,message", [
    (0, "set_num_threads expects a positive integer"),
    (-1, "set_num_threads expects a positive integer"),
    ("2", "set_num_threads expects an int, but got str"),
    (2.0, "set_num_threads expects an int, but got float"),
])
def test_set_num_threads_validates_as_pytorch(value, message, restore_threads):
    with pytest.raises(RuntimeError, match=message):
        dg.set_num_threads(value)


def test_interop_threads(restore_threads):
    settings.interop_threads = None
    assert dg.get_num_interop_threads() == 1  # ops run one after another
    with pytest.raises(RuntimeError, match="set_num_interop_threads expects a positive integer"):
        dg.set_num_interop_threads(0)
    with pytest.warns(UserWarning, match="no inter-op pool"):
        dg.set_num_interop_threads(2)
    assert dg.get_num_interop_threads() == 2
    with pytest.raises(RuntimeError, match="cannot set number of interop threads after parallel "
                                           "work has started or set_num_interop_threads called"):
        dg.set_num_interop_threads(3)


# ------------------------------------------------------------ determinism and matmul precision

@pytest.fixture
def restore_determinism():
    yield
    dg.use_deterministic_algorithms(False)
    dg.set_float32_matmul_precision("highest")


def test_deterministic_algorithms_flags(restore_determinism):
    assert not dg.are_deterministic_algorithms_enabled()
    assert not dg.is_deterministic_algorithms_warn_only_enabled()
    dg.use_deterministic_algorithms(True)
    assert dg.are_deterministic_algorithms_enabled() and dg.get_deterministic_debug_mode() == 2
    dg.use_deterministic_algorithms(True, warn_only=True)
    assert dg.is_deterministic_algorithms_warn_only_enabled()
    assert dg.get_deterministic_debug_mode() == 1
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match=r"_set_deterministic_algorithms\(\): argument 'mode' "
                                            r"\(position 1\) must be bool, not "):
            dg.use_deterministic_algorithms(bad)
    for mode, expected in (("default", (0, False, False)), ("warn", (1, True, True)),
                           ("error", (2, True, False)), (0, (0, False, False))):
        dg.set_deterministic_debug_mode(mode)
        assert (dg.get_deterministic_debug_mode(), dg.are_deterministic_algorithms_enabled(),
                dg.is_deterministic_algorithms_warn_only_enabled()) == expected
    with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`, but got x"):
        dg.set_deterministic_debug_mode("x")
    with pytest.raises(RuntimeError, match="expected 0, 1, or 2, but got 3"):
        dg.set_deterministic_debug_mode(3)


def test_nondeterministic_kernels_are_refused_while_determinism_is_required(restore_determinism):
    from dualgraph.runtime.cupy_backend import ATOMIC
    from dualgraph.runtime.settings import nondeterministic
    calls = []
    put = nondeterministic("put", lambda *a, **k: calls.append(k) or "ran", ATOMIC["put"])
    assert put(1, accumulate=True) == "ran"
    dg.use_deterministic_algorithms(True)
    assert put(1, accumulate=False) == "ran"  # no accumulation: deterministic
    with pytest.raises(RuntimeError, match="put_cuda does not have a deterministic "
                                           "implementation, but you set "
                                           r"'torch.use_deterministic_algorithms\(True\)'"):
        put(1, accumulate=True)
    dg.use_deterministic_algorithms(True, warn_only=True)
    with pytest.warns(UserWarning, match="does not have a deterministic implementation"):
        assert put(1, accumulate=True) == "ran"
    # CPU kernels are deterministic: the same index_add twice gives identical bits
    dg.use_deterministic_algorithms(True)
    src = dg.tensor(np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32))
    idx = dg.tensor(np.random.default_rng(1).integers(0, 4, 100))
    a = dg.zeros(4, 3).index_add_(0, idx, src)
    b = dg.zeros(4, 3).index_add_(0, idx, src)
    assert a.numpy().tobytes() == b.numpy().tobytes()


def test_float32_matmul_precision(restore_determinism):
    assert dg.get_float32_matmul_precision() == "highest"
    for value in ("high", "medium", "highest"):
        dg.set_float32_matmul_precision(value)
        assert dg.get_float32_matmul_precision() == value
    dg.set_float32_matmul_precision("high")
    for bad in ("HIGH", "low"):
        with pytest.warns(UserWarning, match=f"{bad} is not one of 'highest', 'high', or "
                                             "'medium'; the currentsetFloat32MatmulPrecision "
                                             "call has no effect."):
            dg.set_float32_matmul_precision(bad)
        assert dg.get_float32_matmul_precision() == "high"
    for bad, kind in ((3, "int"), (None, "NoneType")):
        with pytest.raises(RuntimeError, match=f"set_float32_matmul_precision expects a str, but "
                                               f"got {kind}"):
            dg.set_float32_matmul_precision(bad)
    # the permission changes no result: float32 matmuls stay full float32 precision
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(64, 64)).astype(np.float32), rng.normal(size=(64, 64)).astype(
        np.float32)
    dg.set_float32_matmul_precision("medium")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = (dg.tensor(a) @ dg.tensor(b)).numpy()
    np.testing.assert_allclose(out, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4,
                               atol=1e-4)
