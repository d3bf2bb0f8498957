"""The .dgm zip archive: written atomically; read with every size bounded before anything is
read, member names checked, and .npy members loaded without pickle."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Mapping

import numpy as np

from ..ir.graph import Graph
from ..ir.types import DType
from .common import (CorruptFileError, FORMAT_NAME, FORMAT_VERSION, GRAPH_PREFIX, MANIFEST,
                     MAX_BYTES, MAX_COMPRESSION_RATIO, MAX_MANIFEST_BYTES, MAX_NDIM,
                     MAX_NPY_HEADER, RATIO_FLOOR, SerializationError, TENSOR_DIR, UnsafeFileError,
                     UnsupportedVersionError, _ZIP_ERRORS, _expect, _fail, _fields, _found,
                     _json_data, _name, _parse_json)
from .schema import (_decode_dtype, _dtype_name, _encode_graph, _normalize_array, graph_from_json)


# ---------------------------------------------------------------------------------- writing

def _producer() -> str:
    import dualgraph  # lazily: dualgraph/__init__ may be importing this module
    return f"dualgraph {getattr(dualgraph, '__version__', 'unknown')}"


def source_name(target: Any) -> str:
    """How messages name a file: its path, a file object's `name`, or `<BytesIO>`."""
    if isinstance(target, (str, os.PathLike)):
        src = os.fspath(target)
        return src if isinstance(src, str) else src.decode(errors="replace")
    name = getattr(target, "name", None)
    return name if isinstance(name, str) else f"<{type(target).__name__}>"


def write_dgm(path: str | os.PathLike | BinaryIO, kind: str, graph: Graph | None,
              tensors: Mapping[str, Any] | None, metadata: Mapping | None, *,
              keep_source: bool = True) -> None:
    """Write a `.dgm` archive atomically (a temporary file in the same folder, then a rename),
    or into a binary file object (from its current position).

    `tensors` is the payload (e.g. a state dict); names starting with `graph/` are reserved for
    the graph's constants. `metadata` must be JSON data. Nothing is written if any part is
    invalid: the graph must pass `verify` and every array must have a dualgraph dtype. Nodes'
    source locations are stored without the author's directories, or not at all when
    `keep_source` is False."""
    src = source_name(path)
    if not isinstance(kind, str) or not kind:
        _fail(src, "kind", f"expected a non-empty string, found {kind!r}")
    arrays = {}
    for name, value in (tensors or {}).items():
        if not isinstance(name, str) or not name or name.startswith(GRAPH_PREFIX):
            _fail(src, f"tensors[{name!r}]", "tensor names must be non-empty strings not "
                                             f"starting with {GRAPH_PREFIX!r}")
        arrays[name] = _normalize_array(src, f"tensors[{name!r}]", value)
    graph_json = None
    if graph is not None:
        graph_json, graph_arrays = _encode_graph(graph, src, keep_source)
        arrays.update(graph_arrays)
    members = [(f"{TENSOR_DIR}{i}.npy", name, arr) for i, (name, arr) in enumerate(arrays.items())]
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "producer": _producer(),
        "kind": kind,
        "graph": graph_json,
        "tensors": [{"name": name, "member": member, "dtype": _dtype_name(arr),
                     "shape": list(arr.shape)} for member, name, arr in members],
        "metadata": _expect(src, "metadata", _json_data(src, "metadata", metadata or {}),
                            "object"),
    }
    text = json.dumps(manifest, allow_nan=False).encode("utf-8")
    if isinstance(path, (str, os.PathLike)):
        _write_atomically(src, lambda f: _write_archive(f, text, members))
    else:
        _write_archive(path, text, members)


def _zip_info(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def _write_archive(f: BinaryIO, manifest: bytes, members: list) -> None:
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr(_zip_info(MANIFEST, zipfile.ZIP_DEFLATED), manifest)
        for member, _, arr in members:
            big = arr.nbytes + MAX_NPY_HEADER > zipfile.ZIP64_LIMIT
            with zf.open(_zip_info(member, zipfile.ZIP_STORED), "w", force_zip64=big) as out:
                np.save(out, _stored(arr), allow_pickle=False)


def _stored(arr: np.ndarray) -> np.ndarray:
    """What the .npy member holds: the array, or for a dtype .npy cannot name (bfloat16, from
    ml_dtypes: its header would say only 'V2') its bits as little-endian unsigned integers."""
    if arr.dtype.kind == "V" and not arr.dtype.fields:
        return arr.view(f"<u{arr.dtype.itemsize}")
    return arr


def _npy_dtype(d: Any) -> np.dtype:
    """The dtype a .npy header must say for a tensor of DType `d` (see `_stored`)."""
    if d.compute is not d:
        return np.dtype(f"<u{d.itemsize}")
    return d.np.newbyteorder("<")


def _write_atomically(path: str, write: Any) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".dgm.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class _Entry:
    """One checked entry of the manifest's `tensors` list."""

    name: str
    member: str
    dtype: DType
    shape: tuple
    nbytes: int


def read_dgm(path: str | os.PathLike | BinaryIO, *, max_bytes: int | None = None
             ) -> tuple[dict, Graph | None, dict[str, np.ndarray]]:
    """Read a `.dgm` file, from a path or a binary file object: (manifest, verified graph or
    None, payload tensors by name).

    The file is treated as hostile (see the module docstring): every fault raises
    SerializationError. `max_bytes` bounds the archive's total uncompressed size (MAX_BYTES)."""
    src = source_name(path)
    limit = MAX_BYTES if max_bytes is None else max_bytes
    try:
        return _read(src, limit, None if isinstance(path, (str, os.PathLike)) else path)
    except SerializationError:
        raise
    except Exception as exc:  # a path this loader does not foresee: still never another type
        raise SerializationError(f"{src}: unexpected {type(exc).__name__} while reading ({exc}); "
                                 "this is a bug in dualgraph's loader, please report it") from exc


def _read(src: str, limit: int, fileobj: BinaryIO | None
          ) -> tuple[dict, Graph | None, dict[str, np.ndarray]]:
    msrc = f"{src}: {MANIFEST}"  # the prefix of messages about the manifest's content
    with _open_zip(src, fileobj, limit) as zf:
        infos = _check_directory(src, zf, limit)
        if MANIFEST not in infos:
            _fail(src, "", f"the archive has no {MANIFEST}")
        manifest = _check_manifest(msrc, _parse_json(msrc, _read_manifest(src, zf, infos)))
        entries = _check_entries(msrc, manifest["tensors"], infos, limit)
        arrays = {e.name: _load_npy(src, e, _read_member(src, zf, infos[e.member]))
                  for e in entries}
    graph = None
    if manifest["graph"] is not None:
        graph = graph_from_json(manifest["graph"], arrays, source=msrc)
    payload = {k: v for k, v in arrays.items() if not k.startswith(GRAPH_PREFIX)}
    return manifest, graph, payload


def _open_zip(src: str, fileobj: BinaryIO | None, limit: int) -> zipfile.ZipFile:
    try:
        if fileobj is not None:
            return zipfile.ZipFile(_seekable(src, fileobj, limit))
        if not stat.S_ISREG(os.stat(src).st_mode):
            _fail(src, "", "is not a regular file")
        return zipfile.ZipFile(src)
    except _ZIP_ERRORS as exc:
        _fail(src, "", f"cannot be opened as a zip archive (not a .dgm file, or truncated): "
                       f"{exc}", CorruptFileError)


def _seekable(src: str, f: Any, limit: int) -> Any:
    """A file object zipfile can read: `f` itself if it seeks, else its bytes read into memory,
    never more than the archive may hold (its members plus their zip headers)."""
    if isinstance(f, io.TextIOBase):
        _fail(src, "", "is a text file object; open it in binary mode ('rb')")
    if getattr(f, "seekable", lambda: False)():
        return f
    bound = limit + MAX_MANIFEST_BYTES + (1 << 20)
    chunks, size = [], 0
    while True:
        chunk = f.read(min(1 << 20, bound - size + 1))
        if not chunk:
            return io.BytesIO(b"".join(chunks))
        if not isinstance(chunk, bytes):
            _fail(src, "", f"read() gave {type(chunk).__name__}, not bytes; open the file in "
                           "binary mode ('rb')")
        size += len(chunk)
        if size > bound:
            _fail(src, "", f"the stream holds more than {bound} bytes; raise max_bytes to load "
                           "it", UnsafeFileError)
        chunks.append(chunk)


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_member_name(src: str, where: str, name: str) -> None:
    """Refuse names that could escape a folder if extracted, on any operating system."""
    reason = ("is empty" if not name else
              "is absolute" if name.startswith("/") else
              "contains a backslash" if "\\" in name else
              "starts with a drive letter" if _DRIVE.match(name) else
              "contains '..'" if ".." in name else
              "contains a control character" if any(ord(c) < 32 for c in name) else
              "has an empty path component" if "" in name.split("/") else None)
    if reason:
        _fail(src, where, f"member name {name!r} {reason}", UnsafeFileError)


def _check_directory(src: str, zf: zipfile.ZipFile, limit: int) -> dict[str, zipfile.ZipInfo]:
    """Check every zip entry from the directory alone, before anything is decompressed."""
    infos: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        for raw in {name, info.orig_filename}:
            _check_member_name(src, "", raw)
        if name in infos:
            _fail(src, "", f"member {name!r} appears twice in the archive", UnsafeFileError)
        if info.flag_bits & 0x1:
            _fail(src, "", f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            _fail(src, "", f"member {name!r} uses compression method {info.compress_type}; "
                           "only stored (0) and deflated (8) are read")
        total += info.file_size
        if total > limit:
            _fail(src, "", f"the archive holds more than {limit} bytes uncompressed (member "
                           f"{name!r} is {info.file_size} bytes); raise max_bytes to load it",
                  UnsafeFileError)
        if (info.file_size >= RATIO_FLOOR
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
            _fail(src, "", f"member {name!r} claims a compression ratio of "
                           f"{info.file_size // max(info.compress_size, 1)}:1 "
                           f"({info.compress_size} -> {info.file_size} bytes), over the limit of "
                           f"{MAX_COMPRESSION_RATIO}:1 (zip bomb?)", UnsafeFileError)
        infos[name] = info
    return infos


def _read_member(src: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, read in chunks and never more than the directory promised."""
    chunks, size = [], 0
    try:
        with zf.open(info) as f:
            while True:
                chunk = f.read(min(1 << 20, info.file_size - size + 1))
                if not chunk:
                    break
                size += len(chunk)
                if size > info.file_size:
                    _fail(src, "", f"member {info.filename!r} is larger than the "
                                   f"{info.file_size} bytes its directory entry says",
                          CorruptFileError)
                chunks.append(chunk)
    except _ZIP_ERRORS as exc:
        _fail(src, "", f"member {info.filename!r} is damaged: {exc}", CorruptFileError)
    if size != info.file_size:
        _fail(src, "", f"member {info.filename!r} is truncated ({size} of {info.file_size} "
                       "bytes)", CorruptFileError)
    return b"".join(chunks)


def _read_manifest(src: str, zf: zipfile.ZipFile, infos: dict) -> bytes:
    info = infos[MANIFEST]
    if info.file_size > MAX_MANIFEST_BYTES:
        _fail(src, "", f"{MANIFEST} is {info.file_size} bytes, over the limit of "
                       f"{MAX_MANIFEST_BYTES}", UnsafeFileError)
    return _read_member(src, zf, info)


def _check_manifest(src: str, obj: Any) -> dict:
    """The manifest's fields, checked in an order that gives the most useful message first."""
    _expect(src, "", obj, "object")
    if "format" not in obj:
        _fail(src, "", "missing field 'format' (not a dualgraph manifest)")
    if obj["format"] != FORMAT_NAME:
        _fail(src, "format", f"expected {FORMAT_NAME!r}, found {_found(obj['format'])}")
    if "format_version" not in obj:
        _fail(src, "", "missing field 'format_version'")
    version = _expect(src, "format_version", obj["format_version"], "integer")
    if version > FORMAT_VERSION:
        _fail(src, "format_version", f"the file has format_version {version}, but this "
                                     f"dualgraph reads format_version {FORMAT_VERSION} and older; "
                                     "upgrade dualgraph to load it", UnsupportedVersionError)
    if version < 1:
        _fail(src, "format_version", f"format versions start at 1, found {version}")
    _fields(src, "", obj, ("format", "format_version", "producer", "kind", "graph", "tensors",
                           "metadata"))
    _expect(src, "producer", obj["producer"], "string")
    _name(src, "kind", obj["kind"])
    if obj["graph"] is not None:
        _expect(src, "graph", obj["graph"], "object")
    _expect(src, "tensors", obj["tensors"], "array")
    _expect(src, "metadata", obj["metadata"], "object")
    return obj


def _check_entries(src: str, items: list, infos: dict, limit: int) -> list[_Entry]:
    """Check each `tensors` entry against the archive; refuse members the manifest omits."""
    entries, names, members = [], set(), set()
    for i, x in enumerate(items):
        where = f"tensors[{i}]"
        _fields(src, where, x, ("name", "member", "dtype", "shape"))
        name = _name(src, f"{where}.name", x["name"])
        member = _name(src, f"{where}.member", x["member"])
        _check_member_name(src, f"{where}.member", member)
        if name in names or member in members:
            _fail(src, where, f"tensor {name!r} or member {member!r} is listed twice")
        if not (member.startswith(TENSOR_DIR) and member.endswith(".npy")):
            _fail(src, f"{where}.member", f"expected a name like '{TENSOR_DIR}0.npy', "
                                          f"found {member!r}")
        if member not in infos:
            _fail(src, f"{where}.member", f"member {member!r} is listed but missing from the "
                                          "archive")
        dtype = _decode_dtype(src, f"{where}.dtype", x["dtype"])
        shape = tuple(_dim(src, f"{where}.shape[{k}]", d)
                      for k, d in enumerate(_expect(src, f"{where}.shape", x["shape"], "array")))
        if len(shape) > MAX_NDIM:
            _fail(src, f"{where}.shape", f"has {len(shape)} dims; at most {MAX_NDIM} allowed")
        entry = _Entry(name, member, dtype, shape, math.prod(shape) * dtype.itemsize)
        _check_member_size(src, where, entry, infos[member], limit)
        entries.append(entry)
        names.add(name)
        members.add(member)
    for name in infos:
        if name != MANIFEST and name not in members:
            _fail(src, "tensors", f"member {name!r} is in the archive but not listed in the "
                                  "manifest", UnsafeFileError)
    return entries


def _dim(src: str, where: str, d: Any) -> int:
    if _expect(src, where, d, "integer") < 0:
        _fail(src, where, f"a tensor dim must be non-negative, found {d}")
    return d


def _check_member_size(src: str, where: str, e: _Entry, info: zipfile.ZipInfo,
                       limit: int) -> None:
    if e.nbytes > limit:
        _fail(src, where, f"tensor {e.name!r} ({e.dtype.name}{list(e.shape)}) would take "
                          f"{e.nbytes} bytes, over the limit of {limit}", UnsafeFileError)
    if not e.nbytes < info.file_size <= e.nbytes + MAX_NPY_HEADER + 16:
        _fail(src, where, f"member {e.member!r} is {info.file_size} bytes, but a "
                          f"{e.dtype.name}{list(e.shape)} tensor takes {e.nbytes} bytes of data "
                          "plus a .npy header")


def _load_npy(src: str, e: _Entry, data: bytes) -> np.ndarray:
    """Check the .npy header against the manifest, then load with allow_pickle=False."""
    where = f"member {e.member!r} (tensor {e.name!r})"
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f, MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f, MAX_NPY_HEADER)
        else:
            _fail(src, where, f".npy version {version} is not supported", CorruptFileError)
    except (ValueError, TypeError, SyntaxError, RecursionError, OverflowError) as exc:
        _fail(src, where, f"is not a valid .npy file: {exc}", CorruptFileError)
    if dtype.hasobject:
        _fail(src, where, f"holds Python objects (dtype {dtype}); object arrays are refused")
    expected = _npy_dtype(e.dtype)
    if dtype != expected:
        _fail(src, where, f"the .npy header says dtype {dtype.str!r}, but the manifest says "
                          f"{e.dtype.name} (stored as {expected.str!r})")
    if tuple(shape) != e.shape:
        _fail(src, where, f"the .npy header says shape {list(shape)}, but the manifest says "
                          f"{list(e.shape)}")
    if len(data) - f.tell() != e.nbytes:
        _fail(src, where, f"has {len(data) - f.tell()} bytes of data, expected {e.nbytes}",
              CorruptFileError)
    f.seek(0)
    try:
        arr = np.load(f, allow_pickle=False, max_header_size=MAX_NPY_HEADER)
    except (ValueError, TypeError, OSError, EOFError) as exc:
        _fail(src, where, f"cannot be loaded: {exc}", CorruptFileError)
    arr = arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
    return arr.view(e.dtype.np) if e.dtype.compute is not e.dtype else arr
