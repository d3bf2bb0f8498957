"""Import entries for ONNX's recurrent layers — RNN, GRU, LSTM — unrolled over a sequence length
known when importing into registry ops (matmul, sigmoid, tanh ...), following the equations of
the ONNX spec (gate orders: LSTM i, o, f, c; GRU z, r, h). Forward, reverse and bidirectional;
peepholes and GRU's linear_before_reset; both layouts. Custom activations, clipping,
`input_forget` and per-batch `sequence_lens` are refused by name."""

from __future__ import annotations

from typing import Any

import numpy as np

from .import_builder import Builder

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
DEFAULT_ACTIVATIONS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"],
                       "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def _check(b: Builder, op: str, seq: Any, batch: Any) -> None:
    acts = b.attr("activations")
    if acts is not None:
        n = len(DEFAULT_ACTIVATIONS[op])
        if [a.decode() if isinstance(a, bytes) else a for a in acts] != \
                DEFAULT_ACTIVATIONS[op] * (len(acts) // n):
            b.fail(f"{op} with activations {list(acts)}", unsupported=True)
    for name in ("clip",) + (("input_forget",) if op == "LSTM" else ()):
        if b.attr(name):
            b.fail(f"{op} with {name}={b.attr(name)}", unsupported=True)
    if isinstance(seq, str):
        b.fail(f"{op} over a symbolic sequence length (it is unrolled)", unsupported=True)
    if b.has(4):
        lens = b.static(4, "sequence_lens")
        if not (isinstance(lens, np.ndarray) and np.all(lens == seq)):
            b.fail(f"{op} with sequence_lens shorter than the sequence", unsupported=True)


def _pick(b: Builder, v: Any, d: int) -> Any:
    return b.emit("getitem", [v], index=(d,))


def _initial(b: Builder, i: int, d: int, batch: Any, hidden: int, dtype: Any,
             layout: int) -> Any:
    if b.has(i):
        v = b.value(i)
        if layout:
            v = b.emit("transpose", [v], dim0=0, dim1=1)
        return _pick(b, v, d)
    return b.emit("full", [], size=(batch, hidden), fill_value=0.0, dtype=dtype)


def recurrent(b: Builder) -> list:
    op = b.onnx_node.op_type
    layout = b.attr("layout", 0)
    x = b.value(0)
    if layout:
        x = b.emit("transpose", [x], dim0=0, dim1=1)  # to [seq, batch, input]
    seq, batch = x.type.shape[0], x.type.shape[1]
    _check(b, op, seq, batch)
    w, r = b.value(1), b.value(2)
    hidden = b.attr("hidden_size", r.type.shape[-1])
    gates = GATES[op]
    direction = b.attr("direction", "forward")
    dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[direction]
    dtype = x.type.dtype
    ys, hs, cs = [], [], []
    for d, backward in enumerate(dirs):
        wt = b.emit("transpose", [_pick(b, w, d)], dim0=0, dim1=1)
        rt = b.emit("transpose", [_pick(b, r, d)], dim0=0, dim1=1)
        if b.has(3):
            bias = _pick(b, b.value(3), d)
            wb, rb = b.emit("split", [bias], sizes=(gates * hidden, gates * hidden), dim=0)
        else:
            wb = rb = None
        peep = b.emit("split", [_pick(b, b.value(7), d)], sizes=(hidden,) * 3, dim=0) \
            if op == "LSTM" and b.has(7) else None
        h = _initial(b, 5, d, batch, hidden, dtype, layout)
        c = _initial(b, 6, d, batch, hidden, dtype, layout) if op == "LSTM" else None
        out: list = [None] * seq
        for t in (range(seq - 1, -1, -1) if backward else range(seq)):
            xw = b.emit("matmul", [_pick(b, x, t), wt])
            if wb is not None:
                xw = b.emit("add", [xw, wb])
            h, c = STEP[op](b, xw, h, c, rt, rb, hidden, peep)
            out[t] = h
        ys.append(b.emit("stack", out, dim=0))  # [seq, batch, hidden]
        hs.append(h)
        cs.append(c)
    y = b.emit("stack", ys, dim=1)  # [seq, num_directions, batch, hidden]
    y_h = b.emit("stack", hs, dim=0)
    results = [y, y_h] + ([b.emit("stack", cs, dim=0)] if op == "LSTM" else [])
    if layout:
        results = [b.emit("permute", [y], dims=(2, 0, 1, 3))] + [
            b.emit("transpose", [v], dim0=0, dim1=1) for v in results[1:]]
    return results


def _split(b: Builder, v: Any, n: int, hidden: int) -> list:
    parts = b.emit("split", [v], sizes=(hidden,) * n, dim=1)
    return parts if isinstance(parts, list) else [parts]


def _rnn_step(b, xw, h, c, rt, rb, hidden, peep):
    hr = b.emit("matmul", [h, rt])
    if rb is not None:
        hr = b.emit("add", [hr, rb])
    return b.emit("tanh", [b.emit("add", [xw, hr])]), None


def _gru_step(b, xw, h, c, rt, rb, hidden, peep):
    xz, xr, xh = _split(b, xw, 3, hidden)
    r_all = b.emit("transpose", [rt], dim0=0, dim1=1)  # [3H, H]: rows per gate
    rz, rr, rh = (b.emit("transpose", [p], dim0=0, dim1=1)
                  for p in b.emit("split", [r_all], sizes=(hidden,) * 3, dim=0))
    bz = br = bh = None
    if rb is not None:
        bz, br, bh = b.emit("split", [rb], sizes=(hidden,) * 3, dim=0)
    lin = lambda v, m, bias: b.emit("add", [b.emit("matmul", [v, m]), bias]) if bias \
        is not None else b.emit("matmul", [v, m])
    z = b.emit("sigmoid", [b.emit("add", [xz, lin(h, rz, bz)])])
    r = b.emit("sigmoid", [b.emit("add", [xr, lin(h, rr, br)])])
    if b.attr("linear_before_reset", 0):
        hh = b.emit("mul", [r, lin(h, rh, bh)])
    else:
        hh = lin(b.emit("mul", [r, h]), rh, bh)
    n = b.emit("tanh", [b.emit("add", [xh, hh])])
    keep = b.emit("mul", [z, h])
    return b.emit("add", [b.emit("mul", [b.emit("sub", [1.0, z]), n]), keep]), None


def _lstm_step(b, xw, h, c, rt, rb, hidden, peep):
    hr = b.emit("matmul", [h, rt])
    if rb is not None:
        hr = b.emit("add", [hr, rb])
    gi, go, gf, gc = _split(b, b.emit("add", [xw, hr]), 4, hidden)
    if peep is not None:
        pi, po, pf = peep
        gi = b.emit("add", [gi, b.emit("mul", [pi, c])])
        gf = b.emit("add", [gf, b.emit("mul", [pf, c])])
    i, f = b.emit("sigmoid", [gi]), b.emit("sigmoid", [gf])
    c = b.emit("add", [b.emit("mul", [f, c]), b.emit("mul", [i, b.emit("tanh", [gc])])])
    if peep is not None:
        go = b.emit("add", [go, b.emit("mul", [po, c])])
    h = b.emit("mul", [b.emit("sigmoid", [go]), b.emit("tanh", [c])])
    return h, c


STEP = {"RNN": _rnn_step, "GRU": _gru_step, "LSTM": _lstm_step}
