"""Shared pieces of the .dgm reader and writer: format constants and limits, the error kinds, and
the checks that JSON values have the expected shape."""

from __future__ import annotations

import json
import keyword
import math
import re
import struct
import zipfile
import zlib
from typing import Any, NoReturn

from ..ir.errors import DualgraphError
from ..ir.types import ALL_DTYPES


FORMAT_NAME = "dualgraph"
FORMAT_VERSION = 1  # the newest format_version this module writes and reads
MANIFEST = "manifest.json"
TENSOR_DIR = "tensors/"
GRAPH_PREFIX = "graph/"  # tensor names holding the graph's constants and graph.tensors

MAX_BYTES = 4 << 30  # default bound on an archive's total uncompressed size (max_bytes= overrides)
MAX_MANIFEST_BYTES = 64 << 20
MAX_COMPRESSION_RATIO = 100  # uncompressed / compressed, checked for members of RATIO_FLOOR+ bytes
RATIO_FLOOR = 1 << 20
MAX_NPY_HEADER = 1 << 16
MAX_DEPTH = 32  # nesting of attribute values
MAX_NDIM = 64
MAX_JSON_VALUES = 2_000_000  # array items and object members in a manifest (parsed objects)
MAX_ELEMENTS = 1 << 40  # elements of any tensor type in a graph (dims of 0 counted as 1)
MAX_NAME = 256  # characters of a symbolic dim's name
MAX_SOURCE = 4096  # characters of a node's meta.source
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_DTYPES = {d.name: d for d in ALL_DTYPES}
_SCALAR_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool}
_TAGS = ("tuple", "slice", "ellipsis", "dtype", "device", "float", "tensor")
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_ARTICLE = {"object": "an object", "array": "an array", "string": "a string",
            "integer": "an integer", "boolean": "a boolean"}
# What zipfile, zlib and struct raise on damaged archives; caught at the archive layer only.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
               NotImplementedError, RuntimeError, struct.error, zlib.error, OverflowError,
               UnicodeError, IndexError, KeyError)


# ------------------------------------------------------------------------------------- errors

class SerializationError(DualgraphError):
    """A `.dgm` file (or a graph to be written) is not valid; the message starts with the file
    and names the member, node or field at fault, what was expected and what was found."""


class CorruptFileError(SerializationError):
    """Not a zip archive, truncated, or damaged (bad CRC, bad .npy header)."""


class UnsafeFileError(SerializationError):
    """Member names that could escape a directory, or sizes over the loader's limits."""


class UnsupportedVersionError(SerializationError):
    """The file's format_version, or a node's op version, is newer than this dualgraph reads."""


class UnknownOpError(SerializationError):
    """A node names an op this dualgraph does not have."""


def _fail(src: str, where: str, what: str, cls: type = SerializationError) -> NoReturn:
    raise cls(f"{src}: {where}: {what}" if where else f"{src}: {what}")


# ------------------------------------------------------------------------ JSON shape checks

def _kind(x: Any) -> str:
    """The JSON kind of a parsed value, as messages name it."""
    for kind, types in (("null", type(None)), ("boolean", bool), ("integer", int),
                        ("number", float), ("string", str), ("array", list), ("object", dict)):
        if isinstance(x, types):
            return kind
    return type(x).__name__


def _found(x: Any) -> str:
    """A parsed JSON value as messages show it: 'string "abc"', 'array of 3 items', 'null'."""
    kind = _kind(x)
    if isinstance(x, (list, dict)):
        return f"{kind} {json.dumps(x)}" if not x else (
            f"array of {len(x)} items" if isinstance(x, list) else f"object with keys {list(x)}")
    text = json.dumps(x[:60] if isinstance(x, str) else x) if kind != "null" else ""
    return f"{kind} {text}".strip()


def _expect(src: str, where: str, x: Any, kind: str) -> Any:
    """`x` if its JSON kind is `kind` (integers must also fit in int64)."""
    if _kind(x) != kind:
        _fail(src, where, f"expected {_ARTICLE[kind]}, found {_found(x)}")
    if kind == "integer" and not INT64_MIN <= x <= INT64_MAX:
        _fail(src, where, f"integer {x} is outside the int64 range")
    return x


def _name(src: str, where: str, x: Any) -> str:
    if not _expect(src, where, x, "string"):
        _fail(src, where, "expected a non-empty string, found an empty one")
    return x


def _identifier(src: str, where: str, x: Any) -> str:
    """`x` if it is a Python identifier that is not a keyword (a function's name)."""
    if not _name(src, where, x).isidentifier() or keyword.iskeyword(x):
        _fail(src, where, f"expected a Python identifier (letters, digits and _, not starting "
                          f"with a digit, not a keyword), found {_found(x)}")
    return x


def _printable(src: str, where: str, x: Any, limit: int) -> str:
    """`x` if it is a non-empty string of at most `limit` printable characters (no control
    characters, no line breaks)."""
    if len(_name(src, where, x)) > limit:
        _fail(src, where, f"a string of {len(x)} characters; at most {limit} are allowed")
    if not x.isprintable():
        bad = next(c for c in x if not c.isprintable())
        _fail(src, where, f"contains the unprintable character {bad!r} in {x[:60]!r}")
    return x


def _fields(src: str, where: str, x: Any, required: tuple, optional: tuple = ()) -> dict:
    """`x` if it is an object with every required field and no field outside both lists."""
    _expect(src, where, x, "object")
    missing = [k for k in required if k not in x]
    if missing:
        _fail(src, where, "missing field " + ", ".join(repr(k) for k in missing))
    extra = [k for k in x if k not in required and k not in optional]
    if extra:
        _fail(src, where, f"unexpected field {extra[0]!r} (format_version {FORMAT_VERSION} has "
                          f"the fields {list(required + optional)})")
    return x


def _json_data(src: str, where: str, x: Any) -> Any:
    """`x` as plain JSON data (a deep copy), or a SerializationError if it has no JSON form."""
    try:
        return json.loads(json.dumps(x, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        _fail(src, where, f"must be JSON data (str keys, no NaN): {exc}")


def _no_duplicate_keys(pairs: list) -> dict:
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} overflows a double")
    return value


def _reject_constant(text: str) -> NoReturn:
    raise ValueError(f"non-standard JSON constant {text}")


def _int64(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"integer {text[:40]} is outside the int64 range")
    return value


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def _count_values(raw: bytes) -> int:
    """How many values parsing `raw` may create at most: array items and object members are
    each preceded by `[`, `{` or `,`. Counted on the bytes (fast); when that bound is over the
    limit, counted again with strings removed (brackets and commas inside them do not count)."""
    n = raw.count(b",") + raw.count(b"[") + raw.count(b"{") + 1
    if n > MAX_JSON_VALUES:
        bare = _STRING.sub(b"", raw)
        n = bare.count(b",") + bare.count(b"[") + bare.count(b"{") + 1
    return n


def _parse_json(src: str, raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, integers in int64, at most
    MAX_JSON_VALUES values (checked before parsing), bounded nesting."""
    count = _count_values(raw)
    if count > MAX_JSON_VALUES:
        _fail(src, "", f"holds about {count} JSON values (array items and object members); at "
                       f"most {MAX_JSON_VALUES} are read", UnsafeFileError)
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                          parse_float=_finite, parse_int=_int64,
                          parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        _fail(src, "", f"is not UTF-8 text: {exc}", CorruptFileError)
    except RecursionError:
        _fail(src, "", "is not valid JSON: nested too deeply", CorruptFileError)
    except ValueError as exc:  # JSONDecodeError, and the hooks above
        _fail(src, "", f"is not valid JSON: {exc}", CorruptFileError)
