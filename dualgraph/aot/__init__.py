"""Ahead-of-time compilation to C: a compiled graph becomes a small C library and a command-line
program that run with no Python at all (docs/AOT.md).

    prog = dg.aot.compile(traced_net, "out/net")      # writes net.c, net.h, main.c, weights.bin...
    prog.build()                                        # make: ./out/net/net
    outputs = prog.run(x)                               # runs the program on .npy files

The C comes from the same records the other code generators read: elementwise ops and fused
groups from the ops' scalar templates, row ops from their `Rows` records, and the few ops with
loops of their own (matrix product, convolution, pooling, reductions, embedding) from the
table in kernels.py. Intermediates live in one workspace laid out by the memory plan.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cexpr import Unlowerable
from .kernels import LOWERINGS

__all__ = ["compile", "CProgram", "AotError", "find_compiler", "has_openblas", "lowered_ops"]


class AotError(RuntimeError):
    """A graph that cannot become C (an op without a C lowering, a data-dependent size), or a
    build that failed; the message names the op and its source line, or the compiler's error."""


@dataclass
class CProgram:
    """The files `compile` wrote, and how to build and run them."""

    out_dir: Path
    name: str
    files: dict
    entries: list = field(default_factory=list)
    blas: bool = False
    embedded: bool = False

    @property
    def executable(self) -> Path:
        return self.out_dir / self.name

    def build(self, *, cc: str | None = None, target: str | None = None,
              cflags: str | None = None, timeout: float = 300) -> Path:
        """Run `make` in the output folder (the runner by default, `lib<name>.so` on request)
        with the C compiler found at run time (`cc`, `$CC`, or `cc`) and the Makefile's flags
        (or `cflags`); returns what it built."""
        compiler = cc or find_compiler()
        target = target or self.name
        make = shutil.which("make")
        if make is None:
            raise AotError("building the C program needs `make`, which is not installed")
        env = dict(os.environ, CC=compiler)
        command = [make, "-s", target] + ([f"CFLAGS={cflags}"] if cflags else [])
        proc = subprocess.run(command, cwd=self.out_dir, env=env, text=True,
                              capture_output=True, timeout=timeout)
        if proc.returncode != 0 or proc.stderr.strip():
            if proc.returncode != 0:
                raise AotError(f"building {self.out_dir / target} failed:\n{proc.stderr[-4000:]}")
            raise AotError(f"the C compiler warned building {self.out_dir / target} (the "
                           f"generated code must compile warning-free):\n{proc.stderr[-4000:]}")
        return self.out_dir / target

    def library(self, cflags: str | None = None) -> Any:
        """The built shared library (`make lib<name>.so` first if needed) as a Python object
        whose attributes are the entry points, taking and returning NumPy arrays."""
        from .library import CLibrary
        path = self.out_dir / f"lib{self.name}.so"
        if not path.exists():
            self.build(target=path.name, cflags=cflags)
        return CLibrary(path, self)

    def run(self, *inputs: Any, timeout: float = 120, env: dict | None = None) -> list:
        """Run the built program on arrays (written as .npy files) and return its outputs."""
        if not self.executable.exists():
            raise AotError(f"{self.executable} is not built; call build() first")
        arrays = [np.array(_host(a), order="C") for a in inputs]
        n_out = len(self.entries[0].signature.outputs)
        with tempfile.TemporaryDirectory() as tmp:
            ins = [os.path.join(tmp, f"in{k}.npy") for k in range(len(arrays))]
            outs = [os.path.join(tmp, f"out{k}.npy") for k in range(n_out)]
            for path, a in zip(ins, arrays):
                np.save(path, a)
            proc = subprocess.run([str(self.executable), *ins, "-o", *outs], text=True,
                                  capture_output=True, timeout=timeout,
                                  env=dict(os.environ, **(env or {})))
            if proc.returncode != 0:
                raise AotError(f"{self.executable.name} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()[-2000:]}")
            return [np.load(p) for p in outs]


def _host(a: Any) -> Any:
    return a.numpy() if hasattr(a, "numpy") and not isinstance(a, np.ndarray) else np.asarray(a)


def find_compiler() -> str:
    """The system C compiler: `$CC`, else `cc`, else `gcc` or `clang`; AotError if none."""
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate.split()[0]):
            return candidate
    raise AotError("no C compiler found: install one (Debian: apt install gcc) or set $CC")


def has_openblas(cc: str | None = None) -> bool:
    """Whether `cc` can build and link against OpenBLAS's CBLAS (Debian: libopenblas-dev)."""
    try:
        compiler = cc or find_compiler()
    except AotError:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "probe.c")
        src.write_text("#include <cblas.h>\nint main(void) { float a = 1, b = 1, c = 0;\n"
                       "  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f,"
                       " &a, 1, &b, 1, 0.0f, &c, 1); return c != 1.0f; }\n")
        try:
            proc = subprocess.run([*compiler.split(), str(src), "-o", str(Path(tmp, "probe")),
                                   "-lopenblas"], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return proc.returncode == 0


def lowered_ops() -> dict:
    """{op name: how it becomes C} for every registered op that has a C lowering."""
    from ..ir.registry import ELEMENTWISE, VIEW, all_ops
    out = {}
    for op in all_ops():
        if op.name in LOWERINGS:
            out[op.name] = "loop in kernels.py"
        elif op.kind == VIEW:
            out[op.name] = "view (strides, no copy)"
        elif op.rows is not None:
            out[op.name] = "row loop from its Rows record"
        elif op.kind == ELEMENTWISE and op.template:
            out[op.name] = "scalar template"
        elif op.name in ("loop", "if"):
            out[op.name] = "C control flow"
        elif op.name in ("constant", "sym_size"):
            out[op.name] = "weights blob" if op.name == "constant" else "size expression"
    return out


def _graph_and_state(obj: Any) -> tuple:
    """(optimized graph, state arrays, default name) of a compiled function, a .dgm path, or a
    bare graph."""
    from ..ir.graph import Graph
    from ..jit.function import GraphFunction
    if isinstance(obj, Graph):  # a bare graph: every input is the caller's
        return obj, [], obj.name
    if isinstance(obj, (str, os.PathLike)):
        from ..jit.io import load
        path = Path(obj)
        fn = load(path)
        default = path.stem
    else:
        fn = obj
        default = None
    if not isinstance(fn, GraphFunction) and isinstance(
            getattr(type(fn), "compiled", None), property):
        fn = fn.compiled
    if not isinstance(fn, GraphFunction):
        raise TypeError(f"dg.aot.compile() expects a traced, scripted or loaded function or a "
                        f".dgm path, got {type(fn).__name__}")
    state = [np.asarray(t._host()) for t in fn._state_tensors()]
    name = default or getattr(fn, "_name", None) or "model"
    return fn.graph, state, name


def _c_name(name: str) -> str:
    """A model or entry name as the prefix of C names: lower-case letters and digits."""
    cleaned = "".join(ch for ch in str(name).lower() if ch.isascii() and ch.isalnum())
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "m" + cleaned
    if cleaned in ("main", "dg") or len(cleaned) > 40:
        raise ValueError(f"model name {name!r:.60} cannot prefix C names: expected up to 40 "
                         f"letters and digits, starting with a letter, other than main and dg")
    return cleaned


def compile(obj: Any, out_dir: str | os.PathLike, name: str | None = None, *,  # noqa: A001
            embed_weights: bool = False, native: bool = False, blas: bool | None = None,
            sanitize: bool = False) -> CProgram:
    """Write `obj` (a traced, scripted or loaded function, a .dgm path, or a dict of named
    ones) as C into `out_dir`: `NAME.c`, `NAME.h`, `main.c`, `weights.bin` (or the weights
    embedded as a C array), a Makefile and a README. `blas=None` uses OpenBLAS when the system
    compiler can link it; `native` adds -march=native; `sanitize` builds with
    -fsanitize=address,undefined. Raises AotError naming any node that has no C form."""
    from .writer import entry_point, write_program
    items = obj.items() if isinstance(obj, dict) else [(None, obj)]
    graphs = []
    for key, fn in items:
        graph, state, default = _graph_and_state(fn)
        graphs.append((key, graph, state, default))
    base = _c_name(name or graphs[0][3])
    entries, regions = [], []
    for key, graph, state, _ in graphs:
        entry = base if key is None else f"{base}_{_c_name(key)}"
        try:
            ep, n_regions = entry_point(graph, state, entry)
        except Unlowerable as why:
            raise AotError(f"dg.aot.compile: cannot write {entry} as C: {why}") from None
        entries.append(ep)
        regions.append(n_regions)
    use_blas = has_openblas() if blas is None else bool(blas)
    try:
        files = write_program(Path(out_dir), base, entries, regions, embed_weights, use_blas,
                              native, sanitize)
    except Unlowerable as why:
        raise AotError(f"dg.aot.compile: {why}") from None
    return CProgram(Path(out_dir), base, files, entries, use_blas, embed_weights)
