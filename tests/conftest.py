"""Test-wide settings, guards and the conformance report.

Every graph a test captures is verified and text-round-tripped (DUALGRAPH_CHECK=1). At the end of
a run, the conformance test's results are summarized as ops x modes: for each mode (a test of
tests/test_op_conformance.py), how many ops pass on all their samples.

Guards, so that a hang or a runaway allocation fails one test instead of the run or the machine:
- time: pytest-timeout's default (`timeout` in pyproject.toml, 120 s per test); the examples'
  training tests and tests marked `slow` get LONG_TIMEOUT_S unless they set their own.
- memory: the test process's address space is capped at DUALGRAPH_TEST_MAX_GB GiB (default 16;
  0 turns it off), so a runaway allocation raises MemoryError in its test instead of driving the
  machine into the out-of-memory killer. Linux only; off where CuPy is installed, since CUDA
  reserves far more address space than it uses.
"""

import importlib.util
import os
import re
import sys
from collections import defaultdict

import pytest

os.environ.setdefault("DUALGRAPH_CHECK", "1")

LONG_TIMEOUT_S = 900
_LONG_FILES = {"test_examples.py"}  # they train models to a documented accuracy


def _limit_address_space() -> None:
    gb = float(os.environ.get("DUALGRAPH_TEST_MAX_GB", "16"))
    if gb <= 0 or not sys.platform.startswith("linux") or importlib.util.find_spec("cupy"):
        return
    import resource
    limit = int(gb * (1 << 30))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def pytest_configure(config):
    _limit_address_space()


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("timeout"):
        return
    for item in items:
        if item.get_closest_marker("timeout") is None and (
                item.get_closest_marker("slow") is not None or item.path.name in _LONG_FILES):
            item.add_marker(pytest.mark.timeout(LONG_TIMEOUT_S))

_MODES = {
    "test_eager_matches_numpy_reference": "eager vs NumPy",
    "test_meta_agrees_with_eager": "meta vs eager",
    "test_gradient_matches_finite_differences": "gradcheck",
    "test_grad_fn_is_named_like_pytorch": "node names",
    "test_trace_matches_eager": "trace",
    "test_trace_matches_eager_for_other_input_dtypes": "trace, int/f16/bool",
    "test_graph_text_round_trips": "text round trip",
    "test_saved_and_loaded_matches_eager": "saved",
    "test_script_matches_eager": "script",
    "test_script_grad_matches_eager": "script grad",
    "test_trace_grad_matches_eager": "trace grad",
    "test_gpu_matches_cpu": "GPU",
    "test_gpu_gradients_match_cpu": "GPU grad",
}
_results: dict = defaultdict(lambda: defaultdict(set))  # mode -> outcome -> ops


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    m = re.match(r".*::(test_\w+)\[(?:f\d\d-)?([a-z_0-9]+)-\d+", report.nodeid)
    if not m or m.group(1) not in _MODES:
        return
    outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
    _results[_MODES[m.group(1)]][outcome].add(m.group(2))


def pytest_terminal_summary(terminalreporter):
    if not _results:
        return
    write = terminalreporter.write_line
    write("")
    write("conformance: ops passing every sample, per mode")
    for mode in _MODES.values():
        if mode not in _results:
            continue
        r = _results[mode]
        failed = r["failed"]
        passed = r["passed"] - failed
        line = f"  {mode:<16} {len(passed):4d} ops pass"
        if failed:
            line += f", {len(failed)} fail ({', '.join(sorted(failed)[:8])})"
        if r["skipped"] - passed - failed:
            line += f", {len(r['skipped'] - passed - failed)} skipped"
        write(line)
