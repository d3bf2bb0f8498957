"""Printing tensors exactly as PyTorch 2.13 prints them (`tensor([[1., 2.]], requires_grad=True)`).

The same rules as PyTorch's printer: floats that are all integral print as `1.`, a wide range of
magnitudes switches to scientific notation, columns are right-aligned to the widest element, rows
wrap at 80 characters, and tensors of more than 1000 elements are summarized with `...`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


OPTIONS = PrintOptions()


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print (PyTorch's options and profiles: default, short, full)."""
    if profile is not None:
        base = {"default": PrintOptions(), "short": PrintOptions(precision=2, edgeitems=2),
                "full": PrintOptions(threshold=math.inf)}[profile]
        for k, v in asdict(base).items():
            setattr(OPTIONS, k, v)
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(OPTIONS, name, value)
    OPTIONS.sci_mode = sci_mode


class _Formatter:
    """Chooses integer, fixed or scientific notation and the column width for one tensor."""

    def __init__(self, values: np.ndarray, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:
            return
        absolute = np.abs(finite)
        # Python floats: a ratio that overflows (1e300 / 1e-300) is inf, not a NumPy warning.
        lo, hi = float(absolute.min()), float(absolute.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        p = OPTIONS.precision
        self.sci_mode = (hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4) \
            if OPTIONS.sci_mode is None else OPTIONS.sci_mode
        values_list = finite.tolist()
        if self.sci_mode:
            fmt = lambda v: f"{v:.{p}e}"
        elif self.int_mode:
            fmt = lambda v: f"{v:.0f}" + " "  # room for the trailing '.'
        else:
            fmt = lambda v: f"{v:.{p}f}"
        for v in values_list:
            self.max_width = max(self.max_width, len(fmt(v)))

    def format(self, value: Any) -> str:
        if self.floating:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{OPTIONS.precision}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{OPTIONS.precision}f}"
        else:
            ret = str(value)
        return (self.max_width - len(ret)) * " " + ret


def _summarized(values: np.ndarray) -> np.ndarray:
    """The edge items of every dim, for choosing the format of a summarized tensor."""
    e = OPTIONS.edgeitems
    if values.ndim == 0:
        return values
    if e == 0:
        return values[:0]  # a summary with no edge items prints only `...`: nothing to measure
    if values.shape[0] > 2 * e:
        values = np.concatenate([values[:e], values[-e:]])
    if values.ndim == 1:
        return values
    return np.stack([_summarized(v) for v in values])


def _vector(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    element_length = fmt.max_width + 2
    per_line = max(1, math.floor((OPTIONS.linewidth - indent) / element_length))
    e = OPTIONS.edgeitems
    if summarize and e == 0:
        data = ["..."]  # not " ...": with no items before it, there is no separating space
    elif summarize and values.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in values[:e].tolist()] + [" ..."]
                + [fmt.format(v) for v in values[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _format(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector(values, indent, summarize, fmt)
    e = OPTIONS.edgeitems
    n = values.shape[0]
    if summarize and n > 2 * e:
        rows = ([_format(values[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."]
                + [_format(values[i], indent + 1, summarize, fmt) for i in range(n - e, n)])
    else:
        rows = [_format(values[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last_line + len(s) + 2 > OPTIONS.linewidth:
            parts.append(",\n" + " " * indent + s)
            last_line = indent + len(s)
        else:
            parts.append(", " + s)
            last_line += len(s) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t: Any) -> str:
    """`tensor([...], dtype=..., grad_fn=<...>)` for a Tensor, as PyTorch prints it."""
    from .ir.types import bool_, get_default_dtype, int64
    prefix = "tensor("
    indent = len(prefix)
    values = t._host()
    suffixes = []
    if t._device.type != "cpu":
        suffixes.append(f"device='{t._device}'")
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if t._dtype is not get_default_dtype():
            suffixes.append(f"dtype={t._dtype}")
        body = "[]"
    else:
        if OPTIONS.edgeitems == 0:
            # A summary without edge items shows no element, so the shape is stated; PyTorch
            # states it whenever edgeitems is 0, even for tensors printed in full.
            suffixes.append(f"size={tuple(values.shape)}")
        if t._dtype not in (get_default_dtype(), int64, bool_):
            suffixes.append(f"dtype={t._dtype}")
        summarize = values.size > OPTIONS.threshold
        fmt = _Formatter(_summarized(values) if summarize else values,
                         t._dtype.is_floating_point)
        body = _format(values, indent, summarize, fmt)
    fn = t.grad_fn
    if fn is not None:
        suffixes.append(f"grad_fn=<{fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
