"""Summary protos for numbers and text: scalars, histograms, text, raw tensors.

Each function returns one `Summary` (TensorBoard's own proto, `tensorboard.compat.proto`); the
writer wraps it in an `Event` with the step and wall time. The plugin metadata comes from each
TensorBoard plugin's own `metadata` module, so the dashboards recognize the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tensorboard.compat.proto.histogram_pb2 import HistogramProto
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.types_pb2 import DT_DOUBLE, DT_FLOAT, DT_STRING
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.text import metadata as text_metadata

from ._convert import to_numpy, to_scalar

def shape_proto(shape: Any) -> TensorShapeProto:
    """A TensorShapeProto; a symbolic or unknown size (not an int) is written as -1."""
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=d if isinstance(d, int) else -1)
                                 for d in shape])


def scalar(tag: str, value: Any, new_style: bool = False,
           double_precision: bool = False) -> Summary:
    """A scalar: the classic `simple_value` (a float32), or with `new_style` a rank-0 tensor
    tagged for the scalars plugin (float64 with `double_precision`)."""
    number = to_scalar(value, f"add_scalar({tag!r})")
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=number)])
    tensor = (TensorProto(dtype=DT_DOUBLE, double_val=[number], tensor_shape=shape_proto(()))
              if double_precision else
              TensorProto(dtype=DT_FLOAT, float_val=[number], tensor_shape=shape_proto(())))
    meta = scalar_metadata.create_summary_metadata(display_name="", description="")
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=meta)])


def tensorflow_bins() -> np.ndarray:
    """The bucket edges of TensorFlow's default histogram (PyTorch's `bins='tensorflow'`):
    +-1e-12 growing by 10% up to 1e20 on each side of zero, and zero."""
    positive = [1e-12]
    while positive[-1] * 1.1 < 1e20:
        positive.append(positive[-1] * 1.1)
    right = np.array(positive)
    return np.concatenate([-right[::-1], [0.0], right])


def _edges(values: np.ndarray, bins: Any, what: str) -> Any:
    if isinstance(bins, str):
        if bins == "tensorflow":
            return tensorflow_bins()
        try:
            return np.histogram_bin_edges(values, bins=bins)
        except ValueError as e:
            raise ValueError(f"{what}: bins={bins!r} is neither 'tensorflow' nor a NumPy bin "
                             f"rule ({e})") from None
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"{what}: bins must be at least 1, got {bins}")
        return int(bins)
    edges = to_numpy(bins, f"{what} bins")
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"{what}: bins must be a name, a count or increasing edges")
    return edges


def histogram(tag: str, values: Any, bins: Any = "tensorflow",
              max_bins: int | None = None) -> Summary:
    """A histogram of `values`. Empty buckets before the first and after the last value are
    dropped; one empty bucket is kept in front so the left edge of the data shows. `max_bins`
    merges neighbouring buckets until at most that many remain."""
    what = f"add_histogram({tag!r})"
    data = to_numpy(values, what).astype(np.float64).reshape(-1)
    if data.size == 0:
        raise ValueError(f"{what}: the values are empty")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{what}: the values contain NaN or infinity")
    counts, edges = np.histogram(data, bins=_edges(data, bins, what))
    if max_bins is not None:
        if max_bins < 1:
            raise ValueError(f"{what}: max_bins must be at least 1, got {max_bins}")
        counts, edges = _merge(counts, edges, max_bins)
    used = np.flatnonzero(counts)
    if used.size == 0:
        raise ValueError(f"{what}: no value lies within the bins (from {edges[0]:g} to "
                         f"{edges[-1]:g})")
    first, last = int(used[0]), int(used[-1])
    limits = edges[first:last + 2].tolist()  # bucket i ends at limits[i]: the first is empty
    buckets = [0.0] + counts[first:last + 1].astype(float).tolist()
    return Summary(value=[Summary.Value(tag=tag, histo=HistogramProto(
        min=float(data.min()), max=float(data.max()), num=float(data.size),
        sum=float(data.sum()), sum_squares=float(data.dot(data)),
        bucket_limit=limits, bucket=buckets))])


def _merge(counts: np.ndarray, edges: np.ndarray, max_bins: int) -> tuple:
    """Neighbouring buckets summed in groups so that at most `max_bins` remain."""
    group = -(-len(counts) // max_bins)
    if group <= 1:
        return counts, edges
    pad = (-len(counts)) % group
    merged = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, group).sum(1)
    right = np.concatenate([edges[1:], np.full(pad, edges[-1])])[group - 1::group]
    return merged, np.concatenate([edges[:1], right])


def histogram_raw(tag: str, min: float, max: float, num: int, sum: float, sum_squares: float,
                  bucket_limits: Any, bucket_counts: Any) -> Summary:
    """A histogram given by its statistics and buckets (PyTorch's `add_histogram_raw`)."""
    limits = to_numpy(bucket_limits, f"add_histogram_raw({tag!r}) bucket_limits").reshape(-1)
    counts = to_numpy(bucket_counts, f"add_histogram_raw({tag!r}) bucket_counts").reshape(-1)
    if len(limits) != len(counts):
        raise ValueError(f"add_histogram_raw({tag!r}): {len(limits)} bucket_limits but "
                         f"{len(counts)} bucket_counts; they must be as many")
    return Summary(value=[Summary.Value(tag=tag, histo=HistogramProto(
        min=float(min), max=float(max), num=float(num), sum=float(sum),
        sum_squares=float(sum_squares), bucket_limit=limits.astype(float).tolist(),
        bucket=counts.astype(float).tolist()))])


def text(tag: str, text_string: str) -> Summary:
    """Text (Markdown in TensorBoard's text tab), stored as a string tensor under
    `<tag>/text_summary`, as PyTorch writes it."""
    if not isinstance(text_string, str):
        raise TypeError(f"add_text({tag!r}): text_string must be a str, got "
                        f"{type(text_string).__name__}")
    meta = text_metadata.create_summary_metadata(display_name="", description="")
    tensor = TensorProto(dtype=DT_STRING, string_val=[text_string.encode("utf-8")],
                         tensor_shape=shape_proto((1,)))
    return Summary(value=[Summary.Value(tag=f"{tag}/text_summary", metadata=meta,
                                        tensor=tensor)])


__all__ = ["scalar", "histogram", "histogram_raw", "text", "tensorflow_bins", "shape_proto"]
