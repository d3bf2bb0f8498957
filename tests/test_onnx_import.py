"""ONNX import: ONNX's node test suite run against `dg.onnx.load`'s importer (the cases whose ops
the import table maps), round trips through onnxruntime, `dualgraph convert`, fine-tuning an
imported model, and hostile files refused with clear errors."""

import collections
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import dualgraph as dg
import dualgraph.nn.functional as F
import dualgraph.onnx as dgo
from dualgraph import nn
from dualgraph.cli import main
from dualgraph.jit import GraphFunction
from dualgraph.jit.trace import check_round_trip
from dualgraph.onnx.import_table import IMPORT
from dualgraph.tensor import from_array

ort.set_default_logger_severity(3)


@pytest.fixture(scope="module")
def node_suite():
    """Every case of ONNX's node test suite run once: {case name: (outcome, detail)}, the
    outcome 'failed' holding the error of a case that imported but computed a wrong answer."""
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    results, by_op = {}, collections.defaultdict(list)
    for case in cases:
        by_op[case.model.graph.node[-1].op_type].append(case.name)
        try:
            results[case.name] = run_case(case)
        except Exception as exc:  # noqa: BLE001  reported by the test of the case's op
            results[case.name] = ("failed", f"{type(exc).__name__}: {exc}")
    return results, by_op


def _array(a):
    """A case's data as an array (some cases store TensorProtos: float16 and float8 bits)."""
    return onnx.numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else a


def _has_functions(ops):
    """Whether ONNX defines every one of these ops as a function (then they import expanded)."""
    for op in ops:
        try:
            schema = onnx.defs.get_schema(op)
        except Exception:
            return False
        if not (schema.has_function or schema.has_context_dependent_function):
            return False
    return True


def run_case(case):
    """'pass', 'unmapped', 'dtype' or 'refused' (with the importer's reason); asserts the
    outputs of every case that imports."""
    ops = {n.op_type for n in case.model.graph.node}
    if not ops <= set(IMPORT) and not _has_functions(ops - set(IMPORT)):
        return "unmapped", sorted(ops - set(IMPORT))
    names = [i.name for i in case.model.graph.input]
    data = [([_array(a) for a in ins], [_array(a) for a in outs]) for ins, outs in
            case.data_sets]
    if any(not isinstance(a, np.ndarray) or a.dtype == object for ds in data for a in ds[0]):
        return "dtype", "the data hold sequences, optionals, strings or objects"
    # a shape, axes or scales fed as a graph input: dualgraph needs such inputs when
    # compiling, so they are fixed from the case's data (`constants=`): integer inputs first,
    # then small vectors (Resize's scales and roi)
    tries = [None, lambda a: a.dtype.kind in "iub",
             lambda a: a.dtype.kind in "iub" or (a.ndim == 1 and a.size <= 16)]
    try:
        for k, pick in enumerate(tries):
            fixed = {n: a for n, a in zip(names, data[0][0]) if pick and pick(a)}
            try:
                graph, state = dgo.import_model(case.model, case.name, fixed)
                break
            except dgo.UnsupportedOpError as exc:
                if "must be known when importing" not in str(exc) or k == len(tries) - 1:
                    raise
    except dgo.UnsupportedDTypeError as exc:
        return "dtype", str(exc)
    except dgo.OnnxImportError as exc:
        assert case.name in str(exc)  # names the model, node and op
        return ("unmapped" if "is not mapped" in str(exc) else "refused"), str(exc)
    check_round_trip(graph)  # the imported graph prints and parses back, as captured ones do
    fn = GraphFunction(graph, [from_array(np.array(a)) for a in state], name="m", opt_level=0)
    for inputs, outputs in data:
        args = [from_array(np.array(a)) for n, a in zip(names, inputs) if n not in fixed]
        got = fn(*args)
        got = list(got) if isinstance(got, (list, tuple)) else [got]
        for g, w in zip(got, outputs):
            g = g.numpy()
            assert (g.dtype, g.shape) == (w.dtype, w.shape), case.name
            np.testing.assert_allclose(g, w, rtol=case.rtol, atol=case.atol, equal_nan=True,
                                       err_msg=case.name)
    return "pass", ""


@pytest.mark.parametrize("op_type", sorted(IMPORT))
def test_onnx_node_suite_cases_of_each_mapped_op(node_suite, op_type):
    results, by_op = node_suite
    failed = {name: results[name][1] for name in by_op.get(op_type, [])
              if results[name][0] == "failed"}
    assert not failed, failed


def test_onnx_node_suite_counts(node_suite):
    counts = collections.Counter(kind for kind, _ in node_suite[0].values())
    print("\nONNX node test suite against dg.onnx:", dict(counts))
    assert sum(counts.values()) > 1800 and counts["failed"] == 0
    assert counts["pass"] >= 1250


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 128), nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.view(x.shape[0], -1))))


def test_round_trip_export_import_export_gives_onnxruntimes_outputs(tmp_path):
    net = Net()
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    dgo.export(net, dg.randn(4, 1, 28, 28), first, dynamic_shapes={"x": {0: "B"}})
    loaded = dgo.load(first)
    assert loaded.graph_before_passes.inputs[0].type.shape[0] == "B"
    dgo.export(loaded, None, second)
    for batch in (2, 11):
        x = dg.randn(batch, 1, 28, 28)
        want = ort.InferenceSession(str(first)).run(None, {"x": x.numpy()})[0]
        np.testing.assert_allclose(loaded(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)
        again = ort.InferenceSession(str(second)).run(None, {"x": x.numpy()})[0]
        np.testing.assert_allclose(again, want, rtol=1e-6, atol=1e-7)
    ops = lambda p: [n.op_type for n in onnx.load(str(p)).graph.node if n.op_type != "Identity"]
    assert ops(first) == ops(second)


def test_an_imported_model_runs_through_the_passes_and_saves_as_dgm(tmp_path):
    net = Net()
    dgo.export(net, dg.randn(4, 1, 28, 28), tmp_path / "net.onnx",
               dynamic_shapes={"x": {0: "B"}})
    plain, fast = dgo.load(tmp_path / "net.onnx", opt_level=0), dgo.load(tmp_path / "net.onnx")
    x = dg.randn(7, 1, 28, 28)
    want = net(x).detach().numpy()
    np.testing.assert_allclose(fast(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(plain(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    assert "fused" in str(fast.graph) and "fused" not in str(plain.graph)
    fast.save(tmp_path / "net.dgm")
    again = dg.jit.load(tmp_path / "net.dgm")
    np.testing.assert_allclose(again(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_imported_control_flow_runs_as_dualgraph_if_and_loop(tmp_path):
    def control(x, n: int):
        y = x
        for i in range(n):
            y = y * 1.5 + 0.25
        if y.sum() > 0:
            y = y.relu()
        while y.abs().max() > 1.0:
            y = y * 0.5
        return y
    scripted = dg.jit.script(control)
    dgo.export(scripted, (dg.randn(3, 4), 2), tmp_path / "c.onnx", dynamic_shapes={"x": {0: "B"}})
    loaded = dgo.load(tmp_path / "c.onnx")
    ops = loaded.graph_before_passes.op_counts()
    assert ops["loop"] == 2 and ops["if"] == 1
    for batch, n in ((2, 0), (5, 3)):
        x = dg.randn(batch, 4) * 3
        np.testing.assert_allclose(loaded(x, dg.tensor(n)).numpy(), scripted(x, n).numpy(),
                                   rtol=1e-6)


def test_an_imported_mlp_fine_tunes_with_the_originals_gradients(tmp_path):
    dg.manual_seed(0)
    net = Net()
    dgo.export(net, dg.randn(4, 1, 28, 28), tmp_path / "net.onnx",
               dynamic_shapes={"x": {0: "B"}})
    imported = dgo.load(tmp_path / "net.onnx")
    params = imported.state_dict()
    assert sorted(params) == sorted(n for n, _ in net.named_parameters())
    for p in params.values():
        p.requires_grad_(True)
    x, y = dg.randn(16, 1, 28, 28), dg.randint(0, 10, (16,))
    F.cross_entropy(net(x), y).backward()
    F.cross_entropy(imported(x), y).backward()
    for name, p in net.named_parameters():
        np.testing.assert_allclose(params[name].grad.numpy(), p.grad.numpy(), rtol=1e-5,
                                   atol=1e-7, err_msg=name)
    opt = dg.optim.SGD(list(params.values()), lr=0.1)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(imported(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_convert_dgm_to_onnx_and_back(tmp_path, capsys):
    traced = dg.jit.trace(Net(), dg.randn(4, 1, 28, 28), dynamic_dims={0: "B"})
    traced.save(tmp_path / "m.dgm")
    assert main(["convert", str(tmp_path / "m.dgm"), str(tmp_path / "m.onnx")]) == 0
    assert main(["convert", str(tmp_path / "m.onnx"), str(tmp_path / "back.dgm")]) == 0
    x = dg.randn(5, 1, 28, 28)
    back = dg.jit.load(tmp_path / "back.dgm")
    np.testing.assert_allclose(back(x).detach().numpy(), traced(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    np.save(tmp_path / "x.npy", x.numpy())
    assert main(["run", str(tmp_path / "m.onnx"), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), traced(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert main(["convert", str(tmp_path / "m.dgm"), str(tmp_path / "m.txt")]) == 1
    assert ".dgm or .onnx" in capsys.readouterr().err


def test_hostile_or_unsupported_files_are_refused_by_name(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(dgo.OnnxImportError, match="junk.onnx"):
        dgo.load(junk)
    big = tmp_path / "big.onnx"
    big.write_bytes(b"\0" * 2048)
    with pytest.raises(dgo.OnnxImportError, match="more than the 1024"):
        dgo.load(big, max_bytes=1024)
    h = onnx.helper
    x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])
    y = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])
    u8 = [h.make_tensor_value_info(n, onnx.TensorProto.UINT8, [2]) for n in "abc"]
    for node, io, pattern in (
            (h.make_node("BitShift", ["a", "b"], ["c"], name="bs", direction="LEFT"),
             (u8[:2], u8[2:]), r"node 0 'bs' \(BitShift\): the ONNX op BitShift is not mapped"),
            (h.make_node("Pad", ["x", "x"], ["y"]), ([x], [y]),
             r"\(Pad\): input 1 \(pads\) must be known when importing")):
        model = h.make_model(h.make_graph([node], "g", *io),
                             opset_imports=[h.make_opsetid("", 18)])
        onnx.save(model, tmp_path / "m.onnx")
        with pytest.raises(dgo.UnsupportedOpError, match=pattern):
            dgo.load(tmp_path / "m.onnx")
    b16 = h.make_tensor_value_info("x", onnx.TensorProto.BFLOAT16, [2])
    model = h.make_model(h.make_graph([h.make_node("Identity", ["x"], ["y"])], "g", [b16],
                                      [h.make_tensor_value_info("y", onnx.TensorProto.BFLOAT16,
                                                                [2])]),
                         opset_imports=[h.make_opsetid("", 18)])
    onnx.save(model, tmp_path / "b.onnx")
    with pytest.raises(dgo.UnsupportedDTypeError, match="BFLOAT16"):
        dgo.load(tmp_path / "b.onnx")


def test_external_data_round_trips_and_may_only_name_a_file_beside_the_model(tmp_path):
    net = Net()
    path = tmp_path / "ext.onnx"
    dgo.export(net, dg.randn(2, 1, 28, 28), path, external_data=True)
    assert (tmp_path / "ext.onnx.data").stat().st_size > 400_000 > path.stat().st_size
    x = dg.randn(2, 1, 28, 28)
    np.testing.assert_allclose(dgo.load(path)(x).detach().numpy(), net(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(dgo.OnnxImportError, match="exceed the bytes read"):
        dgo.load(path, max_bytes=path.stat().st_size + 1000)
    model = onnx.load(str(path), load_external_data=False)
    for t in model.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = "../ext.onnx.data"
    evil = tmp_path / "evil.onnx"
    onnx.save(model, str(evil))
    with pytest.raises(dgo.OnnxImportError, match="must be a file beside the model"):
        dgo.load(evil)
