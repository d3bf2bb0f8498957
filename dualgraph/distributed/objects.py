"""Object collectives (`all_gather_object`, `broadcast_object_list`) with a safe encoding.

A deliberate difference from PyTorch, which pickles objects: receiving a pickle runs code chosen
by the sender, so dualgraph sends objects as JSON, extended with tags for what plain JSON loses
(tuples, dicts with non-string keys, bytes, non-finite floats). Decoding builds only those plain
Python values. Anything else (class instances, tensors, functions) raises a TypeError naming it:
send tensors with the tensor collectives instead.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from .buffers import check_eager
from .exchange import allgather_bytes, bcast_bytes
from .process_group import ProcessGroup, resolve

__all__ = ["all_gather_object", "broadcast_object_list", "encode", "decode"]


def _enc(x: Any, path: str) -> Any:
    """x as JSON-ready data: lists stay lists; everything else that is not a scalar becomes a
    one-key tagged dict, so decoding is unambiguous."""
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else {"float": repr(x)}
    if isinstance(x, list):
        return [_enc(v, f"{path}[{i}]") for i, v in enumerate(x)]
    if isinstance(x, tuple):
        return {"tuple": [_enc(v, f"{path}[{i}]") for i, v in enumerate(x)]}
    if isinstance(x, dict):
        return {"dict": [[_enc(k, f"{path} key"), _enc(v, f"{path}[{k!r}]")]
                         for k, v in x.items()]}
    if isinstance(x, (bytes, bytearray)):
        return {"bytes": base64.b64encode(bytes(x)).decode("ascii")}
    raise TypeError(f"dg.distributed object collectives send plain Python data (None, bool, int, "
                    f"float, str, bytes, list, tuple, dict) as JSON, never pickle; {path} is a "
                    f"{type(x).__module__}.{type(x).__qualname__}. Convert it (tensors: use "
                    "broadcast/all_gather on the tensor)")


def _dec(x: Any) -> Any:
    if isinstance(x, list):
        return [_dec(v) for v in x]
    if not isinstance(x, dict):
        return x
    if len(x) != 1:
        raise ValueError(f"dg.distributed: malformed object encoding {x!r}")
    (tag, value), = x.items()
    if tag == "tuple":
        return tuple(_dec(v) for v in value)
    if tag == "dict":
        return {_dec(k): _dec(v) for k, v in value}
    if tag == "bytes":
        return base64.b64decode(value)
    if tag == "float" and value in ("nan", "inf", "-inf"):
        return float(value)
    raise ValueError(f"dg.distributed: malformed object encoding (tag {tag!r})")


def encode(obj: Any) -> bytes:
    """`obj` as UTF-8 JSON bytes (TypeError for what is not plain data)."""
    return json.dumps(_enc(obj, "the object"), allow_nan=False, separators=(",", ":")).encode()


def decode(data: bytes) -> Any:
    """The object `encode` made."""
    return _dec(json.loads(data.decode("utf-8")))


def all_gather_object(object_list: list, obj: Any, group: ProcessGroup | None = None) -> None:
    """Every rank's `obj` into `object_list` (which must have one slot per rank)."""
    check_eager("all_gather_object")
    g = resolve(group)
    if g is None:
        return
    if not isinstance(object_list, list) or len(object_list) != g.size():
        raise ValueError(f"dg.distributed.all_gather_object: object_list must be a list of "
                         f"length {g.size()} (the group size), got "
                         f"{type(object_list).__name__} of length {len(object_list)}"
                         if isinstance(object_list, list) else
                         f"dg.distributed.all_gather_object: object_list must be a list, got "
                         f"{type(object_list).__name__}")
    data = encode(obj)  # raises before any rank communicates, on the rank that is wrong
    for i, b in enumerate(allgather_bytes(g, data, "all_gather_object")):
        object_list[i] = decode(b)


def broadcast_object_list(object_list: list, src: int | None = None,
                          group: ProcessGroup | None = None, device: Any = None,
                          group_src: int | None = None) -> None:
    """Replace `object_list`'s items on every rank by those of rank `src` (0 if neither src
    nor group_src is given); lists must have the same length on all ranks."""
    from .collectives import peer
    check_eager("broadcast_object_list")
    if device is not None and str(device) != "cpu":
        raise ValueError(f"dg.distributed.broadcast_object_list: device={device!r}: objects "
                         "travel through CPU memory")
    g = resolve(group)
    if g is None:
        return
    if not isinstance(object_list, list):
        raise TypeError(f"dg.distributed.broadcast_object_list: object_list must be a list, got "
                        f"{type(object_list).__name__}")
    root = peer(g, 0 if src is None and group_src is None else src, group_src,
                "broadcast_object_list", "src")
    data = encode(list(object_list)) if g.rank() == root else None
    got = decode(bcast_bytes(g, data, root, "broadcast_object_list"))
    if len(got) != len(object_list):
        raise ValueError(f"dg.distributed.broadcast_object_list: rank {g.ranks[root]} sent "
                         f"{len(got)} objects, this rank's object_list has {len(object_list)}")
    object_list[:] = got
