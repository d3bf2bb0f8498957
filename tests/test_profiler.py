"""dg.profiler: the table and Chrome trace of an MLP training step (eager, and traced), every
op / backward node / kernel accounted for against an independent list (the op log, the
autograd graph, the compiled graphs' nodes), top-level times adding up to the profiled wall
time, shapes, bytes, schedules, record_function, the errors, and `dualgraph profile`.

PyTorch's strings (time and memory formats, the table's header, the schedule's actions) were
captured from torch 2.13's profiler and are written here; torch is not imported."""

from __future__ import annotations

import io
import json
import math
import time
from collections import Counter
from contextlib import redirect_stdout

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import dispatch, nn, optim, recording
from dualgraph.profiler import (PYTHON_ROW, ProfilerAction, ProfilerActivity, profile,
                                record_function, schedule)
from dualgraph.profiler.table import format_memory, format_share, format_time
from dualgraph.utils import op_log

BATCH, IN, HIDDEN, OUT = 8, 20, 16, 4


def _setup():
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = dg.randn(BATCH, IN)
    y = dg.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    return model, opt, x, y


def _step(model, opt, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def _names(events, cat):
    return Counter(e.name for e in events if e.cat == cat)


def _node_names(t):
    """Each backward node reachable from t's grad_fn, once (the engine runs each once)."""
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(c for c, _ in node.next_functions)
    return Counter(n.name() for n in seen)


def _logged_step(model, opt, x, y):
    """The step's ops from the op log, and the backward nodes of its graph (the reference)."""
    with op_log() as log:
        loss = nn.functional.cross_entropy(model(x), y)
        nodes = _node_names(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Counter(f"dg::{c.op}{'_' if c.inplace else ''}" for c in log), nodes


# ------------------------------------------------------------------------------ eager step

def test_eager_training_step_records_every_op_node_and_the_optimizer():
    model, opt, x, y = _setup()
    ops, nodes = _logged_step(model, opt, x, y)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _step(model, opt, x, y)
    events = prof.events()
    assert _names(events, "cpu_op") - Counter({"Optimizer.step#SGD.step": 1,
                                               "Optimizer.zero_grad#SGD.zero_grad": 1}) == ops
    assert _names(events, "autograd") == nodes
    assert {"AddmmBackward0", "ReluBackward0", "AccumulateGrad"} <= set(nodes)
    assert _names(events, "cpu_op")["Optimizer.step#SGD.step"] == 1
    # every op in backward runs inside its node; the SGD updates inside the step
    for e in events:
        if e.name == "dg::add_":
            assert e.cpu_parent.name == "Optimizer.step#SGD.step"
    inside_nodes = sum(1 for e in events if e.cat == "cpu_op" and e.cpu_parent is not None
                       and e.cpu_parent.cat == "autograd")
    with op_log() as backward_ops:
        loss = nn.functional.cross_entropy(model(x), y)
        backward_ops.clear()
        loss.backward()
    assert inside_nodes == len(backward_ops)


def test_table_lists_every_row_with_pytorch_columns():
    model, opt, x, y = _setup()
    _step(model, opt, x, y)
    with profile() as prof:
        _step(model, opt, x, y)
    averages = prof.key_averages()
    table = averages.table(sort_by="cpu_time_total", row_limit=-1)
    lines = table.splitlines()
    header = [h for h in lines[1].split("  ") if h.strip()]
    assert [h.strip() for h in header] == ["Name", "Self CPU %", "Self CPU", "CPU total %",
                                           "CPU total", "CPU time avg", "# of Calls"]
    assert lines[0] == lines[2] == lines[-2] and set(lines[0]) == {"-", " "}
    names = [row.key for row in averages]
    assert PYTHON_ROW in names and len(names) == len(set(names))
    for name in names:
        assert name in table
    rows = lines[3:-2]
    assert len(rows) == len(names)
    totals = [row.cpu_time_total for row in sorted(averages, key=lambda r: -r.cpu_time_total)]
    assert [r.strip().split("  ")[0] for r in rows] == [
        r.key for r in sorted(averages, key=lambda r: -r.cpu_time_total)]
    assert totals == sorted(totals, reverse=True)
    assert lines[-1] == f"Self CPU time total: {format_time(averages.self_cpu_time_total)}"
    assert len(averages.table(row_limit=3).splitlines()) == 3 + 3 + 2


def test_pytorch_number_formats():
    assert [format_time(11694.0), format_time(354.575), format_time(2.5e6)] == \
        ["11.694ms", "354.575us", "2.500s"]
    assert [format_memory(188), format_memory(-76), format_memory(11520),
            format_memory(3 * 1024 ** 2)] == ["188 B", "-76 B", "11.25 KB", "3.00 MB"]
    assert format_share(1, 3) == "33.33%" and format_share(0, 0) == "NaN"


def _top_level(trace_events):
    """The X events not inside another X event, found from the timestamps alone."""
    xs = sorted((e for e in trace_events if e["ph"] == "X"), key=lambda e: (e["ts"], -e["dur"]))
    top, end = [], -math.inf
    for e in xs:
        if e["ts"] >= end - 1e-3:
            top.append(e)
            end = e["ts"] + e["dur"]
        else:  # inside the current top-level event: it must end inside it too (nesting)
            assert e["ts"] + e["dur"] <= end + 2e-3, e
    return top


def _runner(mode: str, model, opt, x, y):
    """One training step as a call: eager, a traced model in an eager step, or the whole step
    compiled (forward, loss, backward and the update in one graph)."""
    if mode == "eager":
        return lambda: _step(model, opt, x, y)
    if mode == "traced":
        traced = dg.jit.trace(model, x)
        return lambda: _step(traced, opt, x, y)
    whole = dg.jit.trace(lambda x, y: _step(model, opt, x, y), (x, y))
    return lambda: whole(x, y)


@pytest.mark.parametrize("mode", ["eager", "traced", "whole-step"])
def test_top_level_times_add_up_to_the_profiled_wall_time(tmp_path, mode):
    model, opt, x, y = _setup()
    run = _runner(mode, model, opt, x, y)
    for _ in range(2):
        run()
    outer = time.perf_counter_ns()
    with profile() as prof:
        inner = time.perf_counter_ns()
        for _ in range(3):
            run()
        inner = time.perf_counter_ns() - inner
    outer = time.perf_counter_ns() - outer
    averages = prof.key_averages()
    total_us = averages.self_cpu_time_total
    # the profiled span holds the timed work and lies inside the block
    assert inner / 1e3 <= total_us + 1e-3 and total_us <= outer / 1e3 + 1e-3
    # the rows' self times add up to: top-level events of the trace + the Python row
    python = next(r for r in averages if r.key == PYTHON_ROW)
    path = prof.export_chrome_trace(tmp_path / "step.json")
    top = _top_level(json.loads(open(path).read())["traceEvents"])
    assert sum(e["dur"] for e in top) + python.self_cpu_time_total == pytest.approx(
        total_us, abs=1e-3 * (len(top) + 1))
    assert sum(e.cpu_time_total for e in prof.events() if e.cpu_parent is None) == \
        pytest.approx(total_us - python.self_cpu_time_total, abs=1e-3)
    # Python between ops is positive and so are the ops' self times
    assert python.self_cpu_time_total > 0
    assert all(e.self_cpu_time_total >= -1e-3 for e in prof.events())


# ---------------------------------------------------------------------------- compiled step

def _kernel_rows(graph):
    """The kernel calls the generated code of `graph` makes: one per node (not constants)."""
    rows = []
    for node in graph.nodes:
        assert not node.op.control, "this test expects straight-line graphs"
        if node.op.region:
            rows.append(f"kernel::fused[{node.attrs['kernel']}]")
        elif node.op.name != "constant":
            rows.append(f"kernel::{node.op.name}")
    return Counter(rows)


def test_traced_training_step_reports_each_kernel_of_forward_and_backward():
    model, opt, x, y = _setup()
    traced = dg.jit.trace(model, x)
    _step(traced, opt, x, y)
    gradient = traced._gradient([x] + traced._state_tensors()).gradient
    expected = _kernel_rows(gradient.forward) + _kernel_rows(gradient.backward)
    with profile() as prof:
        _step(traced, opt, x, y)
    events = prof.events()
    assert _names(events, "kernel") == expected
    assert _names(events, "graph") == Counter({"graph::forward": 1})
    assert _names(events, "autograd")["DifferentiableGraphBackward"] == 1
    backward_kernels = Counter(e.name for e in events if e.cat == "kernel"
                               and e.cpu_parent.name == "DifferentiableGraphBackward")
    assert backward_kernels == _kernel_rows(gradient.backward)
    assert _names(events, "cpu_op")["Optimizer.step#SGD.step"] == 1


def test_whole_compiled_step_reports_each_kernel_of_its_graph_and_nothing_eager():
    model, opt, x, y = _setup()
    whole = dg.jit.trace(lambda x, y: _step(model, opt, x, y), (x, y))
    for _ in range(2):  # the first call creates the .grad and momentum state: its own trace
        whole(x, y)
    with profile() as prof:
        loss = whole(x, y)
    events = prof.events()
    assert _names(events, "kernel") == _kernel_rows(whole.graph)
    assert {"kernel::nll_loss_backward", "kernel::matmul"} <= set(_names(events, "kernel"))
    assert _names(events, "graph") == Counter({"graph::forward": 1})
    assert all(e.cpu_parent.cat == "graph" for e in events if e.cat == "kernel")
    assert not [e.name for e in events if e.cat in ("cpu_op", "autograd")]  # no eager op ran
    assert loss.shape == ()


def test_traced_call_without_grad_reports_its_graph_nodes_with_shapes_and_bytes():
    model, _, x, _ = _setup()
    traced = dg.jit.trace(model, x)
    with dg.no_grad():
        traced(x)
        with profile(record_shapes=True, profile_memory=True) as prof:
            traced(x)
    kernels = [e for e in prof.events() if e.cat == "kernel"]
    assert Counter(e.name for e in kernels) == _kernel_rows(traced.graph)
    assert all(e.cpu_parent.name == "graph::forward" for e in kernels)
    # the first layer's bias add and relu are one kernel over the matmul's product
    relu = next(e for e in kernels if e.name == "kernel::fused[add, relu]")
    assert relu.input_shapes == [[BATCH, HIDDEN], [HIDDEN]]
    assert relu.self_cpu_memory_usage == BATCH * HIDDEN * 4


def test_unprofiled_calls_record_nothing_and_leave_the_stack_as_it_was():
    model, opt, x, y = _setup()
    traced = dg.jit.trace(model, x)
    with profile() as prof:
        _step(traced, opt, x, y)
    n = len(prof.events())
    assert recording.ACTIVE is None and dispatch.active() == (dispatch.EAGER,)
    _step(traced, opt, x, y)
    _step(model, opt, x, y)
    assert len(prof.events()) == n


def test_scripted_loop_reports_each_kernel_call_of_each_iteration():
    @dg.script
    def halve(x: dg.Tensor, n: int) -> dg.Tensor:
        for i in range(n):
            if x.sum() > 0:
                x = x * 0.5
            else:
                x = x + 1.0
        return x

    x = dg.ones(3)
    halve(x, 4)
    with profile() as prof:
        out = halve(x, 4)
    assert out.tolist() == [0.0625] * 3
    events = prof.events()
    assert _names(events, "kernel") == Counter({"kernel::sum": 4, "kernel::gt": 4,
                                                "kernel::mul": 4})
    assert _names(events, "graph") == Counter({"graph::halve": 1})


# ------------------------------------------------------------------------ shapes and memory

def test_record_shapes_and_group_by_input_shape():
    model, opt, x, y = _setup()
    with profile(record_shapes=True) as prof:
        model(x)
    addmm = [e for e in prof.events() if e.name == "dg::addmm"]
    assert [e.input_shapes for e in addmm] == [[[HIDDEN], [BATCH, IN], [IN, HIDDEN]],
                                               [[OUT], [BATCH, HIDDEN], [HIDDEN, OUT]]]
    grouped = prof.key_averages(group_by_input_shape=True)
    assert sum(1 for r in grouped if r.key == "dg::addmm") == 2
    table = grouped.table(sort_by="count")
    assert "Input Shapes" in table.splitlines()[1]
    assert str([[HIDDEN], [BATCH, IN], [IN, HIDDEN]]) in table
    assert "Input Shapes" not in prof.key_averages().table()


def test_profile_memory_counts_new_arrays_and_not_views():
    model, opt, x, y = _setup()
    with profile(profile_memory=True) as prof:
        with record_function("forward"):
            model(x)
    events = prof.events()
    sizes = {e.name: e.self_cpu_memory_usage for e in events}
    assert sizes["dg::relu"] == BATCH * HIDDEN * 4
    assert sizes["dg::t"] == 0  # a view (weight.t(), aten::t in PyTorch)
    addmm = [e.self_cpu_memory_usage for e in events if e.name == "dg::addmm"]
    assert addmm == [BATCH * HIDDEN * 4, BATCH * OUT * 4]
    forward = next(e for e in events if e.name == "forward")
    assert forward.self_cpu_memory_usage == 0
    assert forward.cpu_memory_usage == sum(e.self_cpu_memory_usage for e in events)
    table = prof.key_averages().table()
    assert "CPU Mem" in table and "Self CPU Mem" in table and format_memory(512) in table


# ------------------------------------------------------------------ record_function, steps

def test_record_function_as_context_manager_and_decorator():
    @record_function("double")
    def double(t):
        return t * 2

    a = dg.ones(3)
    assert double(a).tolist() == [2.0, 2.0, 2.0]  # no profiler: a plain call
    with profile() as prof:
        with record_function("outer"):
            double(a)
            double(a)
    events = prof.events()
    outer = next(e for e in events if e.name == "outer")
    doubles = [e for e in events if e.name == "double"]
    assert len(doubles) == 2 and all(e.cpu_parent is outer for e in doubles)
    assert [c.name for d in doubles for c in d.cpu_children] == ["dg::mul", "dg::mul"]
    assert doubles[0].cat == "user_annotation"
    with pytest.raises(TypeError, match="name must be a str"):
        record_function(3)


def test_schedule_matches_pytorch():
    s = schedule(wait=1, warmup=1, active=2, repeat=2, skip_first=1)
    assert [s(i).name for i in range(12)] == [
        "NONE", "NONE", "WARMUP", "RECORD", "RECORD_AND_SAVE", "NONE", "WARMUP", "RECORD",
        "RECORD_AND_SAVE", "NONE", "NONE", "NONE"]
    with pytest.raises(AssertionError, match="Invalid profiler schedule arguments"):
        schedule(wait=0, warmup=1, active=0)
    with pytest.warns(UserWarning, match="won't be using warmup"):
        schedule(wait=0, warmup=0, active=1)


def test_schedule_records_only_active_steps_and_calls_on_trace_ready():
    model, opt, x, y = _setup()
    ready = []

    def handler(p):
        names = [e.name for e in p.events()]
        ready.append((p.step_num, [n for n in names if n.startswith("ProfilerStep#")],
                      names.count("Optimizer.step#SGD.step")))

    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2),
                 on_trace_ready=handler) as prof:
        for _ in range(9):
            _step(model, opt, x, y)
            prof.step()
    assert ready == [(4, ["ProfilerStep#2", "ProfilerStep#3"], 2),
                     (8, ["ProfilerStep#6", "ProfilerStep#7"], 2)]
    steps = [e for e in prof.events() if e.name.startswith("ProfilerStep#")]
    assert all(e.cpu_parent is None for e in steps)
    assert ProfilerAction.RECORD_AND_SAVE.name == "RECORD_AND_SAVE"


def test_without_schedule_on_trace_ready_runs_once_at_the_end():
    seen = []
    with profile(on_trace_ready=lambda p: seen.append(len(p.events()))):
        dg.ones(2) + 1
    assert seen == [2]  # dg::full (ones) and dg::add


# ------------------------------------------------------------------------ the Chrome trace

def test_chrome_trace_is_valid_trace_event_json(tmp_path):
    model, opt, x, y = _setup()
    traced = dg.jit.trace(model, x)
    with profile(record_shapes=True, profile_memory=True) as prof:
        with record_function("step"):
            _step(traced, opt, x, y)
            _step(model, opt, x, y)
    path = tmp_path / "trace.json"
    assert prof.export_chrome_trace(path) == str(path)
    doc = json.loads(path.read_text())
    assert isinstance(doc["traceEvents"], list) and doc["displayTimeUnit"] in ("ms", "ns")
    complete = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(prof.events())
    for e in doc["traceEvents"]:
        assert e["ph"] in ("X", "M") and isinstance(e["name"], str)
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert isinstance(e["ts"], (int, float))
        if e["ph"] == "X":
            assert isinstance(e["cat"], str) and isinstance(e["dur"], (int, float))
            assert e["dur"] >= 0 and isinstance(e.get("args", {}), dict)
        else:
            assert e["name"] in ("process_name", "thread_name") and "name" in e["args"]
    names = Counter(e["name"] for e in complete)
    assert names["step"] == 1 and names["graph::forward"] == 1
    assert names["DifferentiableGraphBackward"] == 1 and names["Optimizer.step#SGD.step"] == 2
    assert {"kernel::addmm", "dg::addmm", "AddmmBackward0"} <= set(names)
    assert _top_level(doc["traceEvents"]) == [e for e in complete if e["name"] == "step"]
    relu = next(e for e in complete if e["name"] == "dg::relu")
    assert relu["args"] == {"Input Dims": [[BATCH, HIDDEN]], "Bytes allocated": BATCH * HIDDEN * 4}


# ------------------------------------------------------------------------------- refusals

def test_refusals_name_the_function_and_the_fix():
    if not dg.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device is available"):
            profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
    with pytest.raises(ValueError, match="with_stack=True is not supported"):
        profile(with_stack=True)
    with pytest.raises(TypeError, match="ProfilerActivity"):
        profile(activities=["cpu"])
    with pytest.raises(ValueError, match="activities is empty"):
        profile(activities=[])
    with pytest.raises(TypeError, match="on_trace_ready must be callable"):
        profile(on_trace_ready=3)
    with profile():
        with pytest.raises(RuntimeError, match="profilers do not nest"):
            with profile():
                pass
    prof = profile()
    with pytest.raises(RuntimeError, match="no events yet"):
        prof.events()
    with prof:
        dg.ones(1)
    with pytest.raises(AttributeError, match="cannot sort by 'cuda_time_total'"):
        prof.key_averages().table(sort_by="cuda_time_total")
    with pytest.raises(ValueError, match="record_shapes=True"):
        prof.key_averages(group_by_input_shape=True)
    assert recording.ACTIVE is None and dispatch.active() == (dispatch.EAGER,)


def test_an_exception_inside_the_block_still_stops_recording():
    with pytest.raises(RuntimeError):
        with profile() as prof:
            dg.ones(2, 3) @ dg.ones(2, 3)
    assert recording.ACTIVE is None and dispatch.active() == (dispatch.EAGER,)
    assert [e.name for e in prof.events()] == ["dg::full", "dg::full", "dg::matmul"]


# ------------------------------------------------------------------------------------- CLI

def test_cli_profile_prints_the_table_and_writes_a_trace(tmp_path):
    from dualgraph.cli import main
    model, _, x, _ = _setup()
    dg.jit.trace(model, x).save(tmp_path / "mlp.dgm")
    np.save(tmp_path / "x.npy", x.numpy())
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["profile", str(tmp_path / "mlp.dgm"), "--input", str(tmp_path / "x.npy"),
                   "--repeat", "3", "--trace", str(tmp_path / "t.json")])
    text = out.getvalue()
    assert rc == 0
    row = next(line for line in text.splitlines() if "graph::forward" in line)
    assert row.split()[-1] == "3"
    assert "kernel::matmul" in text and "kernel::fused[add, relu]" in text and "3 calls of" in text
    trace = json.loads((tmp_path / "t.json").read_text())
    assert sum(e["name"] == "graph::forward" for e in trace["traceEvents"]) == 3
    assert main(["profile", str(tmp_path / "mlp.dgm"), "--input", str(tmp_path / "x.npy"),
                 "--repeat", "0"]) == 1
