"""Test-wide settings and the conformance report.

Every graph a test captures is verified and text-round-tripped (DUALGRAPH_CHECK=1). At the end of
a run, the conformance test's results are summarized as ops x modes: for each mode (a test of
tests/test_op_conformance.py), how many ops pass on all their samples.
"""

import os
import re
from collections import defaultdict

os.environ.setdefault("DUALGRAPH_CHECK", "1")

_MODES = {
    "test_eager_matches_numpy_reference": "eager vs NumPy",
    "test_meta_agrees_with_eager": "meta vs eager",
    "test_gradient_matches_finite_differences": "gradcheck",
    "test_grad_fn_is_named_like_pytorch": "node names",
    "test_trace_matches_eager": "trace",
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
