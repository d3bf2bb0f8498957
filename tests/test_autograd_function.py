"""`dg.autograd.Function`: custom forward/backward in eager mode and inside traced and scripted
graphs.

Expected messages and numbers were produced by PyTorch 2.13 (CPU) running the same classes
(PyTorch is not imported here). Gradients are checked against finite differences
(`dg.autograd.gradcheck`, float64) and against NumPy's formulas.
"""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.autograd import Function, gradcheck, once_differentiable
from dualgraph.ir.ops.python import CALLS


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y


class Scale(Function):
    """A tensor and two non-tensor arguments; ctx keeps a Python attribute."""

    @staticmethod
    def forward(ctx, x, k, flag=True):
        ctx.k = k
        ctx.seen = ctx.needs_input_grad
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None, None


class MulAdd(Function):
    """Two tensor inputs, two outputs: (x * y, x + y)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y, x + y

    @staticmethod
    def backward(ctx, g_mul, g_add):
        x, y = ctx.saved_tensors
        return g_mul * y + g_add, g_mul * x + g_add


def _x(values=(1.0, 2.0), dtype=None):
    return dg.tensor(list(values), dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------------------------ eager

def test_gradient_matches_numpy_and_the_node_is_named_after_the_class():
    x = _x((0.5, -1.0, 2.0))
    y = Exp.apply(x)
    assert type(y.grad_fn).__name__ == "ExpBackward" and y.grad_fn.name() == "ExpBackward"
    assert "grad_fn=<ExpBackward>" in repr(y)
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, -1.0, 2.0]), rtol=1e-6)


@pytest.mark.parametrize("fn", [
    lambda x, y: Exp.apply(x),
    lambda x, y: Scale.apply(x, 3.0),
    lambda x, y: MulAdd.apply(x, y),
    lambda x, y: MulAdd.apply(Exp.apply(x), y * y)[0].sin(),
], ids=["exp", "scale", "two-outputs", "composed"])
def test_gradcheck_against_finite_differences(fn):
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.normal(size=(3, 2)), dtype=dg.float64, requires_grad=True)
    y = dg.tensor(rng.normal(size=(3, 2)), dtype=dg.float64, requires_grad=True)
    assert gradcheck(fn, (x, y))


def test_ctx_is_the_node_non_tensor_arguments_get_none_and_needs_input_grad():
    x = _x()
    y = Scale.apply(x, 3.0)
    assert y.grad_fn.k == 3.0 and y.grad_fn.seen == (True, False)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    with dg.no_grad():  # PyTorch: needs_input_grad follows requires_grad, not the grad mode
        z = Scale.apply(x, 2.0)
    assert z.grad_fn is None and not z.requires_grad
    assert Scale.apply(dg.tensor([1.0]), 2.0).grad_fn is None


def test_forward_runs_without_grad_and_backward_with_create_graph():
    modes = []

    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(("forward", dg.is_grad_enabled()))
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            modes.append(("backward", dg.is_grad_enabled()))
            x, = ctx.saved_tensors
            return 2 * x * g

    x = _x((1.0, 3.0))
    gx, = dg.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    assert gx.tolist() == [2.0, 6.0] and gx.grad_fn.name() == "MulBackward0"  # PyTorch's
    gx.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert modes == [("forward", False), ("backward", True)]


def test_saved_tensors_are_version_checked_and_freed_after_backward():
    x = _x()
    y = Exp.apply(x)
    assert y.grad_fn.saved_tensors[0].tolist() == pytest.approx(np.exp([1.0, 2.0]).tolist())
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="directly access saved tensors after they have "
                                           "already been freed"):
        y.grad_fn.saved_tensors
    y = Exp.apply(x)
    with dg.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[torch.FloatTensor "
                                           r"\[2\]\], which is output 0 of ExpBackward, is at "
                                           "version 1; expected version 0"):
        y.sum().backward()


def test_save_for_backward_refuses_non_tensors_and_keeps_none():
    class SaveBad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="save_for_backward can only save variables, but argument "
                                        "1 is of type int"):
        SaveBad.apply(_x())
    seen = []

    class SaveNone(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(None, x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.saved_tensors)
            return g

    x = _x()
    SaveNone.apply(x).sum().backward()
    assert seen[0][0] is None and seen[0][1].tolist() == [1.0, 2.0]


def test_non_differentiable_outputs_and_materialized_gradients():
    got = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            return x * 2, (x > 0).sum(), idx, 5

        @staticmethod
        def backward(ctx, ga, gb, gi):
            got.append((ga, gb, gi))
            return ga * 2

    x = _x()
    a, b, i, five = Two.apply(x)
    assert (a.requires_grad, b.requires_grad, i.requires_grad, five) == (True, False, False, 5)
    assert a.grad_fn.name() == "TwoBackward" and b.grad_fn is None and i.grad_fn is None
    a.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    ga, gb, gi = got[0]  # PyTorch: tensor([1., 1.]) tensor(0) tensor(0)
    assert ga.tolist() == [1.0, 1.0] and gb.dtype == dg.int64 and gb.item() == 0 == gi.item()


@pytest.mark.parametrize("materialize,expected", [(False, None), (True, [0.0, 0.0])])
def test_set_materialize_grads(materialize, expected):
    got = []

    class Pair(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            got.append(g1)
            return g2 * 2

    x = _x()
    Pair.apply(x)[1].sum().backward()
    assert (got[0] if got[0] is None else got[0].tolist()) == expected
    assert x.grad.tolist() == [2.0, 2.0]


def _returning(grads):
    class Bad(Scale):
        @staticmethod
        def backward(ctx, g):
            return grads(g)
    Bad.__name__ = "Bad"
    Bad._backward_cls.__name__ = "BadBackward"
    return Bad


@pytest.mark.parametrize("grads,message", [
    (lambda g: (g, 1.0), "function BadBackward returned a gradient different than None at "
                         "position 2, but the corresponding forward input was not a Variable"),
    (lambda g: g, r"function BadBackward returned an incorrect number of gradients \(expected 2, "
                  r"got 1\)"),
    (lambda g: (g, None, None, g), r"function BadBackward returned an incorrect number of "
                                   r"gradients \(expected 2, got 4\)"),
    (lambda g: (dg.ones(3), None), r"Function BadBackward returned an invalid gradient at index "
                                   r"0 - got \[3\] but expected shape compatible with \[2\]"),
    (lambda g: (dg.ones(1), None), r"Function BadBackward returned an invalid gradient at index "
                                   r"0 - got \[1\] but expected shape compatible with \[2\]"),
    (lambda g: ("a", None), r"expected Variable or None \(got str\)"),
])
def test_what_backward_returns_is_checked_as_pytorch_checks_it(grads, message):
    with pytest.raises(RuntimeError, match=message):
        _returning(grads).apply(_x(), 3.0).sum().backward()


@pytest.mark.parametrize("grads", [
    lambda g: (g, None, None, None),                # extra trailing Nones are dropped
    lambda g: (dg.ones(1, 2), None),                # a gradient the input broadcasts to: summed
    lambda g: (dg.ones(2, dtype=dg.float64), None),  # another dtype: cast to the input's
])
def test_gradients_pytorch_accepts(grads):
    x = _x()
    _returning(grads).apply(x, 3.0).sum().backward()
    assert x.grad.dtype == dg.float32 and x.grad.tolist() in ([1.0, 1.0], [3.0, 3.0])


def test_an_input_returned_unchanged_is_a_new_tensor_with_the_function_as_grad_fn():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = _x()
    y = Ident.apply(x)
    assert y is not x and y.grad_fn.name() == "IdentBackward"
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    plain = dg.tensor([1.0, 2.0])
    z = Ident.apply(plain)
    assert z is not plain and z.grad_fn is None
    assert Ident.apply(x * 1).grad_fn.next_functions[0][0].name() == "MulBackward0"


def test_mark_dirty():
    class Dirty(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = _x()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used in "
                                           "an in-place operation."):
        Dirty.apply(x)
    z = x * 1
    w = Dirty.apply(z)
    assert w is z and z.grad_fn.name() == "DirtyBackward" and z._version.value == 2
    w.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_setup_context_style_and_keyword_arguments():
    class Mul2(Function):
        @staticmethod
        def forward(x, y):
            return x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

    a, b = _x(), dg.tensor([3.0, 4.0])
    r = Mul2.apply(a, y=b)
    assert r.grad_fn.name() == "Mul2Backward" and r.grad_fn.needs_input_grad == (True, False)
    r.sum().backward()
    assert a.grad.tolist() == [3.0, 4.0]
    x = _x()
    assert Scale.apply(x, k=2.0).tolist() == [2.0, 4.0]  # PyTorch passes keywords to forward


def test_a_list_output_is_returned_as_is_and_legacy_uses_fail_as_in_pytorch():
    class ListOut(Function):
        @staticmethod
        def forward(ctx, x):
            return [x * 2, x * 3]

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 + g2

    out = ListOut.apply(_x())
    assert isinstance(out, list) and [t.grad_fn for t in out] == [None, None]
    with pytest.warns(DeprecationWarning, match="should not be instantiated"):
        legacy = Exp()
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward "
                                           "method is deprecated"):
        legacy(_x())
    with pytest.raises(NotImplementedError, match="You must implement the forward function for "
                                                  "custom autograd.Function."):
        type("NoForward", (Function,), {}).apply(_x())


def test_once_differentiable_refuses_double_backward():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            assert not dg.is_grad_enabled()
            return 3 * x * x * g

    x = _x()
    gx, = dg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert gx.tolist() == [3.0, 12.0]  # the incoming gradient needs none: gx has no history
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        gx.sum().backward()
    v = dg.ones(2, requires_grad=True)
    gx, = dg.autograd.grad(Cube.apply(x), x, grad_outputs=v, create_graph=True)
    assert gx.tolist() == [3.0, 12.0] and "grad_fn=<Error>" in repr(gx)
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was "
                                           "marked with @once_differentiable"):
        gx.sum().backward()


def test_hooks_on_the_node_run():
    x = _x()
    y = Exp.apply(x)
    seen = []
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: seen.append(len(grad_inputs)))
    y.sum().backward()
    assert seen == [1]


# ------------------------------------------------------------------------- traced graphs

class TenfoldExp(Function):
    """exp with a deliberately wrong backward (10x), so a test can see that graphs use it."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y * 10


def _f(x):
    return TenfoldExp.apply(x * 2).sum()


def test_trace_keeps_the_custom_backward():
    x = _x((0.5, 1.0))
    traced = dg.jit.trace(_f, (x,))
    node = next(n for n in traced.graph.nodes if n.op.name == "python_function")
    assert node.attrs["function"].endswith("TenfoldExp")
    y = traced(x)
    assert y.item() == pytest.approx(np.exp([1.0, 2.0]).sum(), rel=1e-6)
    y.backward()
    # PyTorch 2.13's traced graph (prim::PythonOp) gives tensor([ 54.3656, 147.7811])
    np.testing.assert_allclose(x.grad.numpy(), [54.3656, 147.7811], rtol=1e-5)
    x.grad = None
    _f(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [54.3656, 147.7811], rtol=1e-5)


def test_trace_with_several_outputs_non_tensor_arguments_and_parameters():
    class Net(dg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = dg.nn.Parameter(dg.tensor([[1.0, -2.0], [0.5, 3.0]]))

        def forward(self, x):
            a, b = MulAdd.apply(x @ self.w, x)
            return Scale.apply(a, 0.5).sum() + b.pow(2).sum()

    net = Net()
    x = dg.tensor([[0.1, 0.2], [0.3, -0.4], [1.0, 2.0]], requires_grad=True)
    traced = dg.jit.trace(net, (x,))
    out = traced(x)
    out.backward()
    got = (x.grad.numpy().copy(), net.w.grad.numpy().copy())
    x.grad = None
    net.w.grad = None
    expected_out = net(x)
    expected_out.backward()
    assert out.item() == pytest.approx(expected_out.item(), rel=1e-6)
    np.testing.assert_allclose(got[0], x.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(got[1], net.w.grad.numpy(), rtol=1e-6)


def test_script_keeps_the_custom_backward():
    @dg.jit.script
    def g(x: dg.Tensor) -> dg.Tensor:
        return TenfoldExp.apply(x * 2).sum()

    x = _x((0.5, 1.0))
    g(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [54.3656, 147.7811], rtol=1e-5)


def test_the_ctx_of_a_graph_run_lives_until_its_backward():
    x = _x((0.5, 1.0))
    traced = dg.jit.trace(_f, (x,))
    call = CALLS[next(n for n in traced.graph.nodes if n.op.name == "python_function")
                 .attrs["call"]]
    y = traced(x)
    assert len(call.live) == 1
    y.backward()
    assert len(call.live) == 0
    with dg.no_grad():
        traced(x)
    traced(dg.tensor([1.0, 2.0]))
    assert len(call.live) == 0


def test_saving_a_graph_with_a_python_function_is_refused_naming_it(tmp_path):
    traced = dg.jit.trace(_f, (_x((0.5, 1.0)),))
    with pytest.raises(dg.SerializationError, match="Could not export Python function call "
                                                    "'TenfoldExp'"):
        traced.save(tmp_path / "f.dgm")
    with pytest.raises(dg.SerializationError, match="Could not export Python function call"):
        dg.jit.save(traced, tmp_path / "g.dgm")
    assert not (tmp_path / "f.dgm").exists()


def test_a_file_naming_a_python_function_op_is_refused():
    from dualgraph.serialize.schema import graph_from_json, graph_tensors, graph_to_json
    traced = dg.jit.trace(lambda x: x.exp(), (dg.ones(2),))
    obj = graph_to_json(traced.graph)
    obj["nodes"][0]["op"] = "python_function"
    with pytest.raises(dg.SerializationError, match="calls Python code of the process that "
                                                    "traced it"):
        graph_from_json(obj, graph_tensors(traced.graph))


def test_tracing_refuses_tensors_hidden_in_keywords():
    x = _x()
    with pytest.raises(dg.TraceError, match="a tensor inside a keyword argument"):
        dg.jit.trace(lambda t: Scale.apply(t, k=t), (x,))


def test_tracing_explains_what_a_traced_forward_cannot_do():
    class Dirty(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Peek(Function):
        @staticmethod
        def forward(ctx, x):
            return x * float(x.sum())

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(dg.TraceError, match="marks inputs dirty"):
        dg.jit.trace(lambda t: Dirty.apply(t * 1), (dg.ones(2),))
    with pytest.raises(dg.TraceError, match=r"while tracing Peek.apply\(\): its forward runs once "
                                            "on symbolic tensors"):
        dg.jit.trace(lambda t: Peek.apply(t), (dg.ones(2),))


def test_a_scripted_loop_keeps_one_ctx_per_iteration():
    class SinTenfold(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * x.cos() * 10

    def body(x, n):
        for _ in range(n):
            x = SinTenfold.apply(x) * 0.9
        return x.sum()

    scripted = dg.jit.script(body)
    x = _x((0.3, -0.5))
    scripted(x, 3).backward()
    got = x.grad.numpy().copy()
    x.grad = None
    body(x, 3).backward()
    np.testing.assert_allclose(got, x.grad.numpy(), rtol=1e-6)
    loop = next(n for n in scripted.graph.nodes if n.op.name == "loop")
    key = next(n for n in loop.blocks[0].nodes if n.op.name == "python_function").attrs["call"]
    assert len(CALLS[key].live) == 0  # every iteration's ctx freed after backward
