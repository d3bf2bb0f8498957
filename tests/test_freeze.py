"""dg.jit.freeze: text-form tests of the freezing passes (input graph, expected graph, compared
by their printed forms), and frozen models against the unfrozen ones."""

import textwrap

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import nn
from dualgraph.ir.text import parse_graph, print_graph
from dualgraph.ir.verify import verify
from dualgraph.passes.dce import dce
from dualgraph.passes.freeze import FreezeError, fold_affine, inline_state


def _graph(text: str):
    return parse_graph(textwrap.dedent(text).strip())


def _folded(text: str) -> tuple:
    g = _graph(text)
    log: list = []
    changed = fold_affine(g, log)
    dce(g, [])
    verify(g)
    return g, changed, log


def _expect(text: str) -> str:
    return print_graph(_graph(text))


# A conv (no bias) followed by an eval-mode batch norm as nn.functional.batch_norm records it,
# once its running statistics are constants: sub(mean), div(sqrt(var + eps)), mul(w), add(b).
BN_AFTER_CONV = """
    graph(%x: f32[1, 1, 3, 3]) {
      %0 = constant() {value=[[[[1.0]]], [[[2.0]]]]} : f32[2, 1, 1, 1]
      %1 = conv2d(%x, %0) {stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1} : f32[1, 2, 3, 3]
      %2 = constant() {value=[[[1.0]], [[-1.0]]]} : f32[2, 1, 1]
      %3 = sub(%1, %2) {alpha=1} : f32[1, 2, 3, 3]
      %4 = constant() {value=[[[2.0]], [[4.0]]]} : f32[2, 1, 1]
      %5 = div(%3, %4) {rounding_mode=None} : f32[1, 2, 3, 3]
      %6 = constant() {value=[[[3.0]], [[0.5]]]} : f32[2, 1, 1]
      %7 = mul(%5, %6) : f32[1, 2, 3, 3]
      %8 = constant() {value=[[[10.0]], [[20.0]]]} : f32[2, 1, 1]
      %9 = add(%7, %8) {alpha=1} : f32[1, 2, 3, 3]
      %10 = relu(%9) : f32[1, 2, 3, 3]
      return (%10)
    }"""


def test_batch_norm_after_conv_folds_into_its_weight_and_a_new_bias():
    g, changed, log = _folded(BN_AFTER_CONV)
    # weight * (w / std) = [1 * 1.5, 2 * 0.125]; shift = b - mean * w / std = [8.5, 20.125]
    assert changed and [e[0] for e in log] == ["folded"]
    assert print_graph(g) == _expect("""
        graph(%x: f32[1, 1, 3, 3]) {
          %0 = constant() {value=[[[[1.5]]], [[[0.25]]]]} : f32[2, 1, 1, 1]
          %1 = conv2d(%x, %0) {stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1} : f32[1, 2, 3, 3]
          %2 = constant() {value=[[[8.5]], [[20.125]]]} : f32[2, 1, 1]
          %3 = add(%1, %2) {alpha=1} : f32[1, 2, 3, 3]
          %4 = relu(%3) : f32[1, 2, 3, 3]
          return (%4)
        }""")


def test_affine_false_batch_norm_after_linear_folds_into_addmm():
    g, changed, _ = _folded("""
        graph(%x: f64[4, 3]) {
          %0 = constant() {value=[1.0, 2.0]} : f64[2]
          %1 = constant() {value=[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]} : f64[3, 2]
          %2 = addmm(%0, %x, %1) {beta=1, alpha=1} : f64[4, 2]
          %3 = constant() {value=[1.0, 0.0]} : f64[2]
          %4 = sub(%2, %3) {alpha=1} : f64[4, 2]
          %5 = constant() {value=[2.0, 0.5]} : f64[2]
          %6 = div(%4, %5) {rounding_mode=None} : f64[4, 2]
          return (%6)
        }""")
    assert changed and print_graph(g) == _expect("""
        graph(%x: f64[4, 3]) {
          %0 = constant() {value=[[0.5, 2.0], [0.5, 2.0], [0.5, 2.0]]} : f64[3, 2]
          %1 = constant() {value=[0.0, 4.0]} : f64[2]
          %2 = addmm(%1, %x, %0) {beta=1, alpha=1} : f64[4, 2]
          return (%2)
        }""")


def test_does_not_fire_when_the_conv_output_has_a_second_reader():
    text = BN_AFTER_CONV.replace("return (%10)", "return (%10, %1)")
    g, changed, log = _folded(text)
    assert not changed and not log and print_graph(g) == _expect(text)


def test_does_not_fire_on_a_training_mode_batch_norm():
    # training: the statistics are computed from the conv's output, not constants
    text = """
        graph(%x: f32[2, 1, 3, 3]) {
          %0 = constant() {value=[[[[1.0]]], [[[2.0]]]]} : f32[2, 1, 1, 1]
          %1 = conv2d(%x, %0) {stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1} : f32[2, 2, 3, 3]
          %2 = mean(%1) {dim=(0, 2, 3), keepdim=True, dtype=None} : f32[1, 2, 1, 1]
          %3 = var(%1) {dim=(0, 2, 3), correction=0, keepdim=True} : f32[1, 2, 1, 1]
          %4 = sub(%1, %2) {alpha=1} : f32[2, 2, 3, 3]
          %5 = add(%3, 1e-05) {alpha=1} : f32[1, 2, 1, 1]
          %6 = sqrt(%5) : f32[1, 2, 1, 1]
          %7 = div(%4, %6) {rounding_mode=None} : f32[2, 2, 3, 3]
          return (%7)
        }"""
    g, changed, log = _folded(text)
    assert not changed and not log and print_graph(g) == _expect(text)


def test_does_not_fire_for_a_constant_varying_along_another_dim_or_a_lone_bias():
    text = """
        graph(%x: f32[1, 1, 3, 3]) {
          %0 = constant() {value=[[[[1.0]]], [[[2.0]]]]} : f32[2, 1, 1, 1]
          %1 = conv2d(%x, %0) {stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1} : f32[1, 2, 3, 3]
          %2 = constant() {value=[1.0, 2.0, 3.0]} : f32[3]
          %3 = mul(%1, %2) : f32[1, 2, 3, 3]
          %4 = constant() {value=[[[[1.0]]], [[[2.0]]]]} : f32[2, 1, 1, 1]
          %5 = conv2d(%x, %4) {stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1} : f32[1, 2, 3, 3]
          %6 = constant() {value=[[[1.0]], [[-1.0]]]} : f32[2, 1, 1]
          %7 = add(%5, %6) {alpha=1} : f32[1, 2, 3, 3]
          return (%3, %7)
        }"""
    g, changed, _ = _folded(text)
    assert not changed and print_graph(g) == _expect(text)


def test_inline_state_makes_state_inputs_constants_and_refuses_state_writes():
    g = _graph("""
        graph(%x: f32[2], %w: f32[2]) {
          %0 = mul(%x, %w) : f32[2]
          return (%0)
        }""")
    g.meta.update(user_inputs=1, params=["w"], mutations=[])
    assert inline_state(g, {"w": np.array([3.0, 4.0], np.float32)}, [])
    assert g.meta["params"] == [] and print_graph(g) == _expect("""
        graph(%x: f32[2]) {
          %0 = constant() {value=[3.0, 4.0]} : f32[2]
          %1 = mul(%x, %0) : f32[2]
          return (%1)
        }""")
    g2 = _graph("""
        graph(%x: f32[2], %w: f32[2]) {
          %0 = add(%w, %x) {alpha=1} : f32[2]
          return (%0, %0)
        }""")
    g2.meta.update(user_inputs=1, params=["w"], mutations=[["state", 0, "inplace"]])
    with pytest.raises(FreezeError, match="changes its state"):
        inline_state(g2, {"w": np.zeros(2, np.float32)}, [])


# ------------------------------------------------------------------------------- end to end

class Net(nn.Module):
    def __init__(self, bias: bool = True, affine: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(4, affine=affine)
        self.conv1d = nn.Conv1d(4, 4, 3, padding=1, bias=False)
        self.bn1d = nn.BatchNorm1d(4)
        self.fc = nn.Linear(4 * 25, 6)
        self.bn_fc = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 5, bias=False)
        self.bn_fc2 = nn.BatchNorm1d(5, affine=affine)

    def forward(self, x):
        y = dg.relu(self.bn(self.conv(x)))
        y = dg.relu(self.bn1d(self.conv1d(y.flatten(2)))).flatten(1)
        y = dg.relu(self.bn_fc(self.fc(y)))
        return self.bn_fc2(self.fc2(y))


def _trained(dtype=dg.float32, **kw) -> Net:
    dg.manual_seed(0)
    m = Net(**kw).to(dtype)
    opt = dg.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(3):  # non-trivial running statistics and parameters
        loss = m(dg.randn(8, 3, 5, 5, dtype=dtype)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


BN_OPS = {"sub", "div", "mul", "sqrt", "mean", "var"}


@pytest.mark.parametrize("capture", ["script", "trace"])
@pytest.mark.parametrize("dtype,tol", [(dg.float32, 1e-5), (dg.float64, 1e-12)])
@pytest.mark.parametrize("kw", [{}, {"bias": False, "affine": False}])
def test_frozen_cnn_has_no_batch_norm_left_and_matches(capture, dtype, tol, kw):
    m = _trained(dtype, **kw)
    x = dg.randn(2, 3, 5, 5, dtype=dtype)
    mod = dg.jit.script(m) if capture == "script" else dg.jit.trace(m, x)
    if capture == "script":
        mod(x)
    frozen = dg.jit.freeze(mod)
    counts = frozen.graph.op_counts()
    assert not BN_OPS & set(counts), counts
    assert counts["conv2d"] == 2 and counts.get("addmm", 0) + counts.get("matmul", 0) == 2
    assert len(frozen.graph.inputs) == 1 and frozen.graph.meta["params"] == []
    with dg.no_grad():
        want = m(x).numpy()
        got = frozen(x)
    assert got.dtype is dtype
    np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)
    text = str(frozen.explain())
    assert "fold_bn" in text and "folded conv2d" not in text and "conv2d: folded" in text


def test_later_parameter_changes_do_not_reach_the_frozen_function(tmp_path):
    m = _trained()
    x = dg.randn(2, 3, 5, 5)
    frozen = dg.jit.freeze(dg.jit.trace(m, x))
    with dg.no_grad():
        before = frozen(x).numpy()
        for p in m.parameters():
            p.mul_(2.0)
        m.bn.running_mean.add_(1.0)
        assert not np.allclose(m(x).numpy(), before)
        np.testing.assert_array_equal(frozen(x).numpy(), before)
    path = tmp_path / "frozen.dgm"
    frozen.save(str(path))
    loaded = dg.jit.load(str(path))
    assert loaded.state_names == [] and not BN_OPS & set(loaded.graph.op_counts())
    with dg.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), before, rtol=1e-6, atol=1e-6)


def test_optimize_numerics_false_keeps_the_batch_norm_arithmetic():
    m = _trained()
    x = dg.randn(2, 3, 5, 5)
    frozen = dg.jit.freeze(dg.jit.trace(m, x), optimize_numerics=False)
    assert "div" in frozen.graph.op_counts() and frozen.graph.meta["params"] == []
    with dg.no_grad():
        np.testing.assert_allclose(frozen(x).numpy(), m(x).numpy(), rtol=1e-5, atol=1e-6)


def test_freeze_refuses_training_mode_and_what_is_not_a_compiled_module():
    m = _trained()
    x = dg.randn(2, 3, 5, 5)
    m.train()
    with pytest.raises(RuntimeError, match="only implemented for modules in eval mode"):
        dg.jit.freeze(dg.jit.script(m))
    with pytest.raises(RuntimeError, match="eval mode"):
        dg.jit.freeze(dg.jit.trace(m, x))
    with pytest.raises(TypeError, match=r"jit.freeze\(\) expects a scripted or traced module, "
                                        r"got Net"):
        dg.jit.freeze(m)
    with pytest.raises(TypeError, match="scripted function"):
        dg.jit.freeze(dg.jit.script(lambda_free))
    with pytest.raises(TypeError, match="optimize_numerics must be a bool"):
        dg.jit.freeze(dg.jit.trace(m.eval(), x), optimize_numerics="yes")


def lambda_free(x):
    return x * 2.0
