"""Scripted functions for tests/test_aot.py (scripting reads a function's source from its file)."""

import dualgraph as dg


@dg.jit.script
def halve_until_small(x):
    n = 0
    while x.abs().sum() > 1.0:
        x = x * 0.5
        n += 1
    return x, n


@dg.jit.script
def clipped_steps(x):
    for i in range(3):
        x = x * 1.5
        if x.sum() > 2.0:
            x = x - 1.0
        else:
            x = x + 0.5 * i
    return x
