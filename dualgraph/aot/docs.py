"""The table of ops with a C lowering, as docs/AOT.md shows it:
`python -m dualgraph.aot.docs` prints it, and a test keeps the doc equal to it."""

from __future__ import annotations

from . import lowered_ops

BEGIN = "<!-- begin: ops with a C lowering (python -m dualgraph.aot.docs) -->"
END = "<!-- end: ops with a C lowering -->"


def table() -> str:
    """One row per way of lowering, with the ops that take it, sorted."""
    by_how: dict = {}
    for op, how in sorted(lowered_ops().items()):
        by_how.setdefault(how, []).append(op)
    lines = [BEGIN, "", "| how | ops |", "|---|---|"]
    for how in sorted(by_how, key=lambda h: (-len(by_how[h]), h)):
        ops = by_how[how]
        lines.append(f"| {how} ({len(ops)}) | {', '.join(f'`{o}`' for o in ops)} |")
    return "\n".join(lines + ["", END])


if __name__ == "__main__":
    print(table())
