"""Ops that graphs need beside the math: `constant` (tensor data captured into a graph)."""

from __future__ import annotations

import numpy as np

from ..registry import OPAQUE, OpDef, Sample, register
from ..types import dtype_from_numpy


def _constant_dtype(operands, attrs):
    d = dtype_from_numpy(np.asarray(attrs["value"]).dtype)
    return d, d


CONSTANT = register(OpDef(
    name="constant", inputs=(), attrs={"value": None}, kind=OPAQUE,
    dtype_rule=_constant_dtype,
    shape_rule=lambda operands, attrs: tuple(np.asarray(attrs["value"]).shape),
    samples=lambda rng: [Sample((), {"value": rng.uniform(-1, 1, size=(2, 3))}),
                         Sample((), {"value": np.arange(4)})],
    ref=lambda value: np.array(value, copy=True),
    doc="A tensor captured into a graph; its data lives in the attribute."))
