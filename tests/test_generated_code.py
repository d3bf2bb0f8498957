"""Generated code: strings of a graph never reach the source except through a safe encoding (the
root of the `.dgm` injection fix, checked here on graphs built in memory, without the loader's
validation), and compiled functions leave nothing behind in `linecache` when they die."""

from __future__ import annotations

import gc
import linecache
import traceback
import tracemalloc

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.runtime import backend_for
from dualgraph.ir import get
from dualgraph.ir.graph import Graph
from dualgraph.ir.types import CPU, TensorType, float32
from dualgraph.jit import GraphFunction
from dualgraph.jit.codegen import comment, compile_graph, safe_name


def _payloads(marker) -> list:
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [f"x\n    {code}", f"x\r    {code}", f"x\r\n{code}", f"x\x0c{code}", f"x\u2028{code}",
            f"x\x85{code}", f"x\x00{code}", f'"""\n{code}\n"""', f"#\n{code}", f"x; {code}",
            f"f(*a):\n    {code}\n    return (a[0],)\ndef g", "class", "5", "", "a b"]


def _graph(symbol: str, source: str, fresh: str | None = None) -> Graph:
    """x: f32[symbol, 3] -> nonzero(x > 0) (a data-dependent size), and x + 1 with a source."""
    g = Graph(name="g")
    x = g.add_input(TensorType(float32, [symbol, 3], CPU), "x")
    y = g.add_node(get("add"), [x, 1.0], {"alpha": 1})
    y.meta["source"] = source
    gt = g.add_node(get("gt"), [x, 0.0], {})
    nz = g.add_node(get("nonzero"), [gt.output], {})
    nz.outputs[0].type = TensorType(nz.outputs[0].type.dtype, [fresh or source, 2],
                                    CPU)  # u0 renamed
    g.outputs = [y.output, nz.output]
    return g


def test_names_and_comments_are_encoded(tmp_path):
    from dualgraph.ir.symbolic import SymbolicError
    marker = tmp_path / "PWNED"
    for payload in _payloads(marker):
        if "__import__" in payload:  # as a symbol: the size parser refuses it
            with pytest.raises((SymbolicError, ValueError)):
                compile_graph(_graph(payload, payload), backend_for(CPU), payload)
            assert not marker.exists(), payload
        fn, source = compile_graph(_graph("B", payload, "u0"), backend_for(CPU), payload)
        assert source.startswith("def forward(a0):")
        assert len(source.splitlines()) == len(source.split("\n")) - 1  # no other line breaks
        for line in source.splitlines():
            code, _, note = line.partition("  # ")
            assert "__import__" not in code, line
        out, idx = fn(np.ones((2, 3), np.float32))
        assert out.tolist() == [[2.0] * 3] * 2 and idx.shape == (6, 2)
        assert not marker.exists(), payload


@pytest.mark.parametrize("name,expected", [("forward", "forward"), ("f_1", "f_1"),
                                           ("class", "forward"), ("5", "forward"),
                                           ("", "forward"), ("a b", "forward"),
                                           ("données", "forward"), (None, "forward"),
                                           ("match", "match")])
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_comment_keeps_printable_text_and_escapes_the_rest():
    assert comment("model.py:3") == "  # model.py:3"
    assert comment("B") == "  # B"
    assert comment("a\nb") == "  # 'a\\nb'"
    assert comment("a\u2028b") == "  # 'a\\u2028b'"
    assert comment("") == ""
    assert len(comment("x" * 10_000)) < 220


def test_generated_functions_do_not_fill_linecache():
    """2,000 traces of a small lambda, each called once: linecache and memory stay flat."""
    x = dg.ones(3)

    def trace_and_call():
        f = dg.jit.trace(lambda t: (t * 2).sum(), x)
        f(x)

    for _ in range(50):  # warm every cache on the way
        trace_and_call()
    gc.collect()
    entries = len(linecache.cache)
    tracemalloc.start()
    growth = []
    for window in range(2):  # a leak grows in both windows; a cache that earlier tests left
        before = tracemalloc.get_traced_memory()[0]  # half-filled grows once at most
        for _ in range(2000):
            trace_and_call()
        gc.collect()
        growth.append(tracemalloc.get_traced_memory()[0] - before)
        if growth[-1] < 100_000:
            break
    tracemalloc.stop()
    assert len(linecache.cache) <= entries + 2  # it was one entry per trace: 2,000
    assert min(growth) < 100_000, growth  # bytes, for 2,000 traces (was +1.9 MB RSS)


def test_tracebacks_show_the_generated_line_while_the_function_lives():
    g = Graph(name="g")
    x = g.add_input(TensorType(float32, [3], CPU), "x")
    node = g.add_node(get("reshape"), [x], {"shape": [3]})
    node.meta["source"] = "model.py:7"
    g.outputs = [node.output]
    fn = GraphFunction(g)
    code = fn._compiled_for(CPU)[0]
    try:
        code(np.ones(4, np.float32))  # 4 elements cannot be reshaped to [3]
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        generated = [fr for fr in frames if fr.filename.startswith("<dualgraph-generated-")]
        assert generated and "k_reshape" in generated[0].line
        assert generated[0].line.endswith("# model.py:7")
        filename = generated[0].filename
    else:
        raise AssertionError("reshape of 4 elements to [3] should fail")
    assert filename in linecache.cache
    del fn, code, frames, generated
    gc.collect()
    assert filename not in linecache.cache
