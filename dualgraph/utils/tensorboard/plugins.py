"""Summary protos for the PR-curve and hyperparameter dashboards.

The data layouts are the plugins' own: a PR curve is a float tensor of shape (6, thresholds)
holding true/false positives, true/false negatives, precision and recall; hyperparameters are
three plugin-data messages (experiment, session start, session end) on tensors of no data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.types_pb2 import DT_FLOAT
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.pr_curve import metadata as pr_metadata

from dualgraph.tensor import Tensor

from ._convert import to_numpy, to_scalar
from .summaries import shape_proto

MIN_COUNT = 1e-7  # keeps precision and recall finite where no prediction reaches a threshold


def pr_counts(labels: np.ndarray, predictions: np.ndarray, num_thresholds: int,
              weights: np.ndarray) -> np.ndarray:
    """(6, num_thresholds): TP, FP, TN, FN, precision, recall at thresholds i/(n-1): a
    prediction counts as positive at threshold i when floor(p * (n-1)) >= i."""
    buckets = np.floor(predictions * (num_thresholds - 1)).astype(np.int64)
    positive = np.bincount(buckets, weights=labels * weights, minlength=num_thresholds)
    negative = np.bincount(buckets, weights=(1 - labels) * weights, minlength=num_thresholds)
    tp = np.cumsum(positive[::-1])[::-1]
    fp = np.cumsum(negative[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(MIN_COUNT, tp + fp)
    recall = tp / np.maximum(MIN_COUNT, tp + fn)
    return np.stack([tp, fp, tn, fn, precision, recall])


def pr_curve(tag: str, labels: Any, predictions: Any, num_thresholds: int = 127,
             weights: Any = None) -> Summary:
    """A precision-recall curve of binary `labels` against `predictions` in [0, 1]."""
    what = f"add_pr_curve({tag!r})"
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) \
            or num_thresholds < 2:
        raise ValueError(f"{what}: num_thresholds must be an integer of at least 2, got "
                         f"{num_thresholds!r}")
    y = to_numpy(labels, f"{what} labels").astype(np.float64).reshape(-1)
    p = to_numpy(predictions, f"{what} predictions").astype(np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"{what}: {y.size} labels but {p.size} predictions; they must match")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"{what}: labels must be 0 or 1 (or booleans)")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"{what}: predictions must lie in [0, 1]")
    w = np.ones_like(p) if weights is None else \
        np.broadcast_to(to_numpy(weights, f"{what} weights").astype(np.float64), p.shape)
    data = pr_counts(y, p, int(num_thresholds), w).astype(np.float32)
    tensor = TensorProto(dtype=DT_FLOAT, tensor_shape=shape_proto(data.shape),
                         float_val=data.reshape(-1).tolist())
    meta = pr_metadata.create_summary_metadata(display_name=tag, description="",
                                               num_thresholds=int(num_thresholds))
    return Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=tensor)])


def _kind(value: Any, what: str) -> tuple:
    """(DataType, struct Value) of one hyperparameter value."""
    if isinstance(value, (bool, np.bool_)):
        return api_pb2.DATA_TYPE_BOOL, struct_pb2.Value(bool_value=bool(value))
    if isinstance(value, str):
        return api_pb2.DATA_TYPE_STRING, struct_pb2.Value(string_value=value)
    if isinstance(value, (int, float, np.number)) or isinstance(value, Tensor):
        return api_pb2.DATA_TYPE_FLOAT64, struct_pb2.Value(number_value=to_scalar(value, what))
    raise ValueError(f"{what}: a value must be an int, float, str, bool or one-element Tensor, "
                     f"got {type(value).__name__}")


def _hparams_summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    data.version = hparams_metadata.PLUGIN_DATA_VERSION
    meta = hparams_metadata.create_summary_metadata(data)
    return Summary(value=[Summary.Value(tag=tag, metadata=meta,
                                        tensor=hparams_metadata.NULL_TENSOR)])


def hparams(hparam_dict: dict, metric_dict: dict,
            hparam_domain_discrete: dict | None = None) -> tuple:
    """The experiment, session-start and session-end summaries of one trial."""
    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("add_hparams: hparam_dict and metric_dict must be dicts, got "
                        f"{type(hparam_dict).__name__} and {type(metric_dict).__name__}")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict) or not set(domains) <= set(hparam_dict):
        raise ValueError("add_hparams: hparam_domain_discrete must be a dict whose keys are in "
                         f"hparam_dict; got keys {sorted(map(str, domains))}")
    infos, start = [], plugin_data_pb2.SessionStartInfo()
    for name, value in hparam_dict.items():
        kind, proto = _kind(value, f"add_hparams: hparam {name!r}")
        start.hparams[name].CopyFrom(proto)
        info = api_pb2.HParamInfo(name=name, type=kind)
        if name in domains:
            options = domains[name]
            if not isinstance(options, (list, tuple)) or \
                    any(_kind(o, f"add_hparams: domain of {name!r}")[0] != kind for o in options):
                raise ValueError(f"add_hparams: hparam_domain_discrete[{name!r}] must be a list "
                                 f"of values of the same type as {value!r}")
            for option in options:
                info.domain_discrete.values.add().CopyFrom(_kind(option, name)[1])
        infos.append(info)
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)
    return (
        _hparams_summary(hparams_metadata.EXPERIMENT_TAG,
                         plugin_data_pb2.HParamsPluginData(experiment=experiment)),
        _hparams_summary(hparams_metadata.SESSION_START_INFO_TAG,
                         plugin_data_pb2.HParamsPluginData(session_start_info=start)),
        _hparams_summary(hparams_metadata.SESSION_END_INFO_TAG,
                         plugin_data_pb2.HParamsPluginData(session_end_info=end)),
    )
