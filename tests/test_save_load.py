"""`dg.save` / `dg.load` for tensors and state dicts: round trips (dtypes, shapes, values, key
order, nested optimizer state), loading into modules and optimizers, the errors, files tampered
with by hand. (The run of examples/mnist_mlp.py is in tests/test_examples.py.)"""

from __future__ import annotations

import json
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import dualgraph as torch
from dualgraph import nn
from dualgraph.saving import save
from dualgraph.serialize import CorruptFileError, SerializationError

def _rewrite(src: Path, dst: Path, change) -> None:
    """Copy a .dgm archive member by member, letting `change(name, bytes)` alter any of them."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info)))


def _edit_manifest(src: Path, dst: Path, edit) -> None:
    def change(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()
    _rewrite(src, dst, change)


def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("manifest.json"))


# ------------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int16", "int32",
                                   "int64", "uint8", "bool"])
def test_tensor_round_trip_keeps_dtype_shape_values(tmp_path, dtype):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((2, 3, 4)) * 50).astype(dtype)
    save(torch.from_numpy(arr), tmp_path / "t.dgm")
    back = torch.load(tmp_path / "t.dgm")
    assert back.dtype == getattr(torch, dtype)
    assert tuple(back.shape) == (2, 3, 4)
    np.testing.assert_array_equal(back.numpy(), arr)
    assert _manifest(tmp_path / "t.dgm")["kind"] == "tensor"


def test_tensor_zero_dim_non_contiguous_and_requires_grad(tmp_path):
    save(torch.tensor(3.5), tmp_path / "s.dgm")
    s = torch.load(tmp_path / "s.dgm")
    assert s.shape == () and s.item() == 3.5
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    save(torch.from_numpy(arr).t(), tmp_path / "v.dgm")
    np.testing.assert_array_equal(torch.load(tmp_path / "v.dgm").numpy(), arr.T)
    x = torch.ones(2, requires_grad=True) * 2  # a non-leaf: comes back as a leaf needing grad
    save(x, tmp_path / "g.dgm")
    g = torch.load(str(tmp_path / "g.dgm"), map_location="cpu", weights_only=True)
    assert g.requires_grad and g.is_leaf and g.grad_fn is None
    np.testing.assert_array_equal(g.detach().numpy(), [2.0, 2.0])
    save(torch.ones(2), tmp_path / "n.dgm")
    assert not torch.load(tmp_path / "n.dgm").requires_grad


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def test_module_state_dict_round_trip_and_load_state_dict(tmp_path):
    net = _net()
    sd = net.state_dict()
    save(sd, tmp_path / "w.dgm")
    back = torch.load(tmp_path / "w.dgm", weights_only=True)
    assert isinstance(back, OrderedDict)
    assert list(back) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for k in sd:
        assert back[k].dtype == torch.float32 and not back[k].requires_grad
        np.testing.assert_array_equal(back[k].numpy(), sd[k].numpy())
    # member names are the state dict's keys, readable by other tools
    assert [t["name"] for t in _manifest(tmp_path / "w.dgm")["tensors"]] == list(sd)
    fresh = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    fresh.load_state_dict(back)
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32))
    np.testing.assert_allclose(fresh(x).detach().numpy(), net(x).detach().numpy(), rtol=0, atol=0)


def test_optimizer_state_dict_round_trip_and_resume(tmp_path):
    net = _net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.8, 0.9))
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32))
    for _ in range(2):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    sd = opt.state_dict()
    save(sd, tmp_path / "o.dgm")
    back = torch.load(tmp_path / "o.dgm")
    assert type(back) is dict and list(back) == ["state", "param_groups"]
    assert list(back["state"]) == [0, 1, 2, 3]  # int keys stay ints
    assert back["param_groups"][0]["betas"] == (0.8, 0.9)  # tuples stay tuples
    assert back["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert back["param_groups"][0]["foreach"] is None
    for i, state in sd["state"].items():
        assert list(back["state"][i]) == list(state)
        for k, v in state.items():
            np.testing.assert_array_equal(np.asarray(back["state"][i][k].numpy()),
                                          np.asarray(v.numpy()))
    # resuming from the file takes the same step as the original optimizer
    net2 = _net()
    net2.load_state_dict(net.state_dict())
    opt2 = torch.optim.Adam(net2.parameters(), lr=0.5)
    opt2.load_state_dict(back)
    for model, o in ((net, opt), (net2, opt2)):
        o.zero_grad()
        model(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(net.parameters(), net2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_checkpoint_dict_with_plain_values_and_shared_tensors(tmp_path):
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    ckpt = {"epoch": 7, "loss": 0.25, "best": float("inf"), "nan": float("nan"), "name": "run",
            "flags": [True, None], "model": OrderedDict(a=w, b=w), "graph": {"x": torch.ones(1)},
            "nested": {"deep": {"t": torch.tensor([1, 2], dtype=torch.int64)}}}
    save(ckpt, tmp_path / "c.dgm")
    back = torch.load(tmp_path / "c.dgm")
    assert list(back) == list(ckpt)
    assert (back["epoch"], back["loss"], back["best"], back["name"], back["flags"]) == (
        7, 0.25, float("inf"), "run", [True, None])
    assert back["nan"] != back["nan"]
    assert back["model"]["a"] is back["model"]["b"]  # one tensor saved once, shared on load
    assert len(_manifest(tmp_path / "c.dgm")["tensors"]) == 3
    np.testing.assert_array_equal(back["graph"]["x"].numpy(), [1.0])
    assert back["nested"]["deep"]["t"].dtype == torch.int64


def test_map_location_dict_and_device(tmp_path):
    save({"w": torch.ones(2)}, tmp_path / "m.dgm")
    for loc in ("cpu", torch.device("cpu"), {"cpu": "cpu"}, None):
        assert str(torch.load(tmp_path / "m.dgm", map_location=loc)["w"].device) == "cpu"
    with pytest.raises(TypeError, match="map_location"):
        torch.load(tmp_path / "m.dgm", map_location=lambda s, loc: s)


# ------------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("obj, match", [  # lists, numbers, arrays and modules: see
    # tests/test_save_containers.py
    ({"a": {"b": object()}}, r"\['a'\]\['b'\] of type object"),
    ([1, object()], r"\[1\] of type object"),
    ({"a": np.ones(2, dtype=np.complex64)}, r"\['a'\], a NumPy array of dtype complex64"),
    ({(1, 2): 1}, r"key \(1, 2\) of type tuple"),
    ({"big": 1 << 70}, "outside int64"),
])
def test_save_refuses_what_it_cannot_store(tmp_path, obj, match):
    with pytest.raises(TypeError, match=match):
        save(obj, tmp_path / "x.dgm")
    assert not (tmp_path / "x.dgm").exists()


def test_save_refuses_what_is_not_a_file(tmp_path):
    with pytest.raises(TypeError, match=r"file path .* or a binary file object"):
        save(torch.ones(1), object())


def test_load_rejects_unknown_kind(tmp_path):
    save(torch.ones(2), tmp_path / "t.dgm")
    _edit_manifest(tmp_path / "t.dgm", tmp_path / "bad.dgm",
                   lambda m: m.__setitem__("kind", "pickle"))
    with pytest.raises(SerializationError, match="unknown kind 'pickle'"):
        torch.load(tmp_path / "bad.dgm")


def test_load_rejects_tampered_member(tmp_path):
    save({"w": torch.ones(4)}, tmp_path / "w.dgm")
    src, dst = tmp_path / "w.dgm", tmp_path / "bad.dgm"
    raw = bytearray(src.read_bytes())
    at = raw.find(b"\x00\x00\x80\x3f" * 4)  # the four float32 ones, stored uncompressed
    raw[at + 3] ^= 0x01  # one data byte changed in place: the zip CRC no longer matches
    dst.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="tensors/0.npy"):
        torch.load(dst)
    _rewrite(src, tmp_path / "bad2.dgm", lambda n, d: d[:-4] if n.endswith(".npy") else d)
    with pytest.raises(SerializationError, match="tensors/0.npy"):
        torch.load(tmp_path / "bad2.dgm")


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["metadata"].__setitem__("state_dict", {"dict": [["w", {"tensor": "zz"}]]}),
     "refers to tensor 'zz'"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"dict": [["w", {"pickle": "x"}]]}),
     "expected one of the tags"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"dict": [["w", [1]]]}),
     "found an array"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"dict": [["w", {"tensor": "w"}],
                                                                 ["w", 1]]}),
     "appears twice"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"dict": []}), "not referenced"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"list": [{"tensor": "w"}]}),
     "expected a dict"),
    (lambda m: m["metadata"].pop("state_dict"), "needs the field 'state_dict'"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"float": "1e999"}), "'nan', 'inf'"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"dict": [["w", {"tensor": "w",
                                                                        "device": "bogus:7"}]]}),
     r"metadata\.state_dict\.dict\[0\]\.device: expected a device 'cpu' or 'cuda:N', found "
     r"'bogus:7'"),
    (lambda m: m["metadata"].__setitem__("state_dict", {"dict": [["w", {"tensor": "w",
                                                                        "device": "cuda:-1"}]]}),
     r"expected a device"),
    (lambda m: m["metadata"].__setitem__("epoch", 10 ** 30), "outside the int64 range"),
])
def test_load_rejects_malformed_metadata(tmp_path, edit, match):
    save({"w": torch.ones(2)}, tmp_path / "w.dgm")
    _edit_manifest(tmp_path / "w.dgm", tmp_path / "bad.dgm", edit)
    with pytest.raises(SerializationError, match=match):
        torch.load(tmp_path / "bad.dgm")


def test_load_rejects_deep_nesting(tmp_path):
    node: dict = {"list": []}
    for _ in range(200):
        node = {"list": [node]}
    save({"w": torch.ones(1)}, tmp_path / "w.dgm")
    _edit_manifest(tmp_path / "w.dgm", tmp_path / "bad.dgm",
                   lambda m: m["metadata"].__setitem__("state_dict", node))
    with pytest.raises(SerializationError, match="nested"):
        torch.load(tmp_path / "bad.dgm")


def test_graph_files_still_load_and_refuse_other_map_locations(tmp_path):
    fn = torch.jit.trace(lambda x: x * 2, (torch.ones(3),))
    torch.jit.save(fn, str(tmp_path / "f.dgm"))
    loaded = torch.load(tmp_path / "f.dgm", map_location="cpu")
    np.testing.assert_array_equal(loaded(torch.ones(3)).numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="map_location"):
        torch.load(tmp_path / "f.dgm", map_location="cuda:0")


# ------------------------------------------------------------------ source locations in files

def _sources(path: Path) -> list:
    def walk(nodes):
        for n in nodes:
            yield n.get("meta", {}).get("source")
            for b in n.get("blocks", ()):
                yield from walk(b["nodes"])
    return list(walk(_manifest(path)["graph"]["nodes"]))


def _traced_here():
    return torch.jit.trace(lambda x: (x * 2).sin(), (torch.ones(3),))


def test_saved_source_locations_carry_no_absolute_path(tmp_path, monkeypatch):
    fn = _traced_here()
    here = Path(__file__).resolve()
    assert all(s.startswith(f"{here}:") for s in _sources_of(fn))  # in memory: absolute
    monkeypatch.chdir(tmp_path)  # the test file is outside the cwd: its name only
    fn.save(tmp_path / "a.dgm")
    assert set(_sources(tmp_path / "a.dgm")) == {f"{here.name}:{_line(fn)}"}
    monkeypatch.chdir(here.parent.parent)  # the test file is under the cwd: relative to it
    torch.jit.save(fn, tmp_path / "b.dgm")
    assert set(_sources(tmp_path / "b.dgm")) == {f"tests/{here.name}:{_line(fn)}"}
    loaded = torch.jit.load(tmp_path / "b.dgm")
    loaded.save(tmp_path / "c.dgm")  # relative stays relative
    assert set(_sources(tmp_path / "c.dgm")) == {f"tests/{here.name}:{_line(fn)}"}
    assert "tests/test_save_load.py:" in loaded.code and str(here.parent) not in loaded.code


def _sources_of(fn) -> list:
    return [n.meta.get("source") for n in fn.graph.nodes]


def _line(fn) -> str:
    return _sources_of(fn)[0].rpartition(":")[2]


def test_keep_source_false_strips_source_locations(tmp_path):
    fn = _traced_here()
    fn.save(tmp_path / "a.dgm", keep_source=False)
    torch.jit.save(fn, tmp_path / "b.dgm", keep_source=False)

    @torch.jit.script
    def g(x):
        if x.sum() > 0:
            x = x * 2
        return x
    g(torch.ones(2))
    g.save(tmp_path / "c.dgm", keep_source=False)
    for name in "abc":
        assert _sources(tmp_path / f"{name}.dgm") and not any(_sources(tmp_path / f"{name}.dgm"))
        assert "test_save_load" not in json.dumps(_manifest(tmp_path / f"{name}.dgm"))
    np.testing.assert_allclose(torch.jit.load(tmp_path / "a.dgm")(torch.ones(3)).numpy(),
                               np.sin(np.full(3, 2.0, np.float32)), rtol=1e-6)
    np.testing.assert_array_equal(torch.jit.load(tmp_path / "c.dgm")(torch.ones(2)).numpy(),
                                  [2.0, 2.0])
