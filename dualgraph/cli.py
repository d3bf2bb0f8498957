"""The `dualgraph` command: `dualgraph demo` walks through what dualgraph can do today.

The demo grows with each capability (tensors and autograd now; tracing, scripting, optimization,
deployment and pictures as they land), printing each briefly.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


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
    with dg.utils.op_log() as log:
        w = dg.ones(2, requires_grad=True)
        (w * 3).sum().backward()
    print("ops seen by an interpreter pushed on the stack:", [c.op for c in log])
    print(f"\n{len(dg.ir.all_ops())} ops are registered, each defined once in dualgraph.ir.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dualgraph", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="a short tour of what dualgraph does today")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())
