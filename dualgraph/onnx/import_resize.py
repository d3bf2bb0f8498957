"""Import of ONNX Resize (nearest, linear, cubic; every coordinate transformation mode), axis by
axis: because sizes are known when importing, each axis's source positions and weights are
computed now, from the attributes alone, as small NumPy arrays, and the resize becomes
`index_select`s of the input weighted by constants — registry ops, so it differentiates.
Antialiasing is refused by name."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ir import meta
from .import_builder import Builder


def _source(mode: str, x: np.ndarray, n_in: int, n_out: float, scale: float,
            roi: tuple) -> np.ndarray:
    """The input coordinate of each output position x (ONNX's coordinate_transformation_mode);
    `n_out` is the resized length, `n_in * scale` (not rounded) when scales were given."""
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adjust = len(x) / n_out  # the rounded length over the exact one
        offset = n_in / 2 * (1 - adjust)
        return offset + (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if n_out > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if n_out > 1:
            return start * (n_in - 1) + x * (end - start) * (n_in - 1) / (n_out - 1)
        return np.full_like(x, 0.5 * (start + end) * (n_in - 1))
    raise KeyError(mode)


def _nearest(v: np.ndarray, how: str) -> np.ndarray:
    if how == "round_prefer_floor":
        return np.where(v - np.floor(v) == 0.5, np.floor(v), np.round(v))
    if how == "round_prefer_ceil":
        return np.floor(v + 0.5)
    if how == "floor":
        return np.floor(v)
    if how == "ceil":
        return np.ceil(v)
    raise KeyError(how)


def _cubic(t: np.ndarray, a: float) -> np.ndarray:
    t = np.abs(t)
    return np.where(t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                    np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0.0))


def _taps(b: Builder, n_in: int, n_out: int, length: float, scale: float, roi: tuple) -> tuple:
    """(taps: list of (index array, weight array), outside mask or None) for one axis."""
    v = _source(b.attr("coordinate_transformation_mode", "half_pixel"),
                np.arange(n_out, dtype=np.float64), n_in, length, scale, roi)
    mode = b.attr("mode", "nearest")
    clip = lambda i: np.clip(i, 0, n_in - 1).astype(np.int64)
    if mode == "nearest":
        taps = [(clip(_nearest(v, b.attr("nearest_mode", "round_prefer_floor"))),
                 np.ones(n_out))]
    elif mode == "linear":
        x0 = np.floor(v)
        w1 = v - x0
        taps = [(clip(x0), 1 - w1), (clip(x0 + 1), w1)]
    elif mode == "cubic":
        a = b.attr("cubic_coeff_a", -0.75)
        x0 = np.floor(v)
        offsets = [-1, 0, 1, 2]
        weights = [_cubic(v - (x0 + k), a) for k in offsets]
        if b.attr("exclude_outside", 0):
            inside = [((x0 + k) >= 0) & ((x0 + k) <= n_in - 1) for k in offsets]
            weights = [w * m for w, m in zip(weights, inside)]
            total = sum(weights)
            weights = [w / total for w in weights]
        taps = [(clip(x0 + k), w) for k, w in zip(offsets, weights)]
    else:
        b.fail(f"Resize mode {mode!r}", unsupported=True)
    outside = None
    if b.attr("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize":
        outside = (v < 0) | (v > n_in - 1)
    return taps, outside


def resize(b: Builder) -> list:
    x = b.value(0)
    if b.attr("antialias", 0):
        b.fail("Resize with antialias=1", unsupported=True)
    rank = len(x.type.shape)
    axes = [meta.normalize_dim("Resize", int(a), rank) for a in b.attr("axes", range(rank))]
    shape = x.type.shape
    if any(isinstance(shape[a], str) for a in axes):
        b.fail("Resize over a symbolic size", unsupported=True)
    roi_in = b.static(1, "roi") if b.has(1) else None
    roi = np.asarray(roi_in, np.float64).reshape(-1) if roi_in is not None else None
    scales = b.static(2, "scales") if b.has(2) else None
    if scales is not None and np.asarray(scales).size:
        scales = [float(s) for s in np.asarray(scales).reshape(-1)]
        sizes = [int(math.floor(shape[a] * s)) for a, s in zip(axes, scales)]
        lengths = [shape[a] * s for a, s in zip(axes, scales)]
    else:
        sizes = [int(s) for s in b.static_ints(3, "sizes")]
        policy = b.attr("keep_aspect_ratio_policy", "stretch")
        ratios = [s / shape[a] for a, s in zip(axes, sizes)]
        if policy != "stretch":
            r = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [r] * len(axes)
            sizes = [int(math.floor(shape[a] * r + 0.5)) for a in axes]
        scales = ratios
        lengths = [float(n) for n in sizes]
    y = x
    extrapolate = b.attr("extrapolation_value", 0.0)
    for k, (a, n_out, length, s) in enumerate(zip(axes, sizes, lengths, scales)):
        n_in = shape[a]
        box = (roi[k], roi[k + len(axes)]) if roi is not None and roi.size else (0.0, 1.0)
        taps, outside = _taps(b, n_in, n_out, length, s, box)
        out: Any = None
        for index, weight in taps:
            part = b.emit("index_select", [y, b.constant(index)], dim=a)
            if not np.all(weight == 1):
                part = b.emit("mul", [part, b.constant(_along(weight, a, rank, x))])
            out = part if out is None else b.emit("add", [out, part])
        if outside is not None and outside.any():
            mask = b.constant(_along(outside, a, rank, None))
            out = b.emit("masked_fill", [out, mask, float(extrapolate)])
        y = out
    return [y]


def _along(values: np.ndarray, axis: int, rank: int, like: Any) -> np.ndarray:
    shape = [1] * rank
    shape[axis] = len(values)
    dtype = like.type.dtype.np if like is not None else np.bool_
    return np.asarray(values).reshape(shape).astype(dtype)
