"""dg.jit.trace: symbolic batch sizes, live module state, side effects, TraceError, check_inputs,
and gradients through traced functions."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.jit import GraphInputError, TraceError


class MLP:
    """A two-layer perceptron from plain dualgraph ops (the nn library comes later)."""

    def __init__(self, n_in=6, n_hidden=5, n_out=3):
        self.w1 = dg.randn(n_in, n_hidden, requires_grad=True)
        self.b1 = dg.zeros(n_hidden, requires_grad=True)
        self.w2 = dg.randn(n_hidden, n_out, requires_grad=True)
        self.b2 = dg.zeros(n_out, requires_grad=True)

    def __call__(self, x):
        h = (x @ self.w1 + self.b1).relu()
        return (h @ self.w2 + self.b2).sigmoid()


def rnn_cell_unrolled(xs, h, w_x, w_h, b):
    """An Elman RNN cell over 5 steps; xs is (steps, batch, features)."""
    for t in range(xs.shape[0]):
        h = (xs[t] @ w_x + h @ w_h + b).tanh()
    return h


def test_mlp_traces_with_a_symbolic_batch_and_runs_at_any_batch_size():
    dg.manual_seed(0)
    model = MLP()
    traced = dg.jit.trace(model, dg.randn(7, 6), dynamic_dims={0: "B"})
    assert "%x: f32[B, 6]" in str(traced.graph)
    assert traced.state_names == ["w1", "b1", "w2", "b2"]
    for batch in (1, 7, 64):
        x = dg.randn(batch, 6)
        with dg.no_grad():
            expected = model(x)
            got = traced(x)
        assert got.shape == (batch, 3)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_rnn_cell_unrolled_over_five_steps():
    dg.manual_seed(1)
    w_x, w_h, b = dg.randn(4, 8), dg.randn(8, 8), dg.randn(8)
    xs, h = dg.randn(5, 3, 4), dg.zeros(3, 8)
    traced = dg.jit.trace(rnn_cell_unrolled, (xs, h, w_x, w_h, b),
                          dynamic_dims=[{1: "B"}, {0: "B"}])
    assert traced.graph.op_counts()["tanh"] == 5  # Python's loop was unrolled
    for batch in (1, 7, 64):
        xs, h = dg.randn(5, batch, 4), dg.randn(batch, 8)
        np.testing.assert_allclose(traced(xs, h, w_x, w_h, b).numpy(),
                                   rnn_cell_unrolled(xs, h, w_x, w_h, b).numpy(), rtol=1e-5,
                                   atol=1e-5)  # fused float32 tanh: ulps, grown by 5 steps


def test_parameters_are_live_inputs_not_constants():
    model = MLP()
    traced = dg.jit.trace(model, dg.randn(2, 6))
    assert "constant" not in traced.graph.op_counts()
    x = dg.randn(2, 6)
    with dg.no_grad():
        model.w1.mul_(2)  # an optimizer step; the traced function must see it
        np.testing.assert_allclose(traced(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_gradients_reach_the_parameters_through_a_traced_module():
    model = MLP()
    traced = dg.jit.trace(model, dg.randn(4, 6), dynamic_dims={0: "B"})
    x = dg.randn(9, 6)
    traced(x).sum().backward()
    grads = [p.grad.numpy().copy() for p in (model.w1, model.b1, model.w2, model.b2)]
    for p in (model.w1, model.b1, model.w2, model.b2):
        p.grad = None
    model(x).sum().backward()
    for g, p in zip(grads, (model.w1, model.b1, model.w2, model.b2)):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6, atol=1e-6)


class Counter:
    def __init__(self):
        self.total = dg.zeros(3)  # a buffer: no grad
        self.calls = dg.zeros(())

    def forward(self, x):
        self.total = self.total + x  # reassignment: PyTorch's tracer drops this
        self.calls.add_(1)  # in place
        return x * 2


def test_buffer_updates_are_side_effects_the_graph_keeps():
    counter = Counter()
    traced = dg.jit.trace(counter, dg.ones(3))
    assert counter.total.tolist() == [0.0, 0.0, 0.0]  # tracing itself changed nothing
    traced(dg.ones(3))
    traced(dg.full((3,), 2.0))
    assert counter.total.tolist() == [3.0, 3.0, 3.0]
    assert counter.calls.item() == 2.0


def test_in_place_changes_of_inputs_are_written_back():
    def f(x):
        x.mul_(3)
        x[0] = -1.0
        return x + 1
    traced = dg.jit.trace(f, dg.ones(3))
    x = dg.tensor([1.0, 2.0, 3.0])
    out = traced(x)
    assert x.tolist() == [-1.0, 6.0, 9.0] and out.tolist() == [0.0, 7.0, 10.0]
    assert "setitem" in traced.graph.op_counts()  # the write through x[0] became a pure op


def test_views_see_in_place_writes_to_their_base():
    def f(x):
        row = x[1]
        x.mul_(10)
        return row + 0
    traced = dg.jit.trace(f, dg.ones(2, 2))
    assert traced(dg.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist() == [30.0, 40.0]


def test_data_dependent_python_is_a_trace_error_at_the_users_line():
    def f(x):
        if x.sum() > 0:  # the line the error must name
            return x
        return -x
    with pytest.raises(TraceError) as info:
        dg.jit.trace(f, dg.ones(2))
    assert "test_trace.py" in str(info.value) and "if x.sum() > 0:" in str(info.value)
    assert "@dg.script" in str(info.value)
    for bad in (lambda x: x.item(), lambda x: int(x.sum()), lambda x: x.tolist(),
                lambda x: float(x[0]), lambda x: print(x)):
        with pytest.raises(TraceError):
            dg.jit.trace(bad, dg.ones(2))


def test_symbolic_dims_flow_into_shapes_but_never_into_python_numbers():
    def flat(x):
        return x.view(x.shape[0], -1)
    traced = dg.jit.trace(flat, dg.ones(4, 2, 3), dynamic_dims={0: "B"})
    assert "shape=('B', -1)" in str(traced.graph)
    assert traced(dg.ones(9, 2, 3)).shape == (9, 6)
    with pytest.raises(TraceError, match="symbolic dimension B"):  # sizes compute (+ - *)
        dg.jit.trace(lambda x: x.view(int(x.shape[0]) * 2, -1), dg.ones(4, 2),
                     dynamic_dims={0: "B"})


def test_static_shapes_are_specialized_and_checked():
    traced = dg.jit.trace(lambda x: x * 2, dg.ones(4, 2))
    with pytest.raises(GraphInputError, match=r"input 'x' expected f32\[4, 2\], got f32\[5, 2\]"):
        traced(dg.ones(5, 2))
    with pytest.raises(GraphInputError, match="takes 1 tensor inputs"):
        traced(dg.ones(4, 2), dg.ones(4, 2))
    with pytest.raises(GraphInputError, match="expected f32"):
        traced(dg.ones(4, 2, dtype=dg.float64))


def test_check_inputs_catches_a_specialized_trace():
    calls = {"n": 0}

    def f(x):
        calls["n"] += 1  # Python state read while tracing is baked into the graph
        return x * calls["n"]
    with pytest.raises(TraceError, match="check input 0: output 0 of the traced graph differs"):
        dg.jit.trace(f, dg.ones(2), check_inputs=[(dg.ones(2),)])
    assert dg.jit.trace(lambda x: x * 3, dg.ones(2), check_inputs=[dg.full((2,), 5.0)])


def test_traced_calls_accept_the_pytorch_forms():
    a, b = dg.ones(2), dg.ones(2)
    f = lambda x, y: x + y  # noqa: E731
    for traced in (dg.jit.trace(f, (a, b)), dg.jit.trace(f, a, b)):
        assert traced(a, b).tolist() == [2.0, 2.0]
    g = dg.jit.trace(lambda x: x.exp(), a)
    assert g(a).tolist() == pytest.approx([np.e, np.e])


def test_structured_outputs_and_closure_constants():
    scale = dg.tensor([1.0, 2.0])

    def f(x):
        return {"double": x * 2, "pair": (x, x * scale)}
    traced = dg.jit.trace(f, dg.ones(2))
    out = traced(dg.tensor([3.0, 4.0]))
    assert out["double"].tolist() == [6.0, 8.0]
    assert out["pair"][1].tolist() == [3.0, 8.0]
    assert traced.graph.op_counts()["constant"] == 1


def test_generated_code_is_readable_python():
    traced = dg.jit.trace(lambda x: (x * 2).sum(1), dg.ones(3, 4), dynamic_dims={0: "B"})
    code = traced.code
    assert code.startswith("def forward(a0):")
    assert "a0.shape[0]  # B" in code and "dim=1" in code and "return (" in code


def test_a_compiled_function_called_inside_a_trace_is_recorded_into_it():
    """Tracing code that calls a traced function (or a loaded one) inlines its graph: the outer
    graph holds its ops (the passes see through it), with the outer sizes, and gradients reach
    the inner function's parameters."""
    inner = dg.jit.trace(lambda t: t * 2, dg.randn(3), dynamic_dims={0: "B"})
    outer = dg.jit.trace(lambda t: inner(t).sum(), dg.randn(4), dynamic_dims={0: "N"})
    text = str(outer.graph_before_passes)
    assert "mul(%t, 2) : f32[N]" in text and "sum(" in text
    assert outer(dg.ones(6)).item() == 12.0
    dg.manual_seed(0)
    layer = dg.nn.Linear(3, 2)
    traced_layer = dg.jit.trace(layer, dg.randn(5, 3), dynamic_dims={0: "B"})
    model = dg.jit.trace(lambda x: traced_layer(x).relu().sum(), dg.randn(4, 3))
    x = dg.randn(4, 3)
    model(x).backward()
    expected = dg.nn.Linear(3, 2)
    expected.load_state_dict(layer.state_dict())
    expected(x).relu().sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), expected.weight.grad.numpy(),
                               rtol=1e-6)
    with pytest.raises(GraphInputError, match="expected f32"):
        dg.jit.trace(lambda t: inner(t.double()), dg.randn(3))
