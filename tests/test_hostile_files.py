"""Hostile `.dgm` files: loading and running a file executes nothing from it, refuses what it
cannot check with a SerializationError naming the field, and stays within bounded time and memory.

The injection test walks the manifest of real files (a traced module with state, a symbolic
batch, a data-dependent size, a named constant, a string attribute, a dict output and a write-back;
a scripted function with a loop and an if) and plants, one at a time, a payload in every string
of it — each value and each object key — then loads the file, reads `.code`, calls it, and runs
`dualgraph show` and `dualgraph run` on it. The payloads create a marker file if any of them is
ever executed; the marker must never appear.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import cli, nn
from dualgraph.ir.errors import DualgraphError
from dualgraph.serialize import SerializationError, UnsafeFileError, read_dgm
from dualgraph.serialize.common import MAX_JSON_VALUES


# ------------------------------------------------------------------------------ the files

class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("calls", dg.zeros(()))
        self.table = dg.arange(20, dtype=dg.float32).reshape(4, 5)  # a constant named `c0`

    def forward(self, x):
        self.calls.add_(1)  # a write-back (graph.meta.mutations)
        h = dg.nn.functional.gelu(self.fc(x), approximate="tanh")  # a string attribute
        idx = dg.nonzero(h > 0)  # a data-dependent size symbol (u0)
        return {"y": h.sum(1), "pair": (x @ self.table, idx.float().sum())}


@dg.jit.script
def _loopy(x, n: int):
    for _ in range(n):
        if x.sum() > 0:
            x = x * 0.5
        else:
            x = x + 1.0
    return x


def _traced(path: Path) -> Path:
    dg.manual_seed(0)
    dg.jit.trace(_Net(), dg.randn(2, 4), dynamic_dims={0: "B"}).save(path)
    return path


def _scripted(path: Path) -> Path:
    _loopy(dg.ones(3), 2)
    _loopy.save(path)
    return path


BASES = {"traced": (_traced, [np.ones((2, 4), np.float32)]),
         "scripted": (_scripted, [np.ones(3, np.float32), np.array(2)])}


def _payloads(marker: Path, every: bool = False) -> list:
    """Strings that create `marker` if they ever reach Python source unescaped (line breaks of
    each kind, quotes, comments, a def), and names that are not identifiers. The walk over every
    field uses the first four; targeted tests use them all."""
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    some = [f"x\n    {code}", f"x; {code}", "class", ""]
    more = [f"x\r    {code}", f"x\r\n{code}", f"x\x0c{code}", f"x\u2028{code}", f"x\x85{code}",
            f'"""\n{code}\n"""', f"#\n{code}", f"f(*a):\n    {code}\n    return a\ndef g", "5"]
    return some + more if every else some


def _unzip(path: Path) -> tuple[dict, dict]:
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    return json.loads(members.pop("manifest.json")), members


def _write(path: Path, manifest: dict, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _sites(obj, path=()):
    """(JSON path, "key" | "value") for every string in a parsed JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path + (k,), "key"
            yield from _sites(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _sites(v, path + (i,))
    elif isinstance(obj, str):
        yield path, "value"


def _planted(manifest: str, path: tuple, kind: str, payload: str) -> dict:
    """The JSON text `manifest` parsed, with the string at `path` (a value, or a key) set to
    `payload`."""
    m = json.loads(manifest)
    parent = m
    for k in path[:-1]:
        parent = parent[k]
    if kind == "value":
        parent[path[-1]] = payload
    else:
        items = list(parent.items())
        parent.clear()
        parent.update((payload if k == path[-1] else k, v) for k, v in items)
    return m


def _get(manifest: dict, path: tuple):
    for k in path:
        manifest = manifest[k]
    return manifest


def _cli(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(list(args))


def _command(command, *args) -> bool:
    """Run what a `dualgraph` command runs (without argparse, which is slow): True when it
    succeeds, False when it fails as `cli.main` reports a failure."""
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return command(*args) == 0
        except (DualgraphError, OSError, RuntimeError, ValueError):
            return False


def _inputs(fn) -> list:
    """Inputs that fit the loaded function's user inputs (symbolic dims of size 2)."""
    g = fn.graph
    return [dg.from_numpy(np.ones([2 if isinstance(d, str) else d for d in v.type.shape],
                                  dtype=v.type.dtype.np))
            for v in g.inputs[:g.meta.get("user_inputs", len(g.inputs))]]


# ------------------------------------------------------------------------ code injection

@pytest.mark.parametrize("base", sorted(BASES))
def test_a_payload_in_any_string_field_never_runs(tmp_path, base):
    make, arrays = BASES[base]
    manifest, members = _unzip(make(tmp_path / "base.dgm"))
    text = json.dumps(manifest)
    marker = tmp_path / "PWNED"
    inputs = []
    for k, a in enumerate(arrays):
        np.save(tmp_path / f"in{k}.npy", a, allow_pickle=False)
        inputs.append(str(tmp_path / f"in{k}.npy"))
    sites = list(_sites(manifest))
    assert len(sites) > 100  # the walk reaches every part of the format
    loaded = refused = 0
    for path, kind in sites:
        original = path[-1] if kind == "key" else _get(manifest, path)
        for payload in _payloads(marker)[:4 if kind == "value" else 2]:
            where = f"{'.'.join(map(str, path))} ({kind}) = {payload!r}"
            f = _write(tmp_path / "hostile.dgm", _planted(text, path, kind, payload), members)
            try:
                fn = dg.load(f)
            except SerializationError as exc:
                refused += 1
                msg = str(exc)
                assert msg.startswith(str(f)), where
                named = [str(c) for c in path if isinstance(c, str)] + [original]
                if payload.isprintable() and payload:
                    named.append(payload)
                assert any(n in msg for n in named), f"{where}: {msg[:300]}"
                assert not _command(cli.show, str(f)), where
            else:
                loaded += 1
                assert "__import__" not in "".join(
                    line.split("#")[0] for line in fn.code.splitlines()), where
                fn(*_inputs(fn))
                assert _command(cli.show, str(f)), where
                _command(cli.run, str(f), inputs, None)
            assert not marker.exists(), f"the payload ran: {where}"
    assert loaded and refused


CODE_SITES = [("metadata", "name"), ("graph", "name"), ("graph", "nodes", 2, "meta", "source"),
              ("graph", "inputs", 0, "type", "shape", 0),  # the symbol B
              ("graph", "nodes", 5, "outputs", 0, "type", "shape", 0),  # nonzero's u0
              ("graph", "nodes", 7, "meta", "tensor"),  # the constant's name
              ("graph", "nodes", 3, "attrs", "approximate")]


@pytest.mark.parametrize("site", CODE_SITES, ids=lambda p: ".".join(map(str, p)))
def test_every_payload_in_the_fields_that_reach_generated_code(tmp_path, site):
    """The strings that codegen once pasted into source, each payload, the real command line."""
    manifest, members = _unzip(_traced(tmp_path / "base.dgm"))
    text, marker = json.dumps(manifest), tmp_path / "PWNED"
    np.save(tmp_path / "x.npy", np.ones((2, 4), np.float32))
    for payload in _payloads(marker, every=True):
        f = _write(tmp_path / "hostile.dgm", _planted(text, site, "value", payload), members)
        try:
            fn = dg.load(f)
        except SerializationError as exc:
            key = next(k for k in reversed(site) if isinstance(k, str))
            assert key in str(exc) or payload.isprintable() and payload in str(exc), \
                str(exc)[:300]
        else:
            fn.code, fn(dg.ones(2, 4))
        assert _cli("show", str(f)) in (0, 1)
        assert _cli("run", str(f), "--input", str(tmp_path / "x.npy")) in (0, 1)
        assert not marker.exists(), payload


def _source_file(tmp_path: Path, payload: str) -> Path:
    manifest, members = _unzip(_traced(tmp_path / "base.dgm"))
    manifest["graph"]["nodes"][2]["meta"]["source"] = payload
    return _write(tmp_path / "hostile.dgm", manifest, members)


@pytest.mark.parametrize("line_break", ["\n", "\r", "\r\n", "\x0c", "\u2028", "\x00"])
def test_a_source_comment_with_a_line_break_is_escaped_not_refused(tmp_path, line_break):
    marker = tmp_path / "PWNED"
    payload = f"model.py:3{line_break}    __import__('pathlib').Path({str(marker)!r}).touch()"
    f = _source_file(tmp_path, payload)
    with pytest.raises(SerializationError, match=r"graph\.nodes\[2\] \(addmm\)\.meta\.source"):
        dg.load(f)  # refused at load: a source location is a printable string
    assert _cli("run", str(f)) == 1 and not marker.exists()


def test_a_printable_source_comment_stays_a_comment(tmp_path):
    marker = tmp_path / "PWNED"
    payload = f"model.py:3 # \"\"\" '; __import__('pathlib').Path({str(marker)!r}).touch()"
    fn = dg.load(_source_file(tmp_path, payload))
    # the addmm node (at O3 its matmul core, which keeps the node's source)
    line = next(ln for ln in fn.code.splitlines() if "k_addmm" in ln or "k_matmul" in ln)
    assert line.endswith("  # " + payload)  # after the code, on the node's own line
    fn(dg.ones(2, 4))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["5", "", "class", "x\ny", "f(a0):\n    pass\ndef g",
                                  "a b", "None", 5, None, ["f"]])
def test_function_names_must_be_identifiers(tmp_path, name):
    manifest, members = _unzip(_traced(tmp_path / "base.dgm"))
    manifest["metadata"]["name"] = name
    with pytest.raises(SerializationError, match=r"metadata\.name"):
        dg.load(_write(tmp_path / "m.dgm", manifest, members))
    manifest["metadata"]["name"] = "forward"
    manifest["graph"]["name"] = name
    with pytest.raises(SerializationError, match=r"graph\.name"):
        dg.load(_write(tmp_path / "g.dgm", manifest, members))


@pytest.mark.parametrize("symbol", ["B\n    x = 1", "B\r", "B\u2028", "", "B" * 300])
@pytest.mark.parametrize("site", ["input", "fresh"])
def test_symbol_names_must_be_printable(tmp_path, symbol, site):
    manifest, members = _unzip(_traced(tmp_path / "base.dgm"))
    g = manifest["graph"]
    if site == "input":
        g["inputs"][0]["type"]["shape"][0] = symbol
        at = r"graph\.inputs\[0\]\.type\.shape\[0\]"
    else:  # nonzero's data-dependent count
        g["nodes"][5]["outputs"][0]["type"]["shape"][0] = symbol
        at = r"graph\.nodes\[5\] \(nonzero\)\.outputs\[0\]\.type\.shape\[0\]"
    with pytest.raises(SerializationError, match=at):
        dg.load(_write(tmp_path / "m.dgm", manifest, members))


# ------------------------------------------------------------------- typed fields at load

def _edited(tmp_path: Path, edit, base=_traced) -> Path:
    manifest, members = _unzip(base(tmp_path / "base.dgm"))
    edit(manifest)
    return _write(tmp_path / "edited.dgm", manifest, members)


def _meta(**fields):
    return lambda m: m["graph"]["meta"].update(fields)


def _attr(node: int, **attrs):
    return lambda m: m["graph"]["nodes"][node]["attrs"].update(attrs)


@pytest.mark.parametrize("edit,field", [
    (_meta(user_inputs="x"), r"graph\.meta\.user_inputs: expected an integer"),
    (_meta(user_inputs=7), r"graph\.meta\.user_inputs: is 7, but the graph has 4 inputs"),
    (_meta(params="w"), r"graph\.meta\.params: expected an array"),
    (_meta(params=["a"]), r"graph\.meta\.params: names 1 state inputs"),
    (_meta(n_user_outputs=-1), r"graph\.meta\.n_user_outputs: is -1"),
    (_meta(out_tree=["set", []]), r"graph\.meta\.out_tree: expected null or \[kind, items\]"),
    (_meta(out_tree=["tuple", [None]]), r"graph\.meta\.out_tree: has 1 leaves, but the graph "
                                        r"has 3 user outputs"),
    (_meta(out_tree=["dict", [[1.5, None], ["b", None], ["c", None]]]),
     r"graph\.meta\.out_tree\[1\]\[0\]: expected a \[key, tree\] pair"),
    (_meta(mutations="x"), r"graph\.meta\.mutations: expected an array"),
    (_meta(mutations=[]), r"graph\.meta\.mutations: lists 0 write-backs"),
    (_meta(mutations=[["state", 9, "inplace"]]), r"graph\.meta\.mutations\[0\]\[1\]: state "
                                                 r"index 9 is out of range"),
    (_meta(mutations=[["input", 0, "assign"]]), r"graph\.meta\.mutations\[0\]: only a state"),
    (_meta(mutations=[["state", 0, "inplace"]]), r"graph\.meta\.mutations\[0\]: writes back"),
    (_meta(mutations=[["state", 2]]), r"graph\.meta\.mutations\[0\]: expected \[kind, index, "
                                      r"how\]"),
    (_meta(fresh="1"), r"graph\.meta\.fresh: expected an integer"),
    (_attr(0, alpha="abc"), r"graph\.nodes\[0\] \(add\)\.attrs\.alpha: expected a number"),
    (_attr(0, alpha=[1]), r"graph\.nodes\[0\] \(add\)\.attrs\.alpha: expected a number"),
    (_attr(3, approximate=1), r"graph\.nodes\[3\] \(gelu\)\.attrs\.approximate: expected a "
                              r"string"),
    (_attr(6, keepdim=1), r"graph\.nodes\[6\] \(sum\)\.attrs\.keepdim: expected a bool"),
    (_attr(6, dim={"dtype": "float32"}), r"`%6 = sum\(%3\) \{dim=float32.*the op's meta function "
                                         r"rejects its inputs"),
    (_attr(6, bogus=1), r"graph\.nodes\[6\] \(sum\)\.attrs: unknown attribute 'bogus'"),
    (_attr(0, alpha=10 ** 30), r"integer 1000000000000000000000000000000 is outside the int64"),
    (lambda m: m["metadata"].update(big=10 ** 30), r"outside the int64 range"),
    (lambda m: m["metadata"].update(big=-(2 ** 63) - 1), r"outside the int64 range"),
    (lambda m: m["graph"]["inputs"][0]["type"]["shape"].__setitem__(1, -4),
     r"graph\.inputs\[0\]\.type\.shape\[1\]: a dim must be non-negative"),
    (lambda m: m["graph"]["outputs"].__setitem__(0, 1.5), r"graph\.outputs\[0\]: a compiled "
                                                          r"function returns tensors"),
    (lambda m: m["graph"]["nodes"][2].update(meta={"source": 7}),
     r"graph\.nodes\[2\] \(addmm\)\.meta\.source: expected a string"),
])
def test_fields_and_attributes_are_type_checked_at_load(tmp_path, edit, field):
    with pytest.raises(SerializationError, match=field):
        dg.load(_edited(tmp_path, edit))


def test_a_node_of_a_huge_size_is_refused_at_load(tmp_path):
    manifest = {"format": "dualgraph", "format_version": 1, "producer": "x", "kind": "graph",
                "graph": {"name": "f", "inputs": [], "nodes": [
                    {"op": "full", "version": 1, "inputs": [],
                     "attrs": {"size": {"tuple": [0, 2 ** 62]}, "fill_value": 1.0},
                     "outputs": [{"name": "0", "type": {"dtype": "float32",
                                                        "shape": [0, 2 ** 62],
                                                        "device": "cpu"}}]}],
                    "outputs": [{"value": "0"}], "tensors": {}, "meta": {}},
                "tensors": [], "metadata": {"name": "f"}}
    with pytest.raises(UnsafeFileError, match=r"graph\.nodes\[0\] \(full\)\.outputs\[0\]\.type"
                                              r"\.shape: .* at most 1099511627776"):
        dg.load(_write(tmp_path / "full.dgm", manifest, {}))


# ------------------------------------------------------------------------- denial of service

def _unbind_file(path: Path, n: int) -> Path:
    t = {"dtype": "float32", "shape": [n], "device": "cpu"}
    manifest = {"format": "dualgraph", "format_version": 1, "producer": "x", "kind": "graph",
                "graph": {"name": "f", "inputs": [{"name": "x", "type": t}], "nodes": [
                    {"op": "unbind", "version": 1, "inputs": [{"value": "x"}],
                     "attrs": {"dim": 0}, "outputs": [{"name": "0", "type": dict(t, shape=[])}]}],
                    "outputs": [{"value": "0"}], "tensors": {}, "meta": {}},
                "tensors": [], "metadata": {"name": "f"}}
    return _write(path, manifest, {})


def _measured(fn) -> tuple[float, float]:
    """(seconds, peak MiB of Python allocations) of `fn()`."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn()
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
    return seconds, peak


def test_an_op_whose_output_count_follows_from_a_huge_dim_is_refused_cheaply(tmp_path):
    f = _unbind_file(tmp_path / "unbind.dgm", 10 ** 7)
    assert f.stat().st_size < 1000
    errors = []

    def load():
        with pytest.raises(SerializationError) as info:
            dg.load(f)
        errors.append(str(info.value))
    seconds, peak = _measured(load)
    assert seconds < 1.0 and peak < 20, (seconds, peak)  # was 13 s and 1.5 GB
    assert "gives at least 2 outputs, but the node has 1" in errors[0]
    assert len(errors[0]) < 2000


def test_a_manifest_of_millions_of_empty_objects_is_refused_before_parsing(tmp_path):
    body = b"[" + b"{}," * 21_000_000 + b"{}]"  # 63 MB
    f = tmp_path / "objects.dgm"
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr("manifest.json", body)
    del body
    errors = []

    def load():
        with pytest.raises(UnsafeFileError) as info:
            read_dgm(f)
        errors.append(str(info.value))
    seconds, peak = _measured(load)
    # reading the 63 MB member takes two copies of it; parsing it took +1.6 GB
    assert seconds < 10 and peak < 200, (seconds, peak)
    assert f"at most {MAX_JSON_VALUES} are read" in errors[0]


def test_strings_full_of_brackets_do_not_count_as_values(tmp_path):
    manifest, members = _unzip(_traced(tmp_path / "base.dgm"))
    manifest["metadata"]["note"] = "[{," * (MAX_JSON_VALUES // 2)
    fn = dg.load(_write(tmp_path / "m.dgm", manifest, members))
    assert fn(dg.ones(2, 4))["y"].shape == (2,)


def test_deep_nesting_is_refused(tmp_path):
    manifest, members = _unzip(_traced(tmp_path / "base.dgm"))
    text = json.dumps(manifest).replace('"metadata": {', '"metadata": {"deep": ' +
                                        "[" * 100_000 + "]" * 100_000 + ", ", 1)
    f = tmp_path / "deep.dgm"
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr("manifest.json", text)
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(SerializationError, match="nested too deeply"):
        dg.load(f)


def test_the_cli_refuses_a_hostile_file_with_one_line_in_a_fresh_process(tmp_path):
    marker = tmp_path / "PWNED"
    f = _source_file(tmp_path, f"x\n    __import__('pathlib').Path({str(marker)!r}).touch()")
    np.save(tmp_path / "x.npy", np.ones((2, 4), np.float32))
    done = subprocess.run([sys.executable, "-m", "dualgraph.cli", "run", str(f), "--input",
                           str(tmp_path / "x.npy")], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent)))
    assert done.returncode == 1 and "meta.source" in done.stderr
    assert "Traceback" not in done.stderr and not marker.exists()
