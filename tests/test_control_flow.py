"""`if` and `loop` nodes (the IR the script issue compiles Python control flow into): text round
trip, verifier rules, generated code vs. the reference interpreter, gradients, save and load."""

from __future__ import annotations

import re

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.ir.errors import VerificationError
from dualgraph.ir.text import ParseError, parse_graph, print_graph
from dualgraph.ir.verify import verify
from dualgraph.jit import GraphFunction, run_reference

# x -> if sum(x) > 0 then x * 0.5 else x + 1, repeated n times (the design's example), then
# a while-style loop doubling y until its sum reaches 100.
STEP = """graph(%x: f32[3], %n: i64[]) {
  %0 = loop(%n, True, %x) : f32[3] {
    body(%1: int, %2: f32[3]) {
      %3 = sum(%2) {dim=None, keepdim=False, dtype=None} : f32[]
      %4 = gt(%3, 0.0) : bool[]
      %5 = if(%4) : f32[3] {
        then() {
          %6 = mul(%2, 0.5) : f32[3]
          yield (%6)
        }
        else() {
          %7 = add(%2, 1.0) {alpha=1} : f32[3]
          yield (%7)
        }
      }
      yield (True, %5)
    }
  }
  %8 = loop(9223372036854775807, True, %0) : f32[3] {
    body(%9: int, %10: f32[3]) {
      %11 = mul(%10, 2.0) : f32[3]
      %12 = sum(%11) {dim=None, keepdim=False, dtype=None} : f32[]
      %13 = lt(%12, 100.0) : bool[]
      yield (%13, %11)
    }
  }
  return (%0, %8)
}"""


def python_step(x: np.ndarray, n: int) -> tuple:
    for _ in range(n):
        x = x * 0.5 if x.sum() > 0 else x + 1.0
    y = x
    while True:
        y = y * 2.0
        if not y.sum() < 100.0:
            break
    return x, y


def test_text_round_trip_and_verify():
    g = verify(parse_graph(STEP))
    assert print_graph(g) == STEP
    assert g.op_counts() == {"loop": 2, "sum": 2, "gt": 1, "if": 1, "mul": 2, "add": 1, "lt": 1}


@pytest.mark.parametrize("x,n", [([1.0, 2.0, 3.0], 3), ([-5.0, 1.0, 0.5], 4),
                                 ([-9.0, 10.0, 0.5], 0), ([0.1, 0.1, 0.1], 1)])
def test_generated_code_and_reference_agree_with_python(x, n):
    f = GraphFunction(verify(parse_graph(STEP)))
    assert "while go" in f.code and "if _truth(" in f.code
    args = (dg.tensor(x), dg.tensor(n))
    got = f(*args)
    reference = run_reference(f.graph, args)
    expected = python_step(np.array(x, dtype=np.float32), n)
    for g, r, e in zip(got, reference, expected):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-6)
        np.testing.assert_allclose(r.numpy(), e, rtol=1e-6)


def test_gradients_flow_through_the_branch_taken_and_every_iteration():
    f = GraphFunction(verify(parse_graph(STEP)))
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    first, second = f(x, dg.tensor(2))
    (first.sum() + second.sum()).backward()
    # two halvings (0.25), then doubled until the sum reaches 100: 6 * 0.25 * 2**k >= 100
    k = int(np.ceil(np.log2(100 / 1.5)))
    np.testing.assert_allclose(x.grad.numpy(), [0.25 + 0.25 * 2 ** k] * 3)


def test_save_and_load_keep_the_blocks(tmp_path):
    f = GraphFunction(verify(parse_graph(STEP)))
    f.save(tmp_path / "step.dgm")
    loaded = dg.load(tmp_path / "step.dgm")
    assert print_graph(loaded.graph) == STEP
    args = (dg.tensor([-5.0, 1.0, 0.5]), dg.tensor(4))
    for a, b in zip(loaded(*args), f(*args)):
        np.testing.assert_allclose(a.numpy(), b.numpy())


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace("yield (%6)", "yield (%7)"), "yields %7"),
    (lambda t: t.replace("%6 = mul(%2, 0.5) : f32[3]", "%6 = mul(%2, 0.5) : f32[3]\n"
                         "          %70 = sum(%6) {dim=None, keepdim=False, dtype=None} : f32[]")
     .replace("yield (%6)", "yield (%70)"), "block then yields (f32[]) but the `if` produces"),
    (lambda t: t.replace("body(%1: int, %2: f32[3])", "body(%2: f32[3])"),
     "it must take the count and the carried values"),
    (lambda t: t.replace("yield (True, %5)", "yield (%5)"), "must yield a condition"),
    (lambda t: t.replace("return (%0, %8)", "return (%0, %11)"), "is not defined"),
    (lambda t: t.replace("%5 = if(%4)", "%5 = if(%2)"), "condition must be a bool or a 0-d"),
])
def test_verifier_rejects_broken_blocks(edit, message):
    try:
        g = parse_graph(edit(STEP))
    except ParseError as exc:
        assert message in str(exc) or "not defined" in str(exc)
        return
    with pytest.raises(VerificationError, match=re.escape(message)):
        verify(g)


def test_control_ops_refuse_eager_calls():
    with pytest.raises(TypeError, match="exists only inside graphs"):
        dg.dispatch.bind(dg.ir.get("if"), (dg.tensor(True),), {})
