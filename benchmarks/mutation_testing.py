"""Mutation testing over chosen one-line mutations: does the test suite notice a realistic bug?

Each mutation replaces one exact piece of source text (found exactly once in its file) with a
plausible wrong version: a sign, an off-by-one comparison, a dtype, a dropped step. For each
mutation the script applies it in a private copy of the repository, runs the test files chosen
for it (`pytest -x -q`, under a wall-clock timeout and a memory limit), and reports the mutant
*killed* (some test failed, errored or timed out) or *survived* (every test passed). The working
tree is never modified. Not part of CI: it takes minutes. See benchmarks/README.md.

    python benchmarks/mutation_testing.py                   # every mutation
    python benchmarks/mutation_testing.py --list            # the mutations, nothing run
    python benchmarks/mutation_testing.py --only sub-vjp-alpha max-indices-int32
    python benchmarks/mutation_testing.py --count-kills     # no -x: how many tests kill each
    python benchmarks/mutation_testing.py --only print-threshold --tests tests/test_printing.py
    python benchmarks/mutation_testing.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONFORMANCE = "tests/test_op_conformance.py"
GUARDS = "tests/test_mutation_guards.py"


@dataclass(frozen=True)
class Mutation:
    """One realistic bug: `original` (exactly once in `file`) becomes `mutated`."""

    id: str
    file: str
    original: str
    mutated: str
    description: str
    tests: tuple


def _m(id: str, file: str, original: str, mutated: str, description: str, *tests: str
       ) -> Mutation:
    return Mutation(id, file, original, mutated, description, tests)


MUTATIONS: list[Mutation] = [
    # ------------------------------------------------------------------------- ir/ops
    _m("sub-vjp-alpha", "ir/ops/elementwise.py",
       'g * -ctx.attrs["alpha"]', 'g * ctx.attrs["alpha"]',
       "sub's VJP for `other` with alpha != 1 loses its sign",
       GUARDS, CONFORMANCE, "tests/test_autograd.py"),
    _m("add-vjp-alpha", "ir/ops/elementwise.py",
       'g * ctx.attrs["alpha"] if ctx.attrs["alpha"] != 1 else g',
       'g',
       "add's VJP for `other` ignores alpha",
       GUARDS, CONFORMANCE, "tests/test_autograd.py", "tests/test_optim.py"),
    _m("div-vjp-sign", "ir/ops/elementwise.py",
       "gy = -gx * x / y", "gy = gx * x / y",
       "div's VJP for the divisor loses its sign",
       CONFORMANCE, "tests/test_autograd.py"),
    _m("mul-vjp-swap", "ir/ops/elementwise.py",
       "g * x if ctx.needs_input_grad[1] else None", "g * y if ctx.needs_input_grad[1] else None",
       "mul's VJP for the second input multiplies by the wrong operand",
       CONFORMANCE, "tests/test_autograd.py"),
    # ------------------------------------------------------------------------- ir/meta
    _m("broadcast-symbol-wins", "ir/meta.py",
       "if not is_symbolic(k):\n                    size, key = d, k",
       "if is_symbolic(k):\n                    size, key = d, k",
       "broadcast_shapes lets a symbol win over a concrete size",
       GUARDS, "tests/test_trace.py", "tests/test_autodiff.py", "tests/test_graph_ir.py"),
    _m("reduction-keepdim", "ir/meta.py",
       "return tuple((1 if keep else None) if i in dims else d",
       "return tuple((d if keep else None) if i in dims else d",
       "a keepdim reduction's shape rule keeps the reduced size instead of 1",
       CONFORMANCE, "tests/test_reductions.py", "tests/test_graph_ir.py"),
    _m("promote-to-float-int", "ir/meta.py",
       "integers and bools become the default float (`div`, `exp`, `sqrt`).\"\"\"\n"
       "    d = result_type(operands)\n    if not d.is_floating_point:",
       "integers and bools become the default float (`div`, `exp`, `sqrt`).\"\"\"\n"
       "    d = result_type(operands)\n    if d is bool_:",
       "true division and float math on integers keep the integer dtype",
       "tests/test_promotion.py", CONFORMANCE, "tests/test_math.py"),
    _m("matmul-contract-check", "ir/meta.py",
       "if k1 != k2 and not (isinstance(k1, str) or isinstance(k2, str)):",
       "if False and k1 != k2:",
       "matmul's shape rule accepts mismatched contracted dims",
       "tests/test_errors.py", "tests/test_linalg.py", CONFORMANCE),
    # ------------------------------------------------------------------- kernels
    _m("max-indices-int32", "dualgraph/runtime/kernels/reduction.py",
       "return values, idx.astype(xp.int64)", "return values, idx.astype(xp.int32)",
       "max/min along a dim return int32 indices",
       GUARDS, CONFORMANCE, "tests/test_reductions.py"),
    _m("sub-kernel-alpha", "dualgraph/runtime/kernels/elementwise.py",
       "xp.subtract(a, xp.multiply(b, alpha))", "xp.subtract(a, b)",
       "the sub kernel ignores alpha",
       GUARDS, CONFORMANCE, "tests/test_math.py", "tests/test_optim.py"),
    _m("sum-to-size-keepdims", "dualgraph/runtime/kernels/shape.py",
       "if s == 1 and x.shape[lead + i] != 1)", "if s == 1 and x.shape[lead + i] != 1 and i)",
       "sum_to_size never reduces the first kept dim (un-broadcasting gradients)",
       CONFORMANCE, "tests/test_autograd.py", "tests/test_nn.py"),
    _m("setitem-no-copy", "dualgraph/runtime/kernels/shape.py",
       "        out = x.copy()\n        out[full_index(index)] = src",
       "        out = x\n        out[full_index(index)] = src",
       "the pure setitem kernel writes into its input",
       "tests/test_trace.py", "tests/test_indexing.py", CONFORMANCE),
    _m("relu-threshold", "dualgraph/runtime/kernels/elementwise.py",
       "return xp.where(x < 0, x.dtype.type(0), x)",
       "return xp.where(x < 1e-7, x.dtype.type(1e-7), x)",
       "relu's floor is a tiny positive number, not 0",
       CONFORMANCE, "tests/test_nn.py"),
    # ------------------------------------------------------------------- autograd
    _m("fit-grads-no-cast", "dualgraph/autograd/vjp.py",
       "        if g.dtype is not ctx.dtypes[i]:\n            g = g.to(ctx.dtypes[i])",
       "        if False:\n            g = g.to(ctx.dtypes[i])",
       "gradients are not cast to their input's dtype",
       "tests/test_autograd.py", "tests/test_promotion.py", CONFORMANCE),
    _m("engine-accumulate", "dualgraph/autograd/engine.py",
       "buf[nr] = g if buf[nr] is None else buf[nr] + g", "buf[nr] = g",
       "the engine overwrites instead of accumulating gradients from two paths",
       "tests/test_autograd.py", CONFORMANCE),
    _m("engine-release", "dualgraph/autograd/engine.py",
       "                if not retain_graph:\n                    node.release()",
       "                if retain_graph:\n                    node.release()",
       "retain_graph is inverted: saved tensors freed when asked to keep them",
       "tests/test_autograd.py"),
    _m("saved-version-check", "dualgraph/autograd/graph.py",
       "    if t._version.value != version:\n        raise _modified_error(t, node, version)",
       "    if t._version.value < version:\n        raise _modified_error(t, node, version)",
       "a saved tensor changed in place is no longer detected",
       "tests/test_autograd.py", "tests/test_indexing.py"),
    _m("gradcheck-central-diff", "dualgraph/autograd/gradcheck.py",
       "columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])",
       "columns.append([(p - m) / eps for p, m in zip(plus, minus)])",
       "gradcheck's finite differences are off by a factor of 2",
       "tests/test_autograd.py", GUARDS),
    # ------------------------------------------------------------------- jit/codegen
    _m("codegen-no-del", "dualgraph/jit/codegen.py",
       "        if dead:\n            lines.append", "        if False:\n            lines.append",
       "generated code no longer deletes dead values",
       GUARDS, "tests/test_trace.py", "tests/test_graph_ir.py"),
    _m("codegen-no-cast", "dualgraph/jit/codegen.py",
       "x.type.dtype is not compute:", "x.type.dtype is not compute and False:",
       "generated code no longer casts inputs to the op's compute dtype",
       CONFORMANCE, "tests/test_trace.py", "tests/test_promotion.py"),
    _m("codegen-constant-copy", "dualgraph/jit/codegen.py",
       'ref += ".copy()"', 'ref += ""',
       "a graph hands out its own constant array as an output",
       GUARDS, "tests/test_trace.py", "tests/test_graph_ir.py", "tests/test_save_load.py"),
    _m("codegen-0d-asarray", "dualgraph/jit/codegen.py",
       "if node.op.num_outputs == 1 and isinstance(out, TensorType) and not out.shape:",
       "if False:",
       "0-d results of generated code stay NumPy scalars",
       GUARDS, CONFORMANCE, "tests/test_trace.py"),
    # ------------------------------------------------------------------- jit/tracer, trace
    _m("tracer-view-chain", "dualgraph/jit/tracer.py",
       "link = ViewLink(base, chain + ((op, _plain_attrs(attrs)),))",
       "link = ViewLink(base, ((op, _plain_attrs(attrs)),))",
       "the tracer records only the last view op of a view of a view",
       GUARDS, "tests/test_trace.py", "tests/test_indexing.py"),
    _m("tracer-no-stamp", "dualgraph/jit/tracer.py",
       "        self._stamp += 1\n        target._value",
       "        target._value",
       "an in-place write no longer marks other views of the base stale",
       "tests/test_trace.py", GUARDS, "tests/test_indexing.py"),
    _m("trace-no-state-mutation", "dualgraph/jit/trace.py",
       'found.append((tracer.current(t), ("state", j, "inplace")))', "pass",
       "a buffer changed in place by a traced module is not written back",
       "tests/test_trace.py", "tests/test_nn.py", "tests/test_script_training.py"),
    # ------------------------------------------------------------------- serialize
    _m("archive-member-limit", "dualgraph/serialize/archive.py",
       "        if total > limit:", "        if info.file_size > limit:",
       "the archive size limit checks each member instead of the running total",
       GUARDS, "tests/test_serialize.py"),
    _m("archive-ratio-check", "dualgraph/serialize/archive.py",
       "and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):",
       "and info.file_size > MAX_COMPRESSION_RATIO * info.file_size):",
       "the zip-bomb compression-ratio check never fires",
       "tests/test_serialize.py"),
    _m("schema-int64-range", "dualgraph/serialize/schema.py",
       "    if not INT64_MIN <= int(x) <= INT64_MAX:\n        _fail(src, where, f\"integer {x}",
       "    if not INT64_MIN <= int(x) <= INT64_MAX + 1:\n        _fail(src, where, f\"integer {x}",
       "an integer attribute one past int64's range is saved",
       GUARDS, "tests/test_serialize.py"),
    _m("schema-op-version", "dualgraph/serialize/schema.py",
       "    if version > op.version:", "    if version > op.version + 1:",
       "a file written by a newer op version is accepted",
       GUARDS, "tests/test_serialize.py", "tests/test_save_load.py"),
    # ------------------------------------------------------------------- _tensor_str
    _m("print-threshold", "dualgraph/_tensor_str.py",
       "summarize = values.size > OPTIONS.threshold",
       "summarize = values.size >= OPTIONS.threshold",
       "printing summarizes a tensor of exactly `threshold` elements",
       GUARDS, "tests/test_printing.py"),
    _m("print-sci-low", "dualgraph/_tensor_str.py",
       "or lo < 1.0e-4)", "or lo < 1.0e-3)",
       "scientific notation switches on below 1e-3 instead of 1e-4",
       GUARDS, "tests/test_printing.py"),
    _m("print-sci-ratio", "dualgraph/_tensor_str.py",
       "hi / lo > 1000.0", "hi / lo >= 1000.0",
       "scientific notation at a max/min ratio of exactly 1000",
       "tests/test_printing.py", GUARDS),
    _m("print-edgeitems", "dualgraph/_tensor_str.py",
       "    elif summarize and values.shape[0] > 2 * e:",
       "    elif summarize and values.shape[0] > 2 * e + 1:",
       "a summarized vector of 2*edgeitems+1 elements is printed in full",
       "tests/test_printing.py", GUARDS),
    # ------------------------------------------------------------------- optim
    _m("sgd-dampening", "dualgraph/optim/sgd.py",
       "buf.mul_(mu).add_(g, alpha=1 - group[\"dampening\"])",
       "buf.mul_(mu).add_(g, alpha=1 + group[\"dampening\"])",
       "SGD's momentum dampening has the wrong sign",
       "tests/test_optim.py"),
    _m("adam-bias-correction", "dualgraph/optim/adam.py",
       "bias_correction1 = 1 - beta1 ** t", "bias_correction1 = 1 - beta1 ** (t - 1) + 1e-8",
       "Adam's first-moment bias correction is one step late",
       "tests/test_optim.py", "tests/test_script_training.py"),
    _m("adamw-decay", "dualgraph/optim/adam.py",
       "p.mul_(1 - lr * wd)", "p.mul_(1 - wd)",
       "AdamW's decoupled weight decay ignores the learning rate",
       "tests/test_optim.py"),
    _m("rmsprop-centered", "dualgraph/optim/rmsprop.py",
       "avg = v.addcmul(g_avg, g_avg, value=-1).sqrt_()",
       "avg = v.addcmul(g_avg, g_avg, value=1).sqrt_()",
       "centered RMSprop adds the squared mean instead of subtracting it",
       "tests/test_optim.py"),
    _m("steplr-off-by-one", "dualgraph/optim/lr_scheduler.py",
       "self.last_epoch % self.step_size != 0:", "(self.last_epoch + 1) % self.step_size != 0:",
       "StepLR decays one epoch early",
       "tests/test_optim.py", "tests/test_lr_onecycle.py"),
    # ------------------------------------------------------------------- nn
    _m("batchnorm-unbiased", "dualgraph/nn/functional_layers.py",
       "unbiased = var.detach().reshape(-1) * (count / (count - 1))",
       "unbiased = var.detach().reshape(-1)",
       "BatchNorm's running variance uses the biased estimate",
       "tests/test_nn.py", "tests/test_nn_layers.py"),
    _m("layernorm-eps", "dualgraph/nn/functional_layers.py",
       "return (x - mean) / (var + eps).sqrt(), mean, var",
       "return (x - mean) / var.sqrt().add(eps), mean, var",
       "normalization adds eps to the standard deviation instead of the variance",
       "tests/test_nn.py", "tests/test_nn_layers.py"),
    _m("dropout-scale", "dualgraph/nn/functional.py",
       "out = input * keep * (1.0 / (1.0 - p))", "out = input * keep",
       "dropout no longer rescales the kept activations",
       "tests/test_nn.py", "tests/test_nn_layers.py"),
    _m("smooth-l1-beta", "dualgraph/nn/functional.py",
       "loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)",
       "loss = where(d < beta, d * d * 0.5, d - 0.5 * beta)",
       "smooth_l1_loss's quadratic part ignores beta",
       "tests/test_nn.py"),
    _m("label-smoothing", "dualgraph/nn/functional.py",
       "return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)",
       "return nll * (1.0 - label_smoothing) + smooth * label_smoothing",
       "cross_entropy's label smoothing forgets to divide by the number of classes",
       "tests/test_nn.py"),
]


# ---------------------------------------------------------------------------------- runner

def _copy_repo(dest: Path) -> None:
    """The repository's source and tests, without git, virtualenvs or caches. dualgraph.ir and
    dualgraph.passes live in ir/ and passes/ (package-dir); symlinks make them importable from
    the copy without an install, so the copy's code is what the tests import."""
    ignore = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "*.egg-info",
                                    ".pytest_cache", ".hypothesis", "build", "dist")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    for pkg in ("ir", "passes"):
        link = dest / "dualgraph" / pkg
        if not link.exists():
            link.symlink_to(Path("..") / pkg)


def _env(copy: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a mutant's .pyc must never outlive it
    env["PYTHONHASHSEED"] = "0"
    return env


def _check_imports_from(copy: Path, python: str) -> None:
    code = ("import dualgraph, dualgraph.ir.meta, dualgraph.passes, sys; "
            "print(dualgraph.__file__); print(dualgraph.ir.meta.__file__); "
            "print(dualgraph.passes.__file__)")
    out = subprocess.run([python, "-c", code], cwd=copy, env=_env(copy), capture_output=True,
                         text=True, timeout=120)
    files = out.stdout.split()
    if out.returncode != 0 or len(files) != 3 or not all(
            Path(f).resolve().is_relative_to(copy.resolve()) for f in files):
        sys.exit(f"the copy in {copy} does not import its own dualgraph:\n{out.stdout}{out.stderr}")


def _limit_memory(gb: float):
    def apply() -> None:
        os.setpgrp()  # its own process group: a timeout kills pytest and its children
        if gb > 0:
            limit = int(gb * (1 << 30))
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


_COUNTS = re.compile(r"(\d+) (failed|passed|errors?|skipped)")


def _pytest(copy: Path, python: str, tests: tuple, stop_first: bool, timeout: float,
            memory_gb: float, per_test_timeout: float) -> tuple[str, float, dict, str]:
    """(outcome, seconds, counts, tail): outcome is passed, failed, timeout or error."""
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           "--no-header", "-rN", *tests]
    if stop_first:
        cmd.insert(4, "-x")
    if per_test_timeout > 0 and _has_pytest_timeout(python):
        cmd += [f"--timeout={per_test_timeout}"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=copy, env=_env(copy), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_limit_memory(memory_gb))
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        return "timeout", time.monotonic() - start, {}, (out or "")[-2000:]
    seconds = time.monotonic() - start
    counts: dict = {}
    for line in out.splitlines()[-3:]:
        for n, what in _COUNTS.findall(line):
            counts["errors" if what.startswith("error") else what] = int(n)
    outcome = {0: "passed", 1: "failed"}.get(proc.returncode, "error")
    if proc.returncode == 5:
        outcome = "no tests"
    return outcome, seconds, counts, out[-2000:]


_TIMEOUT_PLUGIN: dict = {}


def _has_pytest_timeout(python: str) -> bool:
    if python not in _TIMEOUT_PLUGIN:
        r = subprocess.run([python, "-c", "import pytest_timeout"], capture_output=True)
        _TIMEOUT_PLUGIN[python] = r.returncode == 0
    return _TIMEOUT_PLUGIN[python]


def _apply(copy: Path, m: Mutation) -> str | None:
    """Apply `m` in the copy; the original text, or None when the mutation is stale."""
    path = copy / m.file
    if not path.exists():
        return None
    text = path.read_text()
    if text.count(m.original) != 1:
        return None
    path.write_text(text.replace(m.original, m.mutated))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--count-kills", action="store_true",
                        help="run each mutant's test files in full (no -x) and count the tests "
                             "that fail: a kill resting on one test is fragile")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds per mutant's test run (default 600)")
    parser.add_argument("--per-test-timeout", type=float, default=60,
                        help="pytest-timeout's limit per test, where installed (default 60)")
    parser.add_argument("--memory-gb", type=float, default=6,
                        help="address-space limit of the test process in GiB (0: none)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip checking that the chosen tests pass unmutated")
    parser.add_argument("--tests", nargs="+", metavar="FILE",
                        help="run these test files for every mutation instead of its own")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to test with")
    args = parser.parse_args(argv)

    chosen = MUTATIONS
    if args.only:
        known = {m.id for m in MUTATIONS}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            parser.error(f"unknown mutation ids: {', '.join(unknown)}")
        chosen = [m for m in MUTATIONS if m.id in args.only]
    if args.tests:
        chosen = [Mutation(m.id, m.file, m.original, m.mutated, m.description,
                           tuple(args.tests)) for m in chosen]
    if args.list:
        for m in chosen:
            path = ROOT / m.file
            ok = path.exists() and path.read_text().count(m.original) == 1
            print(f"{m.id:<26} {m.file:<42} {m.description}{'' if ok else '  [STALE]'}")
        print(f"{len(chosen)} mutations")
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="dg-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        _copy_repo(copy)
        _check_imports_from(copy, args.python)
        if not args.no_baseline:
            files = tuple(sorted({t for m in chosen for t in m.tests}))
            outcome, secs, counts, tail = _pytest(copy, args.python, files, False, args.timeout
                                                  * 3, args.memory_gb, args.per_test_timeout)
            print(f"baseline: {outcome} in {secs:.0f} s over {len(files)} test files {counts}",
                  flush=True)
            if outcome != "passed":
                print(tail)
                print("the chosen tests must pass before mutating; fix them first")
                return 2
        width = max(len(m.id) for m in chosen)
        for k, m in enumerate(chosen, 1):
            original = _apply(copy, m)
            if original is None:
                results.append({"id": m.id, "file": m.file, "outcome": "stale",
                                "description": m.description})
                print(f"[{k:2d}/{len(chosen)}] {m.id:<{width}}  STALE (original text not found "
                      f"exactly once in {m.file})", flush=True)
                continue
            try:
                outcome, secs, counts, tail = _pytest(copy, args.python, m.tests,
                                                      not args.count_kills, args.timeout,
                                                      args.memory_gb, args.per_test_timeout)
            finally:
                (copy / m.file).write_text(original)
            status = "survived" if outcome == "passed" else "killed"
            row = {"id": m.id, "file": m.file, "description": m.description, "outcome": status,
                   "pytest": outcome, "seconds": round(secs, 1), "tests": list(m.tests),
                   "failed": counts.get("failed", 0) + counts.get("errors", 0)}
            results.append(row)
            extra = f"{row['failed']} failing" if args.count_kills and status == "killed" else ""
            if outcome in ("timeout", "error", "no tests"):
                extra = (extra + " " if extra else "") + f"({outcome})"
            print(f"[{k:2d}/{len(chosen)}] {m.id:<{width}}  {status.upper():<8} {secs:6.1f} s  "
                  f"{extra}", flush=True)
            if outcome == "no tests":
                print(tail)

    valid = [r for r in results if r["outcome"] != "stale"]
    killed = [r for r in valid if r["outcome"] == "killed"]
    survived = [r for r in valid if r["outcome"] == "survived"]
    rate = len(killed) / len(valid) if valid else 0.0
    print()
    print(f"killed {len(killed)} of {len(valid)} mutants: kill rate {rate:.0%}"
          + (f" ({len(results) - len(valid)} stale)" if len(results) != len(valid) else ""))
    for r in survived:
        print(f"  survived: {r['id']} ({r['file']}): {r['description']}")
    if args.count_kills:
        single = [r for r in killed if r["failed"] == 1]
        for r in single:
            print(f"  killed by a single test: {r['id']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"kill_rate": rate, "killed": len(killed),
                                               "mutants": len(valid), "results": results},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
