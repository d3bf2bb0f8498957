"""KServe v2 inference requests and responses: JSON tensors and the binary tensor data extension.

A request body is JSON, or (binary extension) JSON of `Inference-Header-Content-Length` bytes
followed by the raw little-endian bytes of each input whose `parameters.binary_data_size` is
set, in the order the inputs are listed. Outputs are JSON `data`, or raw bytes after the JSON
when the request asks (`parameters.binary_data_output`, or an output's `parameters.binary_data`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .datatypes import KNOWN_ELSEWHERE, datatype_of, dtype_of, wire_dtype
from .errors import ServeError

HEADER_LENGTH = "inference-header-content-length"
MAX_DIMS = 32


@dataclass
class InferRequest:
    """A parsed request: its id, the input arrays by name, the outputs asked for (None: all)
    and which of them to send as binary."""

    id: Any = None
    inputs: dict = field(default_factory=dict)
    outputs: list | None = None
    binary_outputs: set = field(default_factory=set)
    binary_all: bool = False


def parse_request(model: str, body: bytes, header_length: str | None) -> InferRequest:
    """Parse a request body (JSON, or JSON and binary data); a ServeError (400) names the field."""
    where = f"model '{model}' request"
    if header_length is None:
        head, tail = body, b""
    else:
        try:
            n = int(header_length)
        except ValueError:
            n = -1
        if not 0 <= n <= len(body):
            raise ServeError(400, f"{where}: Inference-Header-Content-Length must be an integer "
                                  f"from 0 to the body's {len(body)} bytes, got {header_length!r}")
        head, tail = body[:n], body[n:]
    try:
        doc = json.loads(head)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServeError(400, f"{where}: the body is not valid JSON ({exc})") from None
    except RecursionError:
        raise ServeError(400, f"{where}: the JSON is nested too deeply") from None
    if not isinstance(doc, dict):
        raise ServeError(400, f"{where}: expected a JSON object, got {type(doc).__name__}")
    req = InferRequest(id=doc.get("id"))
    if req.id is not None and not isinstance(req.id, str):
        raise ServeError(400, f"{where}: 'id' must be a string, got {_kind(req.id)}")
    params = _object(doc.get("parameters", {}), f"{where}: 'parameters'")
    req.binary_all = _flag(params, "binary_data_output", f"{where}: parameters")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ServeError(400, f"{where}: 'inputs' must be a non-empty list of tensors, got "
                              f"{_kind(inputs)}")
    offset = 0
    for j, item in enumerate(inputs):
        name, array, offset = _parse_input(item, f"{where}: inputs[{j}]", tail, offset)
        if name in req.inputs:
            raise ServeError(400, f"{where}: input '{name}' is given twice")
        req.inputs[name] = array
    if offset != len(tail):
        raise ServeError(400, f"{where}: {len(tail) - offset} bytes of binary data follow the "
                              "inputs' binary_data_size totals")
    if "outputs" in doc:
        req.outputs = _parse_outputs(doc["outputs"], where, req.binary_outputs)
    return req


def _parse_input(item: Any, where: str, tail: bytes, offset: int) -> tuple:
    item = _object(item, where)
    name = item.get("name")
    if not isinstance(name, str):
        raise ServeError(400, f"{where}: 'name' must be a string, got {_kind(name)}")
    where = f"{where.rsplit(':', 1)[0]}: input '{name}'"
    shape = item.get("shape")
    if not (isinstance(shape, list) and len(shape) <= MAX_DIMS and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise ServeError(400, f"{where}: 'shape' must be a list of at most {MAX_DIMS} "
                              f"non-negative integers, got {_short(shape)}")
    datatype = item.get("datatype")
    dtype = dtype_of(datatype)
    if dtype is None:
        known = "a protocol datatype dualgraph has no dtype for" \
            if datatype in KNOWN_ELSEWHERE else "not a datatype"
        raise ServeError(400, f"{where}: 'datatype' {_short(datatype)} is {known}; expected one "
                              "of FP16, FP32, FP64, INT8, INT16, INT32, INT64, UINT8, BOOL")
    count = math.prod(shape)
    params = _object(item.get("parameters", {}), f"{where}: 'parameters'")
    size = params.get("binary_data_size")
    if size is not None:
        if "data" in item:
            raise ServeError(400, f"{where}: has both 'data' and parameters.binary_data_size")
        want = count * dtype.itemsize
        if not isinstance(size, int) or isinstance(size, bool) or size != want:
            raise ServeError(400, f"{where}: binary_data_size must be {_short(want)} (shape "
                                  f"{_short(shape)} of {datatype}), got {_short(size)}")
        if offset + size > len(tail):
            raise ServeError(400, f"{where}: binary_data_size {size} runs past the body's "
                                  f"{len(tail) - offset} remaining bytes")
        raw = np.frombuffer(tail, wire_dtype(dtype), count, offset)
        if dtype.name == "bool" and raw.view(np.uint8).max(initial=0) > 1:
            raise ServeError(400, f"{where}: BOOL bytes must be 0 or 1")
        return name, raw.astype(dtype.np).reshape(shape), offset + size
    if "data" not in item:
        raise ServeError(400, f"{where}: has neither 'data' nor parameters.binary_data_size")
    return name, _json_array(item["data"], dtype, shape, count, datatype, where), offset


def _json_array(data: Any, dtype: Any, shape: list, count: int, datatype: str,
                where: str) -> np.ndarray:
    """JSON `data` (flat, or nested row-major) as an array of `dtype`, values checked to fit."""
    if not isinstance(data, list):
        data = [data]
    try:
        raw = np.asarray(data)
    except (ValueError, OverflowError) as exc:
        raise ServeError(400, f"{where}: 'data' is not a flat or evenly nested list of numbers "
                              f"({exc})") from None
    kind = raw.dtype.kind
    ok = {"f": "biuf", "i": "biu", "u": "biu", "b": "b"}[dtype.np.kind]
    if raw.size and kind not in ok:
        what = {"f": "numbers with a fraction", "U": "strings", "O": "mixed values or null",
                "b": "booleans", "i": "integers", "u": "integers"}.get(kind, raw.dtype.name)
        raise ServeError(400, f"{where}: datatype {datatype} cannot hold {what} in 'data'")
    if raw.size != count:
        needs = count if count < 10 ** 18 else "more than 10**18"
        raise ServeError(400, f"{where}: 'data' has {raw.size} values, shape {_short(shape)} "
                              f"needs {needs}")
    if dtype.np.kind in "iu" and raw.size:
        info = np.iinfo(dtype.np)
        if raw.min() < info.min or raw.max() > info.max:
            raise ServeError(400, f"{where}: values outside {datatype}'s range "
                                  f"[{info.min}, {info.max}]")
    return raw.astype(dtype.np, copy=False).reshape(shape)


def _parse_outputs(outputs: Any, where: str, binary: set) -> list:
    if not isinstance(outputs, list):
        raise ServeError(400, f"{where}: 'outputs' must be a list, got {_kind(outputs)}")
    names = []
    for j, item in enumerate(outputs):
        item = _object(item, f"{where}: outputs[{j}]")
        name = item.get("name")
        if not isinstance(name, str):
            raise ServeError(400, f"{where}: outputs[{j}].name must be a string, got "
                                  f"{_kind(name)}")
        params = _object(item.get("parameters", {}), f"{where}: output '{name}' parameters")
        if _flag(params, "binary_data", f"{where}: output '{name}' parameters"):
            binary.add(name)
        names.append(name)
    return names


def encode_response(model: str, req: InferRequest, names: list, arrays: list) -> tuple:
    """(body bytes, extra headers) of the response: JSON, with any binary outputs after it."""
    outputs, blobs = [], []
    for name, a in zip(names, arrays):
        entry: dict = {"name": name, "datatype": datatype_of(_dtype(a)), "shape": list(a.shape)}
        if req.binary_all or name in req.binary_outputs:
            blob = np.ascontiguousarray(a, wire_dtype(_dtype(a))).tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = a.ravel().tolist()
        outputs.append(entry)
    doc: dict = {"model_name": model, "model_version": "1", "outputs": outputs}
    if req.id is not None:
        doc["id"] = req.id
    head = json.dumps(doc, separators=(",", ":")).encode()
    if not blobs:
        return head, {"content-type": "application/json"}
    return head + b"".join(blobs), {"content-type": "application/octet-stream",
                                   "inference-header-content-length": str(len(head))}


def _dtype(a: np.ndarray) -> Any:
    from ..ir.types import dtype_from_numpy
    return dtype_from_numpy(a.dtype)


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ServeError(400, f"{where} must be a JSON object, got {_kind(value)}")
    return value


def _flag(params: dict, key: str, where: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise ServeError(400, f"{where}.{key} must be true or false, got {_short(value)}")
    return value


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {_short(value)}"


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict, str, int, float)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
