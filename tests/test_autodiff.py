"""Graph autodiff (`passes/autodiff.py`, `jit/compiled_grad.py`): gradients of traced and scripted
functions, through `if` and `loop` nodes, checked against eager autograd on the same Python
function and against finite differences; the compiled backward's autograd semantics (no_grad,
retain_graph, create_graph, accumulation); and training modules through compiled graphs."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import nn
from dualgraph.jit.compiled_grad import DifferentiableGraphBackward
from dualgraph.passes.autodiff import differentiate


# ----------------------------------------------------------------------------------- helpers
def _rand(*shape, seed=0, dtype=np.float32, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in _leaves(x)]
    if isinstance(out, dict):
        return [y for x in out.values() for y in _leaves(x)]
    return [out]


def _make_args(spec, requires, dtype):
    """Fresh argument objects: numpy arrays become tensors (floating ones requiring grad when
    `requires` says so), lists of arrays lists of tensors, everything else is passed as is."""
    args = []
    for k, a in enumerate(spec):
        if isinstance(a, np.ndarray):
            a = a.astype(dtype) if a.dtype.kind == "f" else a
            args.append(dg.tensor(a, requires_grad=a.dtype.kind == "f" and requires(k)))
        elif isinstance(a, list) and a and isinstance(a[0], np.ndarray):
            args.append([dg.tensor(x.astype(dtype), requires_grad=requires(k)) for x in a])
        else:
            args.append(a)
    return args


def _grad_leaves(args):
    out = []
    for a in args:
        if isinstance(a, dg.Tensor) and a.requires_grad:
            out.append(a)
        elif isinstance(a, list):
            out.extend(x for x in a if isinstance(x, dg.Tensor) and x.requires_grad)
    return out


def _loss(outs):
    """A weighted sum of every floating output that requires grad (weights differ per element
    and per output, so a swapped or transposed gradient shows)."""
    total = None
    for k, o in enumerate(_leaves(outs)):
        if isinstance(o, dg.Tensor) and o.dtype.is_floating_point and o.requires_grad:
            w = np.linspace(0.5, 1.5, max(o.numel(), 1)).reshape(tuple(o.shape)) * (k + 1)
            term = (o * dg.tensor(w.astype(o.dtype.np))).sum()
            total = term if total is None else total + term
    return total


def _assert_grads_match(eager_leaves, comp_leaves, rtol=1e-4, atol=1e-5):
    for i, (e, c) in enumerate(zip(eager_leaves, comp_leaves)):
        if e.grad is None:
            assert c.grad is None or np.allclose(c.grad.numpy(), 0), f"input {i}: {c.grad}"
        else:
            assert c.grad is not None, f"input {i}: eager has a gradient, compiled has none"
            np.testing.assert_allclose(c.grad.numpy(), e.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {i}")


def compare(fn, spec, compiled, requires=lambda k: True, dtype=np.float32, rtol=1e-4,
            atol=1e-5):
    """Run `fn` eagerly and `compiled` on equal fresh inputs, backward a weighted sum of the
    outputs, and compare outputs and gradients. Returns the compiled outputs."""
    ea = _make_args(spec, requires, dtype)
    ca = _make_args(spec, requires, dtype)
    eo, co = fn(*ea), compiled(*ca)
    el, cl = _leaves(eo), _leaves(co)
    assert len(el) == len(cl)
    for e, c in zip(el, cl):
        if isinstance(e, dg.Tensor):
            np.testing.assert_allclose(c.detach().numpy(), e.detach().numpy(), rtol=rtol, atol=atol)
            assert c.requires_grad == e.requires_grad
        else:
            assert int(c) == int(e)
    eloss, closs = _loss(eo), _loss(co)
    assert (eloss is None) == (closs is None)
    if eloss is not None:
        eloss.backward()
        closs.backward()
        assert any(isinstance(c.grad_fn, DifferentiableGraphBackward) for c in cl
                   if isinstance(c, dg.Tensor) and c.requires_grad)
    _assert_grads_match(_grad_leaves(ea), _grad_leaves(ca), rtol, atol)
    return co


def gradcheck_script(fn, spec, requires=lambda k: True, **kw):
    """Finite differences vs. the compiled backward of `dg.jit.script(fn)` in float64."""
    sf = dg.jit.script(fn)
    args = _make_args(spec, requires, np.float64)
    tensors = [a for a in args]
    assert dg.autograd.gradcheck(lambda *xs: sf(*xs), tensors, **kw)
    # and it really went through the compiled backward
    outs = [o for o in _leaves(sf(*args)) if isinstance(o, dg.Tensor) and o.requires_grad]
    assert outs and all(isinstance(o.grad_fn, DifferentiableGraphBackward) for o in outs)


# ------------------------------------------------------------------------ straight-line code
def several_ops(x, w, b):
    h = (x @ w + b).tanh()  # b broadcasts over the batch
    y = h * x.sum(1, keepdim=True).sigmoid() + h.exp() / (1 + x.pow(2).sum())
    return (y * y).mean(0) + h.relu().sum()


def used_twice(x, y):
    z = x * y
    return z * z + z.sin() + x / (y * y + 1)


def multi_output(x):
    m = x.max(dim=1)
    a, b = x.split(2, dim=1)
    return m.values * 2 + a.sum(1) - b.prod(1), m.indices


def int_alongside(x):
    s = x.softmax(-1)
    return s.argmax(-1), s * x, (x > 0).sum()


STRAIGHT = [
    ("several_ops", several_ops, lambda: [_rand(4, 3), _rand(3, 5, seed=1), _rand(5, seed=2)]),
    ("used_twice", used_twice, lambda: [_rand(3, 4), _rand(1, 4, seed=1)]),
    ("multi_output", multi_output, lambda: [_rand(3, 4)]),
    ("int_alongside", int_alongside, lambda: [_rand(2, 5)]),
]


@pytest.mark.parametrize("how", ["trace", "script"])
@pytest.mark.parametrize("name,fn,spec", STRAIGHT, ids=[c[0] for c in STRAIGHT])
def test_straight_line_matches_eager(how, name, fn, spec):
    s = spec()
    compiled = dg.jit.script(fn) if how == "script" else dg.jit.trace(
        fn, tuple(dg.tensor(a) for a in s))
    compare(fn, s, compiled)


def test_straight_line_only_some_inputs_require_grad():
    s = [_rand(4, 3), _rand(3, 5, seed=1), _rand(5, seed=2)]
    sf = dg.jit.script(several_ops)
    for k in range(3):
        compare(several_ops, s, sf, requires=lambda i, k=k: i == k)


def per_row(x, w, b):
    h = (x @ w + b).tanh()
    return h * x.sum(1, keepdim=True).sigmoid() + h.exp()


@pytest.mark.parametrize("how", ["trace", "script"])
def test_symbolic_batch_two_sizes_and_backward(how):
    w = _rand(3, 5, seed=1)
    b = _rand(5, seed=2)
    if how == "trace":
        compiled = dg.jit.trace(per_row, (dg.tensor(_rand(4, 3)), dg.tensor(w), dg.tensor(b)),
                                dynamic_dims={0: "B"})
    else:
        compiled = dg.jit.script(per_row, dynamic_dims={"x": {0: "B"}})
    for n in (2, 7):
        compare(per_row, [_rand(n, 3, seed=n), w, b], compiled)
    assert "B" in str(compiled.graph)


@pytest.mark.parametrize("reduce", ["sum", "mean0"])
def test_symbolic_batch_reduction_over_batch_dim(reduce):
    fn = (lambda x: (x * 2).sum()) if reduce == "sum" else (lambda x: (x * 2).mean(0))
    traced = dg.jit.trace(fn, (dg.tensor(_rand(4, 3)),), dynamic_dims={0: "B"})
    compare(fn, [_rand(5, 3)], traced)


def test_symbolic_batch_full_mlp_with_eager_loss():
    w = _rand(3, 5, seed=1)
    b = _rand(5, seed=2)
    traced = dg.jit.trace(several_ops, (dg.tensor(_rand(4, 3)), dg.tensor(w), dg.tensor(b)))
    compare(several_ops, [_rand(4, 3, seed=4), w, b], traced)


def test_symbolic_batch_scripted_with_loop_over_rows():
    def f(x, w):
        acc = x[0] * 0
        for i in range(x.shape[0]):
            acc = (acc + x[i]) @ w
        return acc
    sf = dg.jit.script(f, dynamic_dims={"x": {0: "T"}})
    w = _rand(3, 3, seed=5, scale=0.5)
    for n in (2, 5):
        compare(f, [_rand(n, 3, seed=n), w], sf)
    assert "T" in str(sf.graph)


# -------------------------------------------------------------------------------------- if
def if_simple(x, y):
    if x.sum() > 0:
        z = x * y
    else:
        z = x.exp() - y
    return z * 2


def if_one_sided(x, y):
    # `y` only used in the `then` arm
    if x.sum() > 0:
        z = x * y.sin()
    else:
        z = x * 3
    return z


def if_nested(x, y):
    if x.sum() > 0:
        if y.sum() > 0:
            z = x * y
        else:
            z = x - y * y
    else:
        if (x * y).sum() > 0:
            z = (x + y).tanh()
        else:
            z = x.exp() * y
    return z + x


def if_in_loop(x, w):
    for _ in range(4):
        if x.sum() > 0:
            x = x * w - 1
        else:
            x = (x + w).tanh() + 0.5
    return x


def loop_in_if(x, w):
    if x.sum() > 0:
        for _ in range(3):
            x = x * w + 0.1
    else:
        y = x
        for _ in range(2):
            y = y.sin() * w
        x = y
    return x


def loop_in_if_no_residuals(x, w):
    # the loop's body saves nothing for its backward (add only)
    if x.sum() > 0:
        for _ in range(3):
            x = x + w
    else:
        x = x * w
    return x


def while_in_if(x):
    if x.sum() > 0:
        while x.sum() < 10:
            x = x * 2
    return x


IFS = [
    ("if_simple", if_simple, [
        lambda: [_rand(3) + 2, _rand(3, seed=1)], lambda: [_rand(3) - 2, _rand(3, seed=1)]]),
    ("if_one_sided", if_one_sided, [
        lambda: [_rand(3) + 2, _rand(3, seed=1)], lambda: [_rand(3) - 2, _rand(3, seed=1)]]),
    ("if_nested", if_nested, [
        lambda: [np.array([1., 2, 3], np.float32), np.array([1., .5, 2], np.float32)],
        lambda: [np.array([1., 2, 3], np.float32), np.array([-1., -.5, -2], np.float32)],
        lambda: [np.array([-1., -2, 3], np.float32), np.array([-1., .5, -2], np.float32)],
        lambda: [np.array([-1., -2, 3], np.float32), np.array([1., .5, -2], np.float32)]]),
    ("if_in_loop", if_in_loop, [
        lambda: [np.array([1., 2, 3], np.float32), np.array([0.5, -1, 1.2], np.float32)],
        lambda: [np.array([-1., -2, 0.5], np.float32), np.array([0.5, 1, 1.2], np.float32)]]),
    ("loop_in_if_no_residuals", loop_in_if_no_residuals, [
        lambda: [np.array([1., 2, 3], np.float32), np.array([0.5, -1, 1.2], np.float32)],
        lambda: [np.array([-1., -2, 0.5], np.float32), np.array([0.5, 1, 1.2], np.float32)]]),
]


@pytest.mark.parametrize("name,fn,specs", IFS, ids=[c[0] for c in IFS])
def test_if_every_branch_matches_eager(name, fn, specs):
    sf = dg.jit.script(fn)
    for spec in specs:  # one compiled graph, each branch taken in turn
        compare(fn, spec(), sf)
    assert "if(" in str(sf.graph)


# A loop inside an `if` arm whose body saves residuals: the other arm yields an empty list.
def test_loop_with_residuals_inside_if():
    sf = dg.jit.script(loop_in_if)
    compare(loop_in_if, [np.array([1., 2, 3], np.float32), np.array([.5, -1, 1.2], np.float32)],
            sf)


def test_while_inside_if():
    compare(while_in_if, [np.array([1., 2, 3], np.float32)], dg.jit.script(while_in_if))


def test_if_input_used_in_one_branch_gets_zero_or_none():
    sf = dg.jit.script(if_one_sided)
    x = dg.tensor(_rand(3) - 2, requires_grad=True)
    y = dg.tensor(_rand(3, seed=1), requires_grad=True)
    sf(x, y).sum().backward()
    assert y.grad is None or np.allclose(y.grad.numpy(), 0)
    np.testing.assert_allclose(x.grad.numpy(), [3, 3, 3])


# ----------------------------------------------------------------------------------- loops
def loop_fixed(x, w):
    for _ in range(3):
        x = (x * w).sin() + x
    return x


def loop_int_arg(x, w, n: int):
    for i in range(n):
        x = x * w + i * 0.1
    return x


def while_data(x):
    y = x
    while y.abs().sum() < 100:
        y = y * 1.5 + x
    return y


def break_data(x, w):
    acc = x[0] * 0
    for i in range(x.shape[0]):
        if x[i].sum() < 0:
            break
        acc = acc + x[i] * w
    return acc


def continue_data(x, w):
    acc = x[0] * 0
    for i in range(x.shape[0]):
        if x[i].sum() < 0:
            continue
        acc = acc * w + x[i]
    return acc


def early_return(x, w):
    h = x[0] * 0
    for i in range(x.shape[0]):
        h = h + x[i] * w
        if h.sum() > 3:
            return h * 10
    return h - 1


def nested_loops(x, a, b):
    u = a
    v = b
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            u, v = u * x[i, j] + v, v.tanh() + u * 0.1
        u = u * 0.5
    return u, v


def rnn_for_in(xs, h, wx, wh, b):
    for x in xs:
        h = (x @ wx + h @ wh + b).tanh()
    return h


def rnn_range(xs, h, wx, wh, b):
    for t in range(xs.shape[0]):
        h = (xs[t] @ wx + h @ wh + b).tanh()
    return h


def free_weights(x, w, v):
    h = x
    s = x.sum() * 0
    for _ in range(4):
        h = (h * w).tanh() + v  # w, v read every iteration: gradients sum over iterations
        s = s + (h * v).sum()
    return h, s


def while_counted(x, w):
    k = 0
    while x.abs().max() < 10:
        x = x * w + 0.5
        k += 1
    return x, k


LOOPS = [
    ("loop_fixed", loop_fixed, [lambda: [_rand(3), _rand(3, seed=1)]]),
    ("loop_int_arg", loop_int_arg, [lambda: [_rand(3), _rand(3, seed=1), 4],
                                    lambda: [_rand(3), _rand(3, seed=1), 0],
                                    lambda: [_rand(3), _rand(3, seed=1), 1]]),
    ("while_data", while_data, [lambda: [np.array([1., 2, 3], np.float32)],
                                lambda: [np.array([.1, -.2, .05], np.float32)],
                                lambda: [np.array([50., 60, 3], np.float32)]]),
    ("while_counted", while_counted, [
        lambda: [np.array([1., 2, 3], np.float32), np.array([1.5, 1.1, 1.2], np.float32)]]),
    ("break_data", break_data, [
        lambda: [_rand(5, 3) + 1, _rand(3, seed=1)],
        lambda: [np.concatenate([_rand(2, 3) + 2, _rand(3, 3) - 2]), _rand(3, seed=1)],
        lambda: [_rand(5, 3) - 3, _rand(3, seed=1)]]),
    ("continue_data", continue_data, [
        lambda: [np.array([[1., 2], [-3, 1], [1, 1], [-1, -1], [2, .5]], np.float32),
                 _rand(2, seed=1)]]),
    ("early_return", early_return, [
        lambda: [np.abs(_rand(6, 3)) + 0.5, np.array([1., 1, 1], np.float32)],
        lambda: [_rand(6, 3) * 0.1, np.array([0.1, 0.1, 0.1], np.float32)]]),
    ("nested_loops", nested_loops, [
        lambda: [_rand(2, 3, scale=0.5), _rand(4, seed=1), _rand(4, seed=2)]]),
    ("rnn_for_in", rnn_for_in, [
        lambda: [_rand(5, 2, 3), _rand(2, 4, seed=1), _rand(3, 4, seed=2, scale=.5),
                 _rand(4, 4, seed=3, scale=.5), _rand(4, seed=4)]]),
    ("rnn_range", rnn_range, [
        lambda: [_rand(5, 2, 3), _rand(2, 4, seed=1), _rand(3, 4, seed=2, scale=.5),
                 _rand(4, 4, seed=3, scale=.5), _rand(4, seed=4)]]),
    ("free_weights", free_weights, [lambda: [_rand(3), _rand(3, seed=1), _rand(3, seed=2)]]),
]


@pytest.mark.parametrize("name,fn,specs", LOOPS, ids=[c[0] for c in LOOPS])
def test_loop_matches_eager(name, fn, specs):
    sf = dg.jit.script(fn)
    for spec in specs:
        compare(fn, spec(), sf)
    assert "loop(" in str(sf.graph)


def list_arg(xs, w):
    acc = xs[0] * 0
    for t in xs:
        acc = acc * w + t
    return acc


def break_in_while(x, w):
    k = 0
    while k < 10:
        x = x * w
        if x.abs().sum() > 5:
            break
        k += 1
    return x


def return_in_nested_if(x, w):
    for i in range(x.shape[0]):
        if x[i].sum() > 0:
            if (x[i] * w).sum() > 1:
                return x[i] * w
    return w * 2


def while_in_loop(x, w):
    for i in range(3):
        while x.abs().sum() < 20:
            x = x * w + 1
        x = x * 0.1
    return x


def if_in_nested_loops(x, w):
    for i in range(2):
        for j in range(2):
            if (x * w).sum() > 0:
                x = x * w
            else:
                x = x - w * w
    return x


def stack_per_step(x, w):
    out = []
    for i in range(3):
        x = dg.where(x > 0, x * w, x.exp()).softmax(-1) + x
        out.append(x)
    return dg.stack(out)


X3 = np.array([1., 2, 3], np.float32)
W3 = np.array([.5, -1.2, .8], np.float32)
MORE_LOOPS = [
    ("list_arg", list_arg, [X3, X3 * 2, -X3], W3),
    ("break_in_while", break_in_while, X3, np.array([1.5, 1.2, 1.1], np.float32)),
    ("return_in_nested_if", return_in_nested_if,
     np.array([[-1., 2, 3], [1, 2, 3]], np.float32), W3),
    ("while_in_loop", while_in_loop, X3, np.array([1.5, 1.2, 1.1], np.float32)),
    ("if_in_nested_loops", if_in_nested_loops, X3, W3),
    ("stack_per_step", stack_per_step, np.array([1., -2, 3], np.float32), W3),
]


@pytest.mark.parametrize("name,fn,a,b", MORE_LOOPS, ids=[c[0] for c in MORE_LOOPS])
def test_more_control_flow_matches_eager(name, fn, a, b):
    compare(fn, [a, b], dg.jit.script(fn))


def test_trip_count_from_int_tensor():
    sf = dg.jit.script(loop_int_arg)
    for n in (0, 3, 5):  # one graph: the count is a 0-d int64 input
        compare(lambda x, w, n: loop_int_arg(x, w, int(n)),
                [_rand(3), _rand(3, seed=1), np.array(n)], sf)
    assert len(sf._cache) == 1


def test_while_trip_count_really_differs():
    sf = dg.jit.script(while_counted)
    w = dg.tensor([1.5, 1.1, 1.2])
    _, k1 = sf(dg.tensor([1., 2, 3], requires_grad=True), w)
    _, k2 = sf(dg.tensor([5., 2, 3], requires_grad=True), w)
    assert int(k1) != int(k2)


@pytest.mark.parametrize("fn", [rnn_range, rnn_for_in], ids=["range", "for_in"])
def test_rnn_dynamic_time_dimension(fn):
    sf = dg.jit.script(fn, dynamic_dims={"xs": {0: "T"}})
    rest = [_rand(2, 4, seed=1), _rand(3, 4, seed=2, scale=.5), _rand(4, 4, seed=3, scale=.5),
            _rand(4, seed=4)]
    for t in (1, 3, 6):
        compare(fn, [_rand(t, 2, 3, seed=t)] + rest, sf)
    assert "T" in str(sf.graph)


def test_free_weights_accumulate_over_iterations():
    # d/dw sum_k (w * x) for 4 iterations of `acc = acc + w * x` is 4 * x
    def f(x, w):
        acc = x * 0
        for _ in range(4):
            acc = acc + w * x
        return acc
    sf = dg.jit.script(f)
    x = dg.tensor([1., 2, 3])
    w = dg.tensor([0.5, 0.5, 0.5], requires_grad=True)
    sf(x, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4., 8, 12])


# ------------------------------------------------------------------------ finite differences
GRADCHECK = [
    ("several_ops", several_ops, [_rand(2, 3), _rand(3, 2, seed=1), _rand(2, seed=2)]),
    ("multi_output", multi_output, [_rand(2, 4)]),
    ("if_simple+", if_simple, [_rand(3) + 2, _rand(3, seed=1)]),
    ("if_simple-", if_simple, [_rand(3) - 2, _rand(3, seed=1)]),
    ("if_nested", if_nested, [np.array([-1., -2, 2.5]), np.array([1., .5, -2])]),
    ("if_in_loop", if_in_loop, [np.array([1., 2, 3]), np.array([0.5, -1, 1.2])]),
    ("loop_in_if_no_residuals", loop_in_if_no_residuals,
     [np.array([1., 2, 0.5]), np.array([0.5, 1, 1.2])]),
    ("loop_fixed", loop_fixed, [_rand(3), _rand(3, seed=1)]),
    ("loop_int_arg", loop_int_arg, [_rand(3), _rand(3, seed=1), 3]),
    ("while_data", while_data, [np.array([1., 2, 3])]),
    ("break_data", break_data, [np.concatenate([_rand(2, 3) + 2, _rand(2, 3) - 2]),
                                _rand(3, seed=1)]),
    ("continue_data", continue_data, [np.array([[1., 2], [-3, 1], [1, 1], [2, .5]]),
                                      _rand(2, seed=1)]),
    ("early_return", early_return, [np.abs(_rand(4, 2)) + 0.5, np.array([1., 1])]),
    ("nested_loops", nested_loops, [_rand(2, 2, scale=0.5), _rand(2, seed=1), _rand(2, seed=2)]),
    ("rnn_for_in", rnn_for_in, [_rand(3, 1, 2), _rand(1, 2, seed=1), _rand(2, 2, seed=2),
                                _rand(2, 2, seed=3), _rand(2, seed=4)]),
    ("free_weights", free_weights, [_rand(2), _rand(2, seed=1), _rand(2, seed=2)]),
]


@pytest.mark.parametrize("name,fn,spec", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck_scripted(name, fn, spec):
    gradcheck_script(fn, spec)


# ----------------------------------------------------------------------- the graphs printed
def test_while_loop_backward_graph_reads_per_iteration_residuals():
    sf = dg.jit.script(while_data)
    x = dg.tensor([1., 2, 3], requires_grad=True)
    sf(x)
    bwd = str(sf.compiled.backward_graph(x))
    assert "loop(" in bwd and "list_get(" in bwd
    grad = differentiate(sf.compiled.graph_before_passes, [True])
    assert "list_append(" in str(grad.forward)
    from dualgraph.passes.manager import optimize
    assert str(optimize(grad.backward, sf.compiled.opt_level)[0]) == bwd  # the same pipeline


def test_traced_backward_graph():
    x = dg.tensor(_rand(2, 3))
    traced = dg.jit.trace(used_twice, (x, x))
    bwd = str(traced.backward_graph(x.detach().requires_grad_(), x))
    assert "grad_0" in bwd and "loop(" not in bwd


# --------------------------------------------------------------------- autograd semantics
def test_no_grad_outputs_have_no_grad_fn():
    sf = dg.jit.script(loop_fixed)
    x = dg.tensor(_rand(3), requires_grad=True)
    with dg.no_grad():
        y = sf(x, dg.tensor(_rand(3, seed=1), requires_grad=True))
    assert y.grad_fn is None and not y.requires_grad


def test_inputs_not_requiring_grad_give_no_backward_node():
    for compiled in (dg.jit.script(loop_fixed),
                     dg.jit.trace(loop_fixed, (dg.tensor(_rand(3)), dg.tensor(_rand(3))))):
        y = compiled(dg.tensor(_rand(3)), dg.tensor(_rand(3, seed=1)))
        assert y.grad_fn is None and not y.requires_grad
        assert not isinstance(y.grad_fn, DifferentiableGraphBackward)


def test_second_backward_raises_and_retain_graph_accumulates():
    sf = dg.jit.script(while_data)
    x = dg.tensor([1., 2, 3], requires_grad=True)
    y = sf(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    x2 = dg.tensor([1., 2, 3], requires_grad=True)
    y2 = sf(x2).sum()
    y2.backward(retain_graph=True)
    once = x2.grad.numpy().copy()
    y2.backward()
    np.testing.assert_allclose(x2.grad.numpy(), 2 * once)
    np.testing.assert_allclose(once, x.grad.numpy())


def test_create_graph_raises_clearly():
    sf = dg.jit.script(used_twice)
    x = dg.tensor(_rand(3), requires_grad=True)
    y = dg.tensor(_rand(3, seed=1), requires_grad=True)
    with pytest.raises(RuntimeError, match="create_graph"):
        dg.autograd.grad(sf(x, y).sum(), [x], create_graph=True)


def test_gradients_accumulate_across_calls_like_eager():
    sf = dg.jit.script(if_in_loop)
    xs = [np.array([1., 2, 3], np.float32), np.array([-1., -2, 0.5], np.float32)]
    w_e = dg.tensor([0.5, -1, 1.2], requires_grad=True)
    w_c = dg.tensor([0.5, -1, 1.2], requires_grad=True)
    for x in xs:
        if_in_loop(dg.tensor(x), w_e).sum().backward()
        sf(dg.tensor(x), w_c).sum().backward()
    np.testing.assert_allclose(w_c.grad.numpy(), w_e.grad.numpy(), rtol=1e-5)


def same_output_twice(x):
    y = x.exp()
    return y, y


@pytest.mark.parametrize("how", ["trace", "script"])
def test_same_value_returned_twice(how):
    s = [_rand(3)]
    compiled = dg.jit.script(same_output_twice) if how == "script" else dg.jit.trace(
        same_output_twice, (dg.tensor(s[0]),))
    compare(same_output_twice, s, compiled)


def detached_loop(x, w):
    h = x
    for _ in range(3):
        h = h * w
    return h.detach() + x


@pytest.mark.parametrize("how", ["trace", "script"])
def test_detach_stops_gradients(how):
    s = [X3, W3]
    compiled = dg.jit.script(detached_loop) if how == "script" else dg.jit.trace(
        detached_loop, tuple(dg.tensor(a) for a in s))
    compare(detached_loop, s, compiled)


def test_compiled_output_mixed_with_eager_ops():
    sf = dg.jit.script(loop_fixed)
    xe = dg.tensor(_rand(3), requires_grad=True)
    xc = dg.tensor(_rand(3), requires_grad=True)
    w = _rand(3, seed=1)
    ((loop_fixed(xe * 2, dg.tensor(w)) ** 2).sum() + xe.sum()).backward()
    ((sf(xc * 2, dg.tensor(w)) ** 2).sum() + xc.sum()).backward()
    np.testing.assert_allclose(xc.grad.numpy(), xe.grad.numpy(), rtol=1e-5)


# ------------------------------------------------------------------------------- training
def _train(model, forward, data, steps=5):
    opt = dg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for k in range(steps):
        x, y = data[k % len(data)]
        opt.zero_grad()
        loss = ((forward(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def _mlp(seed=0):
    dg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


@pytest.mark.parametrize("how", ["trace", "script"])
def test_mlp_training_matches_eager(how):
    data = [(dg.tensor(_rand(4, 3, seed=k)), dg.tensor(_rand(4, 2, seed=10 + k)))
            for k in range(3)]
    eager = _mlp()
    expected = _train(eager, eager, data)
    model = _mlp()
    compiled = dg.jit.trace(model, data[0][0]) if how == "trace" else dg.jit.script(model)
    got = _train(model, compiled, data)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


class GRUOverTime(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, xs):
        h = dg.zeros(xs.shape[1], 4)
        for x in xs:
            h = self.cell(x, h)
        return self.head(h)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic_T"])
def test_gru_loop_training_matches_eager(dynamic):
    lengths = (5, 2, 4) if dynamic else (5, 5, 5)
    data = [(dg.tensor(_rand(t, 2, 3, seed=k)), dg.tensor(_rand(2, 2, seed=10 + k)))
            for k, t in enumerate(lengths)]
    dg.manual_seed(1)
    eager = GRUOverTime()
    expected = _train(eager, eager, data)
    dg.manual_seed(1)
    model = GRUOverTime()
    scripted = dg.jit.script(model, dynamic_dims={"xs": {0: "T"}} if dynamic else None)
    got = _train(model, scripted, data)
    assert "loop(" in str(scripted.graph)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
