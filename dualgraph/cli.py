"""The `dualgraph` command.

    dualgraph demo                                   a tour of what dualgraph does today
    dualgraph show model.dgm                         inputs, outputs, op counts, bytes, the IR
    dualgraph run model.dgm --input x.npy [...] --output out.npy
    dualgraph viz model.dgm -o model.svg [--optimized] [--memory] [--collapse module]
                  [--depth N] [--expand PATH]    a picture (SVG, PNG or PDF)
    dualgraph profile model.dgm --input x.npy [--repeat N] [--trace out.json]
    dualgraph as-torch script.py [args]              run a PyTorch script on dualgraph
    dualgraph serve model.dgm [NAME=other.dgm ...]   serve over HTTP (KServe v2; docs/SERVING.md)
    dualgraph convert model.dgm model.onnx           .dgm <-> .onnx (needs the onnx extra)

The demo grows with each capability, printing each briefly.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from .profiler.events import SORT_KEYS


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def demo() -> int:
    """Run the tour: tensors as the tutorials make them, then eager autograd."""
    import dualgraph as dg

    dg.manual_seed(0)
    _section("Tensors (seed 001)")
    x = dg.zeros(5, 3, dtype=dg.long)
    print("dg.zeros(5, 3, dtype=dg.long) ->", x.shape, x.dtype)
    x = dg.tensor([5.5, 3])
    print("dg.tensor([5.5, 3]) ->", x)
    x = x.new_ones(5, 3, dtype=dg.double)
    y = dg.rand(5, 3, dtype=dg.double)
    print("x + y == dg.add(x, y):", bool(((x + y) == dg.add(x, y)).numpy().all()))
    v = x[1]
    v.add_(10)
    print("v = x[1]; v.add_(10) writes through the view: x[1] =", x[1])

    _section("Autograd (seed 002)")
    x = dg.ones(3, 4, requires_grad=True)
    y = x + 2
    z = dg.mean(y.pow(3))
    print("y = x + 2          ->", y.grad_fn)
    print("z = mean(y ** 3)   ->", z)
    z.backward()
    print("x.grad after z.backward():", x.grad[0].tolist(), "(2.25 everywhere)")
    print("leaves: x, y, z ->", x.is_leaf, y.is_leaf, z.is_leaf)

    a = dg.randn(2, 3, requires_grad=True)
    s = 1.0 / (1.0 + dg.exp(-a))
    s.backward(gradient=dg.ones(s.size()))
    expected = (s * (1 - s)).detach()
    close = bool(((a.grad - expected).abs() < 1e-6).numpy().all())
    print("sigmoid by hand: autograd's gradient equals s * (1 - s):", close)

    _section("One funnel: every op, forward and backward, goes through dispatch.bind")
    w = dg.ones(2, requires_grad=True)
    with dg.utils.op_log() as log:
        (w * 3).sum().backward()
    print("ops seen by an interpreter pushed on the stack:", [c.op for c in log])
    print(f"\n{len(dg.ir.all_ops())} ops are registered, each defined once in dualgraph.ir.")
    _demo_static_graphs(dg)
    return 0


class _DemoMLP:
    """The tutorials' network, from plain ops: flatten, Linear(784, 128), ReLU, Linear(128, 10)."""

    def __init__(self, dg) -> None:
        self.w1 = dg.randn(784, 128) * 0.05
        self.b1 = dg.zeros(128)
        self.w2 = dg.randn(128, 10) * 0.05
        self.b2 = dg.zeros(10)

    def __call__(self, x):
        h = (x.view(x.shape[0], -1) @ self.w1 + self.b1).relu()
        return h @ self.w2 + self.b2


def _demo_static_graphs(dg) -> None:
    """Trace, read the IR and the generated code, save, load, run, draw."""
    import os
    import shutil
    import tempfile

    import numpy as np

    _section("Static graphs: dg.jit.trace with a symbolic batch dimension")
    model = _DemoMLP(dg)
    traced = dg.jit.trace(model, dg.randn(8, 1, 28, 28), dynamic_dims={0: "B"})
    print(traced.graph)
    print("\ngenerated code:")
    print(traced.code)
    x = dg.randn(3, 1, 28, 28)
    same = np.allclose(traced(x).numpy(), model(x).numpy(), rtol=1e-5)
    print("batch 3 through the graph traced at batch 8 equals eager:", same)

    _section("Deployment: .dgm files (no pickle, no source needed)")
    folder = tempfile.mkdtemp(prefix="dualgraph-demo-")
    try:
        path = os.path.join(folder, "mlp.dgm")
        traced.save(path)
        loaded = dg.load(path)
        print(f"saved {os.path.getsize(path)} bytes; loaded output equals:",
              np.allclose(loaded(x).numpy(), traced(x).numpy()))
        if shutil.which("dot"):
            picture = dg.viz.render(loaded, os.path.join(folder, "mlp.svg"))
            print("picture:", os.path.basename(picture), f"({os.path.getsize(picture)} bytes SVG)")
        else:
            print("picture: skipped (install Graphviz's `dot` to render)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def show(path: str, opt_level: int = 3) -> int:
    """Describe a saved function: its inputs, outputs, ops, state bytes and text IR (after the
    passes of `opt_level`; 0 shows the graph as saved)."""
    from .ir.text import format_type
    from .jit import load
    fn = load(path, opt_level=opt_level)
    graph = fn.graph
    n_user = graph.meta.get("user_inputs", len(graph.inputs))
    print(f"{path}: compiled function {fn._name!r}")
    print("inputs:")
    for v in graph.inputs[:n_user]:
        print(f"  {v.name}: {format_type(v.type)}")
    print("outputs:")
    for i, v in enumerate(graph.outputs[:graph.meta.get("n_user_outputs", len(graph.outputs))]):
        print(f"  {i}: {format_type(v.type)}")
    state = fn._state_tensors()
    total = sum(t.numel() * t.element_size() for t in state)
    print(f"state: {len(state)} tensors, {total} bytes")
    counts = ", ".join(f"{k} x{n}" for k, n in sorted(graph.op_counts().items()))
    print(f"ops ({len(graph.nodes)}): {counts}")
    print(graph)
    return 0


def run(path: str, inputs: Sequence[str], output: str | None, opt_level: int = 3) -> int:
    """Run a saved function on `.npy` inputs; print the outputs or save the first as `.npy`."""
    import numpy as np

    import dualgraph as dg
    if path.endswith(".onnx"):  # an ONNX model: imported (needs the onnx extra)
        from .onnx import load as load_onnx
        fn = load_onnx(path, opt_level=opt_level)
    else:
        fn = dg.jit.load(path, opt_level=opt_level)
    args = [dg.from_numpy(np.load(p, allow_pickle=False)) for p in inputs]
    with dg.no_grad():
        result = fn(*args)
    leaves = list(result) if isinstance(result, (tuple, list)) else [result]
    if output:
        np.save(output, leaves[0].numpy(), allow_pickle=False)
        print(f"wrote {output}: {format(tuple(leaves[0].shape))} {leaves[0].dtype}")
    else:
        for leaf in leaves:
            print(leaf)
    return 0


def profile(path: str, inputs: Sequence[str], repeat: int, trace: str | None, sort_by: str,
            row_limit: int, opt_level: int = 3) -> int:
    """Run a saved function `repeat` times under the profiler (after one unprofiled call that
    compiles it); print the table of its kernels and optionally write a Chrome trace."""
    import time

    import numpy as np

    import dualgraph as dg
    if repeat < 1:
        raise ValueError(f"--repeat must be at least 1, got {repeat}")
    fn = dg.jit.load(path, opt_level=opt_level)
    args = [dg.from_numpy(np.load(p, allow_pickle=False)) for p in inputs]
    with dg.no_grad():
        fn(*args)  # compile and warm up outside the profile
        start = time.perf_counter()
        with dg.profiler.profile(record_shapes=True, profile_memory=True) as prof:
            for _ in range(repeat):
                fn(*args)
        wall = time.perf_counter() - start
    print(prof.key_averages().table(sort_by=sort_by, row_limit=row_limit))
    print(f"{repeat} call{'s' * (repeat != 1)} of {path}: {wall * 1e3:.3f} ms wall time, "
          f"{wall * 1e3 / repeat:.3f} ms per call")
    if trace:
        print("wrote", prof.export_chrome_trace(trace), "(open it in Perfetto or chrome://tracing)")
    return 0


def passes(path: str, opt_level: int, show_ir: bool) -> int:
    """Print what each pass of `opt_level` does to a saved function (and the IR after each)."""
    from .ir.text import print_graph
    from .jit import load
    from .passes.manager import PIPELINE, optimize
    from .passes.rewrite import clone
    fn = load(path, opt_level=0)
    print(optimize(fn.graph, opt_level)[1])
    if show_ir:
        graph = fn.graph
        print(f"\n// as saved\n{print_graph(graph)}")
        for level_pass in [p for p in PIPELINE if p.level <= opt_level]:
            graph = clone(graph)
            level_pass.fn(graph, [])
            print(f"\n// after {level_pass.name}\n{print_graph(graph)}")
    return 0


def viz(path: str, out: str, optimized: bool = False, memory: bool = False,
        collapse: str | None = None, depth: int | None = None,
        expand: Sequence[str] = ()) -> int:
    """Draw a saved function's graph to `out` (the extension picks SVG, PNG or PDF): as saved,
    or after the opt_level 3 passes (`optimized`; `memory` colours the values by planned buffer
    and implies it); `collapse="module"` draws one box per submodule, `depth` levels open."""
    from . import viz as viz_module
    from .jit import load
    fn = load(path, opt_level=3 if optimized or memory else 0)
    print("wrote", viz_module.render(fn, out, memory=memory, collapse=collapse, depth=depth,
                                     expand=tuple(expand)))
    return 0


def compile_c(args: Any) -> int:
    """`dualgraph compile-c`: write (and with --build, make) the C program of a .dgm file."""
    from . import aot
    prog = aot.compile(args.model, args.output, args.name, embed_weights=args.embed_weights,
                       native=args.native, blas=False if args.no_blas else None)
    print(f"wrote {', '.join(sorted(prog.files))} to {prog.out_dir}"
          f"{' (with OpenBLAS)' if prog.blas else ''}")
    if args.build:
        print("built", prog.build())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dualgraph", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="a short tour of what dualgraph does today")
    levels = dict(type=int, choices=range(4), default=3, metavar="{0,1,2,3}",
                  help="the optimization level (default 3)")
    p = sub.add_parser("show", help="describe a saved .dgm function")
    p.add_argument("model")
    p.add_argument("--opt-level", **levels)
    p = sub.add_parser("run", help="run a saved .dgm function on .npy inputs")
    p.add_argument("model")
    p.add_argument("--opt-level", **levels)
    p.add_argument("--input", action="append", default=[], help="a .npy file, once per input")
    p.add_argument("--output", help="write the (first) output to this .npy file")
    p = sub.add_parser("passes", help="what each optimization pass does to a saved function")
    p.add_argument("model")
    p.add_argument("--opt-level", **levels)
    p.add_argument("--ir", action="store_true", help="print the IR after each pass too")
    p = sub.add_parser("viz", help="draw a saved .dgm function")
    p.add_argument("model")
    p.add_argument("-o", "--output", required=True, help="picture file: .svg, .png or .pdf")
    p.add_argument("--optimized", action="store_true",
                   help="draw the graph after the opt_level 3 passes (default: as saved)")
    p.add_argument("--memory", action="store_true",
                   help="colour each value by its planned buffer (implies --optimized)")
    p.add_argument("--collapse", choices=("module",), default=None,
                   help="one box per submodule, from the module paths capture recorded")
    p.add_argument("--depth", type=int, default=None,
                   help="with --collapse: how many levels of module paths open (default 1)")
    p.add_argument("--expand", action="append", default=[], metavar="PATH",
                   help="with --collapse: also open this module (repeatable: layers.0)")
    p = sub.add_parser("profile", help="profile a saved .dgm function on .npy inputs")
    p.add_argument("model")
    p.add_argument("--opt-level", **levels)
    p.add_argument("--input", action="append", default=[], help="a .npy file, once per input")
    p.add_argument("--repeat", type=int, default=10, help="profiled calls (default 10)")
    p.add_argument("--trace", help="write a Chrome trace (JSON) to this file")
    p.add_argument("--sort-by", default="self_cpu_time_total", choices=SORT_KEYS,
                   help="the table's sort column (default self_cpu_time_total)")
    p.add_argument("--row-limit", type=int, default=20, help="table rows (default 20)")
    from .serve.cli import add_parser as add_serve_parser  # no third-party import until it runs
    add_serve_parser(sub, levels)
    p = sub.add_parser("convert", help="convert between .dgm and .onnx (the onnx extra)")
    p.add_argument("source", help="a .dgm or .onnx file")
    p.add_argument("target", help="the .onnx or .dgm file to write")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset when writing .onnx")
    p = sub.add_parser("compile-c", help="compile a saved .dgm function to a C program")
    p.add_argument("model")
    p.add_argument("-o", "--output", required=True, help="the folder to write the C files into")
    p.add_argument("--name", help="the C prefix (default: the file's name)")
    p.add_argument("--embed-weights", action="store_true",
                   help="weights as a C array in the source instead of weights.bin")
    p.add_argument("--native", action="store_true", help="build with -march=native")
    p.add_argument("--no-blas", action="store_true", help="never call OpenBLAS")
    p.add_argument("--build", action="store_true", help="run make after writing the files")
    p = sub.add_parser("as-torch", help="run an unmodified PyTorch script on dualgraph")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "as-torch":
        from .as_torch import run as run_as_torch
        return run_as_torch(args.script, args.args)
    from .ir.errors import DualgraphError
    try:
        if args.command == "demo":
            return demo()
        if args.command == "show":
            return show(args.model, args.opt_level)
        if args.command == "run":
            return run(args.model, args.input, args.output, args.opt_level)
        if args.command == "passes":
            return passes(args.model, args.opt_level, args.ir)
        if args.command == "serve":
            from .serve.cli import run as run_serve
            return run_serve(args)
        if args.command == "convert":
            from .onnx.convert import convert
            print(convert(args.source, args.target, args.opset))
            return 0
        if args.command == "compile-c":
            return compile_c(args)
        if args.command == "profile":
            return profile(args.model, args.input, args.repeat, args.trace, args.sort_by,
                           args.row_limit, args.opt_level)
        return viz(args.model, args.output, args.optimized, args.memory, args.collapse,
                   args.depth, args.expand)
    except (DualgraphError, OSError, RuntimeError, ValueError, ImportError) as exc:
        print(f"dualgraph {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
