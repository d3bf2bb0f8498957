"""The `.dgm` file format: round trips, one test per way the loader must refuse a file, and
property tests that mutate valid files and expect a verified graph or a SerializationError.

Bad files are built by hand with `zipfile` (never with the writer under test), so each test shows
exactly which fault it plants. No pickle anywhere: object-dtype .npy members are made by writing
the header alone.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dualgraph import serialize
from dualgraph.ir import get
from dualgraph.ir.graph import Graph
from dualgraph.ir.text import parse_graph, print_graph
from dualgraph.ir.types import ALL_DTYPES, TensorType, float32
from dualgraph.ir.verify import verify
from dualgraph.serialize import (FORMAT_VERSION, CorruptFileError, SerializationError,
                                 UnknownOpError, UnsafeFileError, UnsupportedVersionError,
                                 graph_from_json, graph_tensors, graph_to_json, read_dgm,
                                 write_dgm)

GRAPH_TEXT = """
graph(%x: f32[B, 4], %y: i64[3], %z: f32[5, 6], %n: float, %q: f32[2]@cuda:0) {
  %w = constant() {value='@W'} : f32[4, 10]
  %c = constant() {value=[1.0, 2.0]} : f32[2]
  %0 = matmul(%x, %w) : f32[B, 10]
  %1 = add(%0, 2.5) {alpha=2} : f32[B, 10]
  %2 = sum(%1) {dim=(1,), keepdim=True, dtype=float64} : f64[B, 1]
  %3 = getitem(%z) {index=(slice(None, 2, None), ..., None, 3)} : f32[2, 1]
  %4 = to_device(%3) {device=device('cuda:0')} : f32[2, 1]@cuda:0
  %5 = reshape(%4) {shape=[1, -1]} : f32[1, 2]@cuda:0
  %6 = mul(%y, True) : i64[3]
  %7 = relu(%c) : f32[2]
  %8 = sub(%z, %n) {alpha=0.5} : f32[5, 6]
  %9 = mean(%8) {dim=None, keepdim=False, dtype=None} : f32[]
  %10 = to_dtype(%6) {dtype=float16} : f16[3]
  %11 = constant() {value=[[True, False]]} : bool[1, 2]
  %12 = add(%5, %q) : f32[1, 2]@cuda:0
  %13 = permute(%x) {dims=[1, 0]} : f32[4, B]
  return (%2, %12, %6, %7, %9, %10, %11, %13, 1.5)
}
"""
W = np.arange(40, dtype=np.float32).reshape(4, 10)  # 40 elements: printed by name, '@W'


def make_graph() -> Graph:
    g = parse_graph(GRAPH_TEXT, {"W": W})
    g.tensors["W"] = g.nodes[0].attrs["value"]
    g.meta = {"params": ["w"], "source": {"file": "model.py", "line": 3}}
    return g


def write_valid(path: Path) -> Path:
    payload = {"fc.weight": np.linspace(0, 1, 12).reshape(3, 4), "step": np.array(7)}
    write_dgm(path, "graph", make_graph(), payload, {"task": "demo", "accuracy": 0.93})
    return path


def unzip(path: Path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    return json.loads(members.pop("manifest.json")), members


def make_zip(path: Path, members: list | dict, compression: int = zipfile.ZIP_STORED) -> Path:
    """A zip of (name, bytes) pairs, in order; duplicates and odd names are kept as given."""
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in items:
                zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def manifest_bytes(manifest: dict) -> bytes:
    return json.dumps(manifest).encode()


def rewrite(tmp_path: Path, edit=None, members: dict | None = None, drop=()) -> Path:
    """A valid file, its manifest changed by `edit(manifest)`, members replaced or dropped."""
    manifest, old = unzip(write_valid(tmp_path / "valid.dgm"))
    if edit is not None:
        edit(manifest)
    old.update(members or {})
    items = [("manifest.json", manifest_bytes(manifest))]
    items += [(k, v) for k, v in old.items() if k not in drop]
    return make_zip(tmp_path / "bad.dgm", items)


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def entry(manifest: dict, name: str) -> dict:
    return next(e for e in manifest["tensors"] if e["name"] == name)


def node(manifest: dict, op: str) -> dict:
    return next(n for n in manifest["graph"]["nodes"] if n["op"] == op)


def rejects(path: Path, fragment: str, cls: type = SerializationError, **kwargs) -> str:
    with pytest.raises(cls) as info:
        read_dgm(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert fragment in message, message
    assert "bug in dualgraph" not in message, message
    return message


# ----------------------------------------------------------------------------- round trips

def test_round_trip_graph_file(tmp_path):
    g = make_graph()
    path = write_valid(tmp_path / "model.dgm")
    manifest, g2, tensors = read_dgm(path)
    assert print_graph(g2) == print_graph(g)
    verify(g2)
    assert [v.name for v in g2.inputs] == ["x", "y", "z", "n", "q"]
    assert g2.nodes[0].outputs[0].name == "w" and g2.nodes[0].meta == {"tensor": "W"}
    assert g2.meta == g.meta and g2.name == g.name
    assert set(g2.tensors) == {"W"} and g2.tensors["W"] is g2.nodes[0].attrs["value"]
    for a, b in zip(g.nodes, g2.nodes):
        if a.op.name == "constant":
            assert a.attrs["value"].dtype == b.attrs["value"].dtype
            np.testing.assert_array_equal(a.attrs["value"], b.attrs["value"])
    assert set(tensors) == {"fc.weight", "step"}
    np.testing.assert_array_equal(tensors["fc.weight"], np.linspace(0, 1, 12).reshape(3, 4))
    assert tensors["step"].shape == () and tensors["step"] == 7
    assert manifest["format"] == "dualgraph" and manifest["format_version"] == FORMAT_VERSION
    assert manifest["producer"] == "dualgraph 0.1.0" and manifest["kind"] == "graph"
    assert manifest["metadata"] == {"task": "demo", "accuracy": 0.93}
    assert all(e["member"].startswith("tensors/") for e in manifest["tensors"])
    assert {e["name"] for e in manifest["tensors"]} == {"fc.weight", "step", "graph/W",
                                                      "graph/const1", "graph/const13"}


def test_round_trip_json_without_archive():
    g = make_graph()
    obj = json.loads(json.dumps(graph_to_json(g)))
    g2 = graph_from_json(obj, graph_tensors(g))
    assert print_graph(g2) == print_graph(g)
    assert obj["nodes"][4]["attrs"]["dim"] == {"tuple": [1]}
    assert obj["nodes"][5]["attrs"]["index"] == {"tuple": [
        {"slice": [None, 2, None]}, {"ellipsis": True}, None, 3]}
    assert obj["nodes"][6]["attrs"]["device"] == {"device": "cuda:0"}
    assert obj["inputs"][0]["type"] == {"dtype": "float32", "shape": ["B", 4], "device": "cpu"}
    assert obj["inputs"][3]["type"] == "float"
    assert obj["nodes"][3]["inputs"] == [{"value": "0"}, 2.5]


def test_round_trip_payload_of_every_dtype_and_layout(tmp_path):
    tensors = {d.name: (np.arange(6) % 2).astype(d.np).reshape(2, 3) for d in ALL_DTYPES}
    tensors.update({
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3), np.float32),
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "big_endian": np.arange(5, dtype=">i4"),
        "strided": np.arange(20.0)[::3],
        "list": [[1, 2], [3, 4]],
    })
    write_dgm(tmp_path / "sd.dgm", "state_dict", None, tensors, {})
    manifest, graph, back = read_dgm(tmp_path / "sd.dgm")
    assert graph is None and manifest["graph"] is None and manifest["kind"] == "state_dict"
    assert list(back) == list(tensors)
    for name, value in tensors.items():
        want = np.asarray(value)
        assert back[name].dtype == want.dtype.newbyteorder("="), name
        np.testing.assert_array_equal(back[name], want)
    assert back["big_endian"].dtype.isnative and back["fortran"].flags.writeable


def test_nonfinite_literals_and_graph_built_with_add_node(tmp_path):
    g = Graph()
    x = g.add_input(TensorType(float32, ("N",)), "x")
    a = g.add_node(get("add"), [x, math.inf]).output
    b = g.add_node(get("mul"), [a, -math.inf]).output
    c = g.add_node(get("sub"), [b, math.nan], {"alpha": -0.0}).output
    g.outputs = [c, math.nan]
    write_dgm(tmp_path / "f.dgm", "graph", g, {}, {})
    manifest, g2, _ = read_dgm(tmp_path / "f.dgm")
    assert print_graph(g2) == print_graph(g)
    assert manifest["graph"]["nodes"][0]["inputs"][1] == {"float": "inf"}
    assert math.copysign(1, g2.nodes[2].attrs["alpha"]) == -1


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "text", [1, [2, 3]], (1,), (), ((1, 2), [None]), slice(1, None, -1),
    Ellipsis, float32, (slice(None), Ellipsis, None, 0)])
def test_attribute_encodings_round_trip(value):
    from dualgraph.ir.types import Device
    for v in (value, Device("cuda:1"), Device("cpu")):
        encoded = json.loads(json.dumps(serialize.schema._encode_attr("t", "a", v)))
        back = serialize.schema._decode_attr("t", "a", encoded)
        assert repr(back) == repr(v) and type(back) is type(v)


def test_write_is_deterministic_and_laid_out_as_documented(tmp_path):
    a, b = write_valid(tmp_path / "a.dgm"), write_valid(tmp_path / "b.dgm")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
    assert infos[0].filename == "manifest.json"
    assert [i.filename for i in infos[1:]] == [f"tensors/{k}.npy" for k in range(len(infos) - 1)]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos[1:])


def test_write_is_atomic(tmp_path):
    path = write_valid(tmp_path / "m.dgm")
    before = path.read_bytes()
    with pytest.raises(SerializationError):
        write_dgm(path, "state_dict", None, {"bad": np.array([1 + 2j])}, {})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.dgm"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"tensors": {"o": np.array([object()])}}, "has no dtype for NumPy dtype"),
    ({"tensors": {"graph/x": np.zeros(2)}}, "not starting with 'graph/'"),
    ({"metadata": {"x": {1, 2}}}, "metadata: must be JSON data"),
    ({"metadata": {"x": math.nan}}, "metadata: must be JSON data"),
    ({"kind": ""}, "kind: expected a non-empty string"),
])
def test_write_refuses_bad_arguments(tmp_path, kwargs, fragment):
    args = {"kind": "state_dict", "graph": None, "tensors": {}, "metadata": {}} | kwargs
    with pytest.raises(SerializationError, match=fragment):
        write_dgm(tmp_path / "x.dgm", **args)
    assert not (tmp_path / "x.dgm").exists()


def test_write_refuses_a_graph_that_fails_verification(tmp_path):
    g = make_graph()
    g.nodes[3].outputs[0].type = TensorType(float32, (7,))
    with pytest.raises(SerializationError, match="refusing to write a graph that fails"):
        write_dgm(tmp_path / "x.dgm", "graph", g, {}, {})


# ----------------------------------------------------------------- archive-level rejections

def test_rejects_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "x.dgm"
    path.write_bytes(b"\x80\x04\x95 this is a pickle, not a zip" * 10)
    rejects(path, "cannot be opened as a zip archive", CorruptFileError)
    path.write_bytes(b"")
    rejects(path, "cannot be opened as a zip archive", CorruptFileError)


def test_rejects_missing_files_and_non_regular_files(tmp_path):
    rejects(tmp_path / "absent.dgm", "cannot be opened")
    rejects(tmp_path, "is not a regular file")
    if hasattr(os, "mkfifo"):  # opening a FIFO would block: the loader must not hang
        os.mkfifo(tmp_path / "fifo.dgm")
        rejects(tmp_path / "fifo.dgm", "is not a regular file")


def test_rejects_a_truncated_file(tmp_path):
    data = write_valid(tmp_path / "v.dgm").read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        (tmp_path / "t.dgm").write_bytes(data[:cut])
        rejects(tmp_path / "t.dgm", "", CorruptFileError)


def test_rejects_a_bad_crc(tmp_path):
    data = bytearray(write_valid(tmp_path / "v.dgm").read_bytes())
    at = bytes(data).index(W.tobytes()) + 17
    data[at] ^= 0xFF
    (tmp_path / "c.dgm").write_bytes(bytes(data))
    rejects(tmp_path / "c.dgm", "is damaged: Bad CRC-32", CorruptFileError)


def test_rejects_a_member_larger_than_its_directory_entry(tmp_path):
    """A zip bomb that lies about its size: the bounded reader stops at the stated size."""
    manifest, members = unzip(write_valid(tmp_path / "v.dgm"))
    text = manifest_bytes(manifest) + b" " * 200_000
    path = make_zip(tmp_path / "l.dgm", [("manifest.json", text), *members.items()],
                    zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = bytes(data).index(sig)
        struct.pack_into("<I", data, at + offset, len(text) - 150_000)
    path.write_bytes(bytes(data))
    rejects(path, "'manifest.json' is damaged", CorruptFileError)


def test_rejects_a_missing_manifest(tmp_path):
    _, members = unzip(write_valid(tmp_path / "v.dgm"))
    rejects(make_zip(tmp_path / "m.dgm", members), "the archive has no manifest.json")


@pytest.mark.parametrize("text, fragment", [
    (b"{not json", "manifest.json: is not valid JSON"),
    (b"\xff\xfe{}", "manifest.json: is not UTF-8 text"),
    (b'{"format": NaN}', "non-standard JSON constant NaN"),
    (b'{"format": 1e999}', "overflows a double"),
    (b'{"format": "dualgraph", "format": "dualgraph"}', "duplicate key 'format'"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"[1, 2]", "manifest.json: expected an object, found array"),
    (b'"dualgraph"', "manifest.json: expected an object, found string"),
])
def test_rejects_a_manifest_that_is_not_a_json_object(tmp_path, text, fragment):
    rejects(make_zip(tmp_path / "j.dgm", [("manifest.json", text)]), fragment)


@pytest.mark.parametrize("edit, fragment", [
    (lambda m: m.pop("kind"), "manifest.json: missing field 'kind'"),
    (lambda m: m.pop("format"), "missing field 'format'"),
    (lambda m: m.update(kind=3), "kind: expected a string, found integer 3"),
    (lambda m: m.update(kind=""), "kind: expected a non-empty string"),
    (lambda m: m.update(format_version="1"), "format_version: expected an integer, found string"),
    (lambda m: m.update(format_version=0), "format versions start at 1"),
    (lambda m: m.update(producer=None), "producer: expected a string, found null"),
    (lambda m: m.update(metadata=[]), "metadata: expected an object, found array"),
    (lambda m: m.update(tensors={}), "tensors: expected an array, found object"),
    (lambda m: m.update(graph="g"), "graph: expected an object, found string"),
    (lambda m: m.update(extra=1), "unexpected field 'extra'"),
    (lambda m: m.update(format="pytorch"), "format: expected 'dualgraph', found string"),
    (lambda m: m["tensors"][0].pop("dtype"), "tensors[0]: missing field 'dtype'"),
    (lambda m: m["tensors"][0].update(dtype="complex64"), "tensors[0].dtype: unknown dtype"),
    (lambda m: m["tensors"][0].update(shape=[3, -4]), "must be non-negative, found -4"),
    (lambda m: m["tensors"][0].update(shape=[3, 4.0]), "expected an integer, found number"),
    (lambda m: m["tensors"][0].update(shape=[2 ** 40]), "over the limit"),
    (lambda m: m["tensors"][0].update(shape=[2 ** 70]), "outside the int64 range"),
    (lambda m: m["tensors"][0].update(shape=[100, 100]), "takes 80000 bytes of data"),
    (lambda m: m["tensors"][1].update(name=m["tensors"][0]["name"]), "is listed twice"),
    (lambda m: m["tensors"][0].update(member="weights/0.npy"), "expected a name like"),
])
def test_rejects_ill_formed_manifest_fields(tmp_path, edit, fragment):
    rejects(rewrite(tmp_path, edit), fragment)


def test_rejects_a_newer_format_version(tmp_path):
    path = rewrite(tmp_path, lambda m: m.update(format_version=FORMAT_VERSION + 1, other=1))
    message = rejects(path, "the file has format_version 2", UnsupportedVersionError)
    assert "reads format_version 1" in message


@pytest.mark.parametrize("name, reason", [
    ("/etc/passwd", "is absolute"),
    ("../evil.npy", "contains '..'"),
    ("tensors/../../evil.npy", "contains '..'"),
    ("tensors\\0.npy", "contains a backslash"),
    ("C:/Windows/evil.npy", "starts with a drive letter"),
    ("c:evil.npy", "starts with a drive letter"),
    ("tensors//0.npy", "has an empty path component"),
])
def test_rejects_unsafe_member_names(tmp_path, name, reason):
    manifest, members = unzip(write_valid(tmp_path / "v.dgm"))
    items = [("manifest.json", manifest_bytes(manifest)), *members.items(), (name, b"x")]
    rejects(make_zip(tmp_path / "z.dgm", items), reason, UnsafeFileError)
    listed = rewrite(tmp_path, lambda m: m["tensors"][0].update(member=name))
    rejects(listed, f"tensors[0].member: member name {name!r} {reason}", UnsafeFileError)


def test_rejects_a_member_not_listed_in_the_manifest(tmp_path):
    path = rewrite(tmp_path, members={"tensors/evil.py": b"import os"})
    rejects(path, "member 'tensors/evil.py' is in the archive but not listed", UnsafeFileError)


def test_rejects_a_listed_member_that_is_missing(tmp_path):
    manifest, _ = unzip(write_valid(tmp_path / "v.dgm"))
    member = manifest["tensors"][0]["member"]
    rejects(rewrite(tmp_path, drop=(member,)), f"member {member!r} is listed but missing")


def test_rejects_duplicate_members(tmp_path):
    manifest, members = unzip(write_valid(tmp_path / "v.dgm"))
    items = [("manifest.json", manifest_bytes(manifest)), *members.items()]
    items.append(items[1])
    rejects(make_zip(tmp_path / "d.dgm", items), "appears twice", UnsafeFileError)


def test_rejects_unsupported_compression(tmp_path):
    manifest, members = unzip(write_valid(tmp_path / "v.dgm"))
    items = [("manifest.json", manifest_bytes(manifest)), *members.items()]
    rejects(make_zip(tmp_path / "b.dgm", items, zipfile.ZIP_BZIP2), "compression method 12")


def _refuse_reads(monkeypatch):
    def no_read(*args):
        raise AssertionError("a member was read before the directory's sizes were checked")
    monkeypatch.setattr(serialize.archive, "_read_member", no_read)


def test_rejects_an_archive_over_the_size_limit_before_reading(tmp_path, monkeypatch):
    path = write_valid(tmp_path / "v.dgm")
    _refuse_reads(monkeypatch)
    rejects(path, "more than 1000 bytes uncompressed", UnsafeFileError, max_bytes=1000)
    monkeypatch.setattr(serialize.archive, "MAX_BYTES", 2000)
    rejects(path, "more than 2000 bytes uncompressed", UnsafeFileError)


def test_rejects_an_absurd_compression_ratio_before_reading(tmp_path, monkeypatch):
    zeros = np.zeros((1024, 1024), np.float32)
    manifest = {"format": "dualgraph", "format_version": 1, "producer": "hand", "kind": "tensor",
                "graph": None, "metadata": {}, "tensors": [
                    {"name": "z", "member": "tensors/0.npy", "dtype": "float32",
                     "shape": [1024, 1024]}]}
    path = make_zip(tmp_path / "bomb.dgm", [("manifest.json", manifest_bytes(manifest)),
                                            ("tensors/0.npy", npy(zeros))], zipfile.ZIP_DEFLATED)
    _refuse_reads(monkeypatch)
    rejects(path, "compression ratio of", UnsafeFileError)


# ------------------------------------------------------------------------ .npy rejections

def _replace_tensor(tmp_path: Path, name: str, data: bytes, **fields) -> Path:
    manifest, _ = unzip(write_valid(tmp_path / "v.dgm"))
    member = entry(manifest, name)["member"]
    return rewrite(tmp_path, lambda m: entry(m, name).update(fields), members={member: data})


def test_rejects_object_arrays_without_unpickling(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False,
                                               "shape": (12,)})
    data = buf.getvalue() + b"\0" * 96  # where pickled objects would be: never read
    rejects(_replace_tensor(tmp_path, "fc.weight", data, shape=[12]),
            "holds Python objects (dtype object); object arrays are refused")


def test_rejects_an_npy_dtype_that_disagrees_with_the_manifest(tmp_path):
    path = _replace_tensor(tmp_path, "fc.weight", npy(np.zeros((3, 4), np.int64)))
    rejects(path, "the .npy header says dtype '<i8', but the manifest says float64")
    path = _replace_tensor(tmp_path, "fc.weight", npy(np.zeros((3, 4), ">f8")))
    rejects(path, "the .npy header says dtype '>f8'")


def test_rejects_an_npy_shape_that_disagrees_with_the_manifest(tmp_path):
    path = _replace_tensor(tmp_path, "fc.weight", npy(np.zeros((4, 3))))
    rejects(path, "the .npy header says shape [4, 3], but the manifest says [3, 4]")


def test_rejects_a_member_that_is_not_npy(tmp_path):
    path = _replace_tensor(tmp_path, "fc.weight", b"PK\x03\x04" + b"\0" * 200)
    rejects(path, "(tensor 'fc.weight'): is not a valid .npy file", CorruptFileError)


def test_rejects_npy_data_of_the_wrong_length(tmp_path):
    data = npy(np.zeros((3, 4)))  # a 128-byte header, then 96 bytes of data
    rejects(_replace_tensor(tmp_path, "fc.weight", data[:-8]),
            "has 88 bytes of data, expected 96", CorruptFileError)
    rejects(_replace_tensor(tmp_path, "fc.weight", data + b"\0" * 4),
            "has 100 bytes of data, expected 96", CorruptFileError)


# ----------------------------------------------------------------------- graph rejections

def test_rejects_constant_data_that_disagrees_with_the_graph(tmp_path):
    path = _replace_tensor(tmp_path, "graph/W", npy(W.astype(np.float64)), dtype="float64")
    message = rejects(path, "graph.nodes[0] (constant).attrs.value: tensor 'graph/W' is float64")
    assert "disagrees with the node's declared output type" in message


def test_rejects_an_unknown_op(tmp_path):
    path = rewrite(tmp_path, lambda m: node(m, "matmul").update(op="frobnicate"))
    rejects(path, "graph.nodes[2].op: unknown op 'frobnicate'", UnknownOpError)


def test_rejects_an_op_version_newer_than_registered(tmp_path):
    path = rewrite(tmp_path, lambda m: node(m, "matmul").update(version=7))
    message = rejects(path, "op 'matmul' has version 7 in the file", UnsupportedVersionError)
    assert "implements matmul version 1" in message


def test_rejects_a_graph_that_fails_verification(tmp_path):
    def edit(m):
        node(m, "relu")["outputs"][0]["type"]["shape"] = [3]
    message = rejects(rewrite(tmp_path, edit), "the graph fails verification")
    assert "disagrees with the op's meta function" in message


@pytest.mark.parametrize("edit, fragment", [
    (lambda m: node(m, "relu")["inputs"].__setitem__(0, {"value": "nope"}),
     "graph.nodes[9] (relu).inputs[0]: value %nope is not defined before it is used"),
    (lambda m: node(m, "relu")["inputs"].__setitem__(0, "c"), "expected a value reference"),
    (lambda m: node(m, "relu")["outputs"][0].update(name="x"), "value %x is defined twice"),
    (lambda m: node(m, "sum")["attrs"].update(dim={"set": [1]}), "expected a tagged value"),
    (lambda m: node(m, "sum")["attrs"].update(dim={"tensor": "graph/W"}),
     "only allowed as the `value` of a constant"),
    (lambda m: node(m, "sum")["attrs"].update(dim={"slice": [1, 2]}), "[start, stop, step]"),
    (lambda m: node(m, "sum")["attrs"].update(dtype={"dtype": "complex"}), "unknown dtype"),
    (lambda m: node(m, "to_device")["attrs"].update(device={"device": "tpu"}),
     "expected a device 'cpu' or 'cuda:N'"),
    (lambda m: node(m, "sum")["attrs"].update(dim=2 ** 64), "outside the int64 range"),
    (lambda m: node(m, "sum")["attrs"].update(dim=json.loads("[" * 40 + "]" * 40)),
     "nested deeper than"),
    (lambda m: node(m, "constant")["attrs"].update(value=[1.0]), "expected a tensor reference"),
    (lambda m: node(m, "constant")["attrs"].update(value={"tensor": "graph/nope"}),
     "refers to tensor 'graph/nope', which the manifest does not list"),
    (lambda m: node(m, "constant").pop("meta"), "needs a string 'tensor' entry"),
    (lambda m: node(m, "add").pop("attrs"), "graph.nodes[3] (add): missing field 'attrs'"),
    (lambda m: node(m, "add").update(version=True), "expected an integer, found boolean"),
    (lambda m: m["graph"]["inputs"][0]["type"].update(dtype="f32"), "unknown dtype 'f32'"),
    (lambda m: m["graph"]["inputs"][0].update(type="complex"), "expected a tensor type"),
    (lambda m: m["graph"]["inputs"][0]["type"].update(shape=[""]), "non-empty string"),
    (lambda m: m["graph"]["tensors"].update(W="graph/zzz"), "which the manifest does not list"),
    (lambda m: m["graph"].update(outputs=[{"value": "zz"}]), "value %zz is not defined"),
])
def test_rejects_ill_formed_graph_json(tmp_path, edit, fragment):
    rejects(rewrite(tmp_path, edit), fragment)


# --------------------------------------------------------------------------- property tests

@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory) -> bytes:
    return write_valid(tmp_path_factory.mktemp("valid") / "v.dgm").read_bytes()


def _read_or_refuse(path: Path) -> None:
    """Reading either succeeds with a verified graph or raises SerializationError."""
    try:
        _, graph, _ = read_dgm(path)
    except SerializationError as exc:
        assert "bug in dualgraph" not in str(exc), str(exc)
        assert str(exc).startswith(str(path))
        return
    if graph is not None:
        verify(graph)


_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("splice"), st.floats(0, 1, exclude_max=True),
              st.floats(0, 1, exclude_max=True)),
)


def _mutate(data: bytes, mutations: list) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in mutations:
        at = int(where * len(buf)) if buf else 0
        if kind == "flip" and buf:
            buf[at] ^= arg
        elif kind == "truncate":
            del buf[at:]
        elif kind == "splice":  # copy a slice of the file over another place
            src = int(arg * len(buf))
            buf[at:at] = buf[src:src + 64]
    return bytes(buf)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_files_are_read_or_refused(tmp_path, valid_bytes, mutations):
    path = tmp_path / "mutated.dgm"
    path.write_bytes(_mutate(valid_bytes, mutations))
    _read_or_refuse(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2 ** 65) | st.floats(allow_nan=False,
                                                                     allow_infinity=False)
    | st.sampled_from(["x", "0", "graph/W", "float32", "cpu", "cuda:0", "add", "tensors/0.npy"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["value", "tensor", "tuple", "dtype", "name", "type", "float"]), inner,
        max_size=2),
    max_leaves=6)


def _paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) \
        else ()
    for key, value in items:
        yield from _paths(value, prefix + (key,))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_manifests_are_read_or_refused(tmp_path, valid_bytes, data):
    """Structural changes that keep the zip intact reach the schema checks and the verifier."""
    (tmp_path / "v.dgm").write_bytes(valid_bytes)
    manifest, members = unzip(tmp_path / "v.dgm")
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(manifest))[1:]))
        parent = manifest
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(_JSON)
    items = [("manifest.json", manifest_bytes(manifest)), *members.items()]
    _read_or_refuse(make_zip(tmp_path / "m.dgm", items))


def test_the_example_in_the_format_doc_is_what_the_writer_produces():
    doc = (Path(__file__).parent.parent / "docs" / "FORMAT.md").read_text()
    section = doc.split("## The graph JSON")[1]
    example = json.loads(section.split("```json")[1].split("```")[0])
    text = section.split("This is the graph the text form prints as")[1].split("```")[1]
    w = np.zeros((784, 10), np.float32)
    g = parse_graph(text, {"W": w})
    g.tensors["W"], g.meta = w, {"params": ["w"]}
    assert graph_to_json(g) == example
    assert print_graph(graph_from_json(example, {"graph/W": w})) == text.strip()


def test_every_sample_attribute_of_every_op_passes_the_attribute_type_check():
    """The load-time check (the type of each attribute's default in the op's record) accepts
    every attribute the ops' own samples use: it refuses nothing real files hold."""
    from dualgraph.ir import all_ops
    from dualgraph.serialize.schema import _check_attr
    rng = np.random.default_rng(0)
    checked = 0
    for op in all_ops():
        for sample in (op.samples(rng) if op.samples else []):
            for key, value in op.full_attrs(sample.attrs).items():
                if not (op.name == "constant" and key == "value"):
                    _check_attr("samples", f"{op.name}.{key}", value, op.attrs[key], {"B"})
                    checked += 1
    assert checked > 300


@pytest.mark.parametrize("value,default,fragment", [
    ("abc", 1, "expected a number"), (True, 1.0, None), ("B", 1, None), ("C", 1, "a number"),
    (1, True, "expected a bool"), (1, "mean", "expected a string"), (1, (1, 1), None),
    ((1, "B"), (1, 1), None), ((1, 1.5), (1, 1), r"\[1\]: expected an integer"),
    ([True], (0,), "expected an integer"), ({"a"}, (), "tuple or list"), (None, 0, "a number"),
    (slice(1), None, None),
])
def test_attribute_type_check(value, default, fragment):
    from dualgraph.serialize.schema import _check_attr
    if fragment is None:
        _check_attr("f", "a", value, default, {"B"})
    else:
        with pytest.raises(SerializationError, match=fragment):
            _check_attr("f", "a", value, default, {"B"})
