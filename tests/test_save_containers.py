"""`dg.save` / `dg.load` with file objects, any container of tensors, NumPy arrays and plain
values, and whole modules (rebuilt only with `weights_only=False`), plus hostile files aimed at
those paths: a crafted class path (`os:system`, an unimported standard-library module, a module
that runs code when imported) is refused by name, and nothing planted in a file ever runs.

PyTorch 2.13 (captured once): `torch.load` of a file holding a NumPy array or a whole module
raises `UnpicklingError("Weights only load failed. ... Unsupported global: GLOBAL
__main__.Net was not an allowed global by default. ...")` unless `weights_only=False`."""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import nn
from dualgraph.saving_modules import WeightsOnlyError
from dualgraph.serialize import SerializationError


class Net(nn.Module):
    """A module with every kind of state: parameters (one frozen), buffers (one non-persistent),
    a tied weight, a shared child, plain attributes and an activation function."""

    inits = 0

    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        Net.inits += 1
        self.hidden, self.name, self.scales = hidden, "net", (0.5, [1, 2])
        self.dtype, self.shape, self.table = dg.float64, dg.Size([2, hidden]), np.arange(3)
        self.embed = nn.Embedding(5, hidden)
        self.body = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU())
        self.again = self.body  # the same child twice
        self.head = nn.Linear(hidden, 5, bias=False)
        self.head.weight = self.embed.weight  # tied, as GPT ties its embedding and head
        self.scale = nn.Parameter(dg.ones(()), requires_grad=False)
        self.register_buffer("steps", dg.zeros((), dtype=dg.int64))
        self.register_buffer("cache", dg.ones(2), persistent=False)
        self.act = nn.functional.gelu

    def forward(self, idx):
        self.steps.add_(1)
        return self.head(self.act(self.again(self.embed(idx))) * self.scale)


def _roundtrip(obj, **load_kw):
    buf = io.BytesIO()
    dg.save(obj, buf)
    buf.seek(0)
    return dg.load(buf, **load_kw)


def _same(a, b) -> None:
    """Deep equality of loaded values: tensors by value, dtype and requires_grad."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dg.Tensor):
        assert a.dtype == b.dtype and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


# ------------------------------------------------------------------------------ file objects

def test_file_objects_and_paths_hold_the_same_bytes(tmp_path):
    obj = {"w": dg.arange(6.0).reshape(2, 3), "epoch": 3}
    dg.save(obj, tmp_path / "a.dgm")
    with open(tmp_path / "b.dgm", "wb") as f:
        dg.save(obj, f)
    buf = io.BytesIO()
    dg.save(obj, buf)
    assert (tmp_path / "a.dgm").read_bytes() == (tmp_path / "b.dgm").read_bytes() \
        == buf.getvalue()  # reproducible bytes, whatever the target
    with open(tmp_path / "b.dgm", "rb") as f:
        _same(dg.load(f), obj)
    buf.seek(0)
    _same(dg.load(buf), obj)


class _Stream:
    """A stream that only reads (a pipe, a socket): no seek."""

    def __init__(self, data: bytes) -> None:
        self.f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self.f.read(n)


def test_a_stream_that_cannot_seek_loads_and_a_compiled_function_loads_from_a_file(tmp_path):
    buf = io.BytesIO()
    dg.save([dg.ones(2), "x"], buf)
    _same(dg.load(_Stream(buf.getvalue())), [dg.ones(2), "x"])
    f = dg.jit.trace(lambda x: x * 2 + 1, dg.ones(3))
    f.save(tmp_path / "f.dgm")
    with open(tmp_path / "f.dgm", "rb") as fh:
        g = dg.load(fh)
    np.testing.assert_array_equal(g(dg.arange(3.0)).numpy(), [1.0, 3.0, 5.0])


class _Endless:
    """A stream that never ends (a hostile or broken peer)."""

    def read(self, n: int = -1) -> bytes:
        return b"\0" * (n if n > 0 else 1 << 20)


def test_a_stream_is_read_only_up_to_the_size_bound():
    from dualgraph.serialize import UnsafeFileError, read_dgm
    with pytest.raises(UnsafeFileError, match=r"<_Endless>: the stream holds more than \d+ "
                                              r"bytes; raise max_bytes"):
        read_dgm(_Endless(), max_bytes=1000)


def test_file_objects_in_the_wrong_mode_are_refused(tmp_path):
    with open(tmp_path / "t.txt", "w") as f, pytest.raises(TypeError, match=r"text mode.*'wb'"):
        dg.save(dg.ones(1), f)
    dg.save(dg.ones(1), tmp_path / "t.dgm")
    with open(tmp_path / "t.dgm") as f, pytest.raises(TypeError, match=r"text mode.*'rb'"):
        dg.load(f)
    with open(tmp_path / "t.dgm", "rb") as f, pytest.raises(io.UnsupportedOperation,
                                                             match="not open for writing"):
        dg.save(dg.ones(1), f)
    with pytest.raises(TypeError, match="binary file object with a read"):
        dg.load(object())
    with pytest.raises(SerializationError, match="<BytesIO>: cannot be opened as a zip"):
        dg.load(io.BytesIO(b"not a zip"))


# -------------------------------------------------------------------------------- containers

def test_containers_of_tensors_numbers_and_strings_round_trip():
    t = dg.randn(3, requires_grad=True)
    objs = [
        [t, 1, 2.5, "s", None, True],
        (1, (2, [3, {"k": dg.arange(3)}])),
        {"nested": [{"a": (t, t)}], 7: float("nan"), "inf": float("-inf")},
        OrderedDict(b=1, a=[dg.zeros(2, 2, dtype=dg.float16)]),
        3, -2.5, "only a string", None, [],
        {"dtype": dg.int32, "device": dg.device("cpu"), "size": dg.Size([2, 3])},
    ]
    for obj in objs:
        back = _roundtrip(obj)
        _same(back, obj)
    back = _roundtrip([t, {"again": t}])
    assert back[0] is back[1]["again"] and back[0].requires_grad  # shared, stored once
    assert isinstance(_roundtrip(dg.Size([4])), dg.Size)


def test_numpy_arrays_are_stored_natively_and_load_by_default():
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    obj = {"f32": np.linspace(0, 1, 5, dtype=np.float32), "i16": a, "view": a[:, ::2],
           "fortran": np.asfortranarray(a), "big": np.arange(3, dtype=">f8"),
           "zero_d": np.array(7, dtype=np.uint8), "mask": a > 5, "empty": np.zeros((0, 3)),
           "scalars": [np.float64(1.5), np.int64(-3), np.bool_(True), np.float32(0.25)]}
    back = _roundtrip(obj)  # PyTorch's default loader refuses arrays; dualgraph's loads them
    for k in ("f32", "i16", "view", "fortran", "zero_d", "mask", "empty"):
        _same(back[k], obj[k])
    np.testing.assert_array_equal(back["big"], obj["big"])  # comes back in native byte order
    assert back["big"].dtype == np.float64
    assert [type(x) for x in back["scalars"]] == [np.float64, np.int64, np.bool_, np.float32]
    assert back["scalars"] == obj["scalars"]
    shared = _roundtrip({"x": a, "y": [a]})
    assert shared["x"] is shared["y"][0] and shared["x"].flags.writeable


@pytest.mark.parametrize("obj, match", [
    ({"c": np.ones(2, dtype=np.complex64)}, r"\['c'\], a NumPy array of dtype complex64"),
    ([np.array(["a"])], r"\[0\], a NumPy array of dtype <U1"),
    ([np.array([None])], r"\[0\], a NumPy array of dtype object"),
    ({"u": np.uint32(3)}, r"\['u'\], a NumPy scalar of dtype uint32"),
    ({"opt": dg.optim.SGD([nn.Parameter(dg.ones(1))], lr=0.1)}, r"\['opt'\] of type SGD"),
    ([lambda x: x], r"\[0\], the function '<lambda>'"),
    ({"save": dg.save}, r"the function 'save'.*tensor functions"),
])
def test_what_has_no_data_form_is_refused_before_the_file_is_touched(tmp_path, obj, match):
    with pytest.raises(TypeError, match=match):
        dg.save(obj, tmp_path / "x.dgm")
    assert not (tmp_path / "x.dgm").exists()


# ---------------------------------------------------------------------------- whole modules

def test_a_whole_module_is_refused_by_default_as_pytorch_refuses_it():
    buf = io.BytesIO()
    dg.save(Net(), buf)
    for kw in ({}, {"weights_only": True}, {"weights_only": None}):
        buf.seek(0)
        with pytest.raises(WeightsOnlyError) as info:
            dg.load(buf, **kw)
        msg = str(info.value)
        assert msg.startswith("<BytesIO>: Weights only load failed.")
        assert f"GLOBAL {Net.__module__}.Net was not an allowed global by default" in msg
        assert "weights_only` set to `False`" in msg and "state_dict()" in msg
    assert isinstance(info.value, pickle.UnpicklingError)  # `except UnpicklingError` works
    assert isinstance(info.value, SerializationError)
    with pytest.raises(WeightsOnlyError, match="GLOBAL dualgraph.nn.modules.linear.Linear"):
        _roundtrip({"model": nn.Linear(2, 1), "epoch": 1})
    with pytest.raises(TypeError, match="weights_only must be None, True or False"):
        _roundtrip(dg.ones(1), weights_only="no")


def test_weights_only_false_rebuilds_the_module_tree():
    dg.manual_seed(0)
    net = Net().eval()
    net(dg.tensor([1, 2]))
    inits = Net.inits
    back = _roundtrip(net, weights_only=False)
    assert Net.inits == inits  # rebuilt without running __init__, as unpickling does
    assert type(back) is Net and not back.training and not back.body[0].training
    idx = dg.tensor([[0, 4], [3, 1]])
    np.testing.assert_array_equal(back(idx).detach().numpy(), net(idx).detach().numpy())
    assert back.head.weight is back.embed.weight and back.again is back.body  # tied, shared
    assert isinstance(back.embed.weight, nn.Parameter) and back.embed.weight.requires_grad
    assert isinstance(back.scale, nn.Parameter) and not back.scale.requires_grad
    assert back.steps.item() == 2 and "cache" not in back.state_dict()  # non-persistent kept so
    np.testing.assert_array_equal(back.cache.numpy(), [1.0, 1.0])
    assert (back.hidden, back.name, back.scales) == (4, "net", (0.5, [1, 2]))
    assert back.dtype is dg.float64 and back.shape == dg.Size([2, 4])
    np.testing.assert_array_equal(back.table, np.arange(3))
    assert back.act is nn.functional.gelu
    assert list(back.state_dict()) == list(net.state_dict())
    assert [n for n, _ in back.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_a_scripts_module_class_in_main_round_trips(monkeypatch):
    main = sys.modules["__main__"]
    cls = type("Net21c", (nn.Linear,), {"__module__": "__main__"})  # as a script defines it
    monkeypatch.setattr(main, "Net21c", cls, raising=False)
    net = cls(2, 3)
    with pytest.raises(WeightsOnlyError, match="GLOBAL __main__.Net21c was not an allowed"):
        _roundtrip(net)
    back = _roundtrip(net, weights_only=False)
    assert type(back) is cls
    np.testing.assert_array_equal(back.weight.detach().numpy(), net.weight.detach().numpy())


def test_a_rebuilt_module_trains_and_checkpoints_hold_modules():
    dg.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    ckpt = _roundtrip({"model": net, "epoch": 4, "opt": dg.optim.SGD(net.parameters(), 0.1)
                       .state_dict()}, weights_only=False)
    model, ref = ckpt["model"], copy.deepcopy(net)
    assert ckpt["epoch"] == 4 and ckpt["opt"]["param_groups"][0]["lr"] == 0.1
    x, y = dg.randn(16, 3), dg.randn(16, 1)
    for m in (model, ref):
        opt = dg.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            nn.functional.mse_loss(m(x), y).backward()
            opt.step()
    for a, b in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)


def test_a_module_without_a_data_form_is_refused_at_save(tmp_path):
    class Local(nn.Module):
        pass
    net = nn.Linear(2, 2)
    net.fn = lambda x: x
    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda m, i, o: o)
    loop = nn.Sequential()
    loop.add_module("me", loop)
    for obj, match in [(Local(), r"Local cannot be imported by that name"),
                       (net, r"\['fn'\], the function '.*<lambda>'"),
                       (hooked, r"hooks registered \(_forward_hooks\)"),
                       (loop, r"the module at \['me'\] contains itself")]:
        with pytest.raises(TypeError, match=match):
            dg.save(obj, tmp_path / "m.dgm")
        assert not (tmp_path / "m.dgm").exists()


# ------------------------------------------------------------------------------ hostile files

def _parts(buf: bytes) -> tuple[dict, dict]:
    with zipfile.ZipFile(io.BytesIO(buf)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    return json.loads(members.pop("manifest.json")), members


def _file(manifest: dict, members: dict) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(name, data)
    out.seek(0)
    return out


def _module_file(obj=None) -> tuple[dict, dict]:
    buf = io.BytesIO()
    dg.save(nn.Sequential(nn.Linear(2, 2)) if obj is None else obj, buf)
    return _parts(buf.getvalue())


def _record(manifest: dict) -> dict:
    return manifest["metadata"]["module"]["module"]


def _load_edited(edit, weights_only=False, obj=None):
    manifest, members = _module_file(obj)
    edit(manifest)
    return dg.load(_file(manifest, members), weights_only=weights_only)


@pytest.mark.parametrize("path, match", [
    ("os:system", r"os:system is not an nn.Module class \(it is a builtin_function_or_method"),
    ("builtins:eval", r"builtins:eval is not an nn.Module class"),
    ("subprocess:Popen", r"subprocess:Popen is not an nn.Module class \(it is a type\)"),
    ("dualgraph.saving:save", r"dualgraph.saving:save is not an nn.Module class"),
    ("antigravity:Net", r"antigravity:Net is not an nn.Module class \(the standard library "
                        r"defines none\); refused without importing it"),
    ("no_such_package_21c:Net", r"cannot import 'no_such_package_21c'"),
    ("dualgraph.nn:Module.__subclasses__", r"expected a class path"),
    ("os:__builtins__", r"expected a class path"),
    ("os.system", r"expected a class path"),
    ("__import__('os').system('id'):x", r"expected a class path"),
    (["os", "system"], r"expected a class path"),
    ("dualgraph.nn:NoSuchModule", r"dualgraph.nn has no NoSuchModule"),
])
def test_a_crafted_class_path_is_refused_by_name(path, match):
    had_antigravity = "antigravity" in sys.modules
    with pytest.raises(SerializationError, match=match):
        _load_edited(lambda m: _record(m).__setitem__("class", path))
    assert ("antigravity" in sys.modules) == had_antigravity  # never imported by a load


def test_by_default_no_module_named_by_a_file_is_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_21c.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "import dualgraph.nn as nn\n"
        "class Net(nn.Module):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        for weights_only in (None, True):
            with pytest.raises(WeightsOnlyError, match="GLOBAL evil_21c.Net was not an allowed"):
                _load_edited(lambda m: _record(m).__setitem__("class", "evil_21c:Net"),
                             weights_only=weights_only)
            assert not marker.exists() and "evil_21c" not in sys.modules
        # the opt-in is the one path that imports code: the module named by the file, as
        # docs/FORMAT.md says (PyTorch's weights_only=False runs anything in the pickle)
        m = _load_edited(lambda m: _record(m).__setitem__("class", "evil_21c:Net"))
        assert marker.exists() and type(m).__name__ == "Net"
    finally:
        sys.modules.pop("evil_21c", None)


@pytest.mark.parametrize("path, match", [
    ("os:system", "saved functions come from"),
    ("dualgraph:save", "not one of dualgraph's tensor functions"),
    ("dualgraph:load", "not one of dualgraph's tensor functions"),
    ("dualgraph.nn.functional:bind", "not one of dualgraph's tensor functions"),  # dispatch
    ("dualgraph.nn.functional:annotations", "not one of dualgraph's tensor functions"),
    ("dualgraph.nn.functional:F.relu", "saved functions come from"),
])
def test_a_crafted_function_path_is_refused(path, match):
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8)

    def edit(m):
        for pair in _record(m)["attributes"]:
            if pair[0] == "activation":
                pair[1] = {"function": path}
    with pytest.raises(SerializationError, match=match):
        _load_edited(edit, obj=layer)
    buf = io.BytesIO()  # a function outside any module is refused by default too
    dg.save({"act": nn.functional.relu}, buf)
    manifest, members = _parts(buf.getvalue())
    manifest["metadata"]["state_dict"]["dict"][0][1] = {"function": path}
    with pytest.raises(WeightsOnlyError, match=f"holds the function {path}"):
        dg.load(_file(manifest, members))


@pytest.mark.parametrize("edit, match", [
    (lambda r: r.__setitem__("extra", 1), "exactly the fields"),
    (lambda r: r.__setitem__("id", 5), "expected module id 0"),
    (lambda r: r.__setitem__("training", "yes"), r"training: expected a boolean"),
    (lambda r: r["attributes"].append(["__class__", "x"]), "expected a new name"),
    (lambda r: r["attributes"].append(["_parameters", {"dict": []}]), "expected a new name"),
    (lambda r: r["attributes"].append(["training", False]), "expected a new name"),
    (lambda r: r["modules"].append(["0", None]), r"expected a new name.*'0'"),
    (lambda r: r["modules"].append(["me", {"moduleref": 0}]), "not a module recorded"),
    (lambda r: r["modules"].append(["far", {"moduleref": 9}]), "not a module recorded"),
    (lambda r: r["modules"].append(["x", 3]), "expected a module node"),
    (lambda r: r["modules"][0][1]["module"]["parameters"].append(["w", "text"]),
     "expected a tensor node or null"),
    (lambda r: r.__setitem__("non_persistent", ["nope"]), "buffer names"),
    (lambda r: r.__setitem__("parameters", {"w": None}), r"\[name, value\] pairs"),
])
def test_a_malformed_module_record_is_refused(edit, match):
    with pytest.raises(SerializationError, match=match):
        _load_edited(lambda m: edit(_record(m)))


@pytest.mark.parametrize("node, match", [
    ({"ndarray": "a", "scalar": True}, "a scalar has no dims"),
    ({"ndarray": "a", "shape": [2]}, "unknown ndarray fields"),
    ({"ndarray": "missing"}, "which the file does not hold"),
    ({"dtype": "complex128"}, "unknown dtype"),
    ({"dtype": ["float32"]}, "expected a dtype name"),
    ({"device": "tpu:0"}, "expected a device"),
    ({"size": [2, -1]}, "non-negative integers"),
    ({"size": [2.5]}, "non-negative integers"),
    ({"pickle": "gASV"}, "expected one of the tags"),
])
def test_malformed_value_nodes_are_refused(node, match):
    buf = io.BytesIO()
    dg.save({"a": np.ones(2), "b": 1}, buf)
    manifest, members = _parts(buf.getvalue())
    manifest["metadata"]["state_dict"]["dict"][1][1] = node
    with pytest.raises(SerializationError, match=match):
        dg.load(_file(manifest, members))


def test_one_member_is_either_a_tensor_or_an_array():
    buf = io.BytesIO()
    dg.save([dg.ones(2), np.ones(2)], buf)
    manifest, members = _parts(buf.getvalue())
    items = manifest["metadata"]["value"]["list"]
    items[1] = {"ndarray": items[0]["tensor"]}
    with pytest.raises(SerializationError, match="both as a tensor and as a NumPy array"):
        dg.load(_file(manifest, members))


def _strings(obj, path=()):
    """Every (path, string) in a JSON value, keys included (as ("key", name))."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _strings(v, path + (i,))


def test_a_payload_in_any_string_of_a_module_file_never_runs(tmp_path):
    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    payloads = [code, f"os:system('touch {marker}')", f"dualgraph.nn:Linear\n{code}"]
    manifest, members = _module_file(nn.TransformerEncoderLayer(4, 2, dim_feedforward=8))
    sites = list(_strings(manifest["metadata"]))
    assert len(sites) > 40
    outcomes = set()
    for path, _ in sites:
        for payload in payloads:
            edited = json.loads(json.dumps(manifest))
            target = edited["metadata"]
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = payload
            try:
                dg.load(_file(edited, members), weights_only=False)
                outcomes.add("loaded")  # a plain string attribute holds the payload as data
            except SerializationError:
                outcomes.add("refused")
            assert not marker.exists(), (path, payload)
    assert outcomes == {"loaded", "refused"}
    assert not os.path.exists(Path.cwd() / "ran")
