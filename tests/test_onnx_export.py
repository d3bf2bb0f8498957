"""ONNX export, checked by ONNX's own checker and shape inference and by onnxruntime: the
tutorials' Net, a CNN and scripted control flow at two batch sizes of one file, every op of the
export table on its registry samples, and the table's coverage of the registry."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import dualgraph as dg
import dualgraph.nn.functional as F
import dualgraph.onnx as dgo
from dualgraph import nn
from dualgraph.ir import registry
from dualgraph.ir.graph import Graph
from dualgraph.ir.types import TensorType, dtype_from_numpy
from dualgraph.jit import run_reference
from dualgraph.onnx.export_table import EXPORT, REFUSED

ort.set_default_logger_severity(3)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 128), nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.view(x.shape[0], -1))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        return self.fc(dg.flatten(F.max_pool2d(F.relu(self.conv(x)), 2), 1))


def control(x, n: int):
    y = x
    for i in range(n):
        y = y * 1.5 + 0.25
    if y.sum() > 0:
        y = y.relu()
    else:
        y = -y
    while y.abs().max() > 1.0:  # data-dependent: an ONNX Loop with no trip count
        y = y * 0.5
    return y


def checked(path):
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    return model, ort.InferenceSession(str(path))


@pytest.mark.parametrize("make", [Net, CNN], ids=["mlp", "cnn"])
@pytest.mark.parametrize("form", ["dynamic_shapes", "dynamic_axes"])
def test_module_exports_and_runs_in_onnxruntime_at_two_batch_sizes(tmp_path, make, form):
    dg.manual_seed(0)
    model = make()
    path = tmp_path / "m.onnx"
    kw = {"dynamic_shapes": {"x": {0: "batch"}}} if form == "dynamic_shapes" else \
        {"dynamic_axes": {"x": {0: "batch"}, "logits": {0: "batch"}}}
    dgo.export(model, dg.randn(8, 1, 28, 28), path, output_names=["logits"], **kw)
    proto, sess = checked(path)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    assert {i.name for i in proto.graph.initializer} >= {n for n, _ in model.named_parameters()}
    for batch in (3, 17):
        x = dg.randn(batch, 1, 28, 28)
        (got,) = sess.run(["logits"], {"x": x.numpy()})
        np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-5, atol=1e-5)


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(8, 16, batch_first=True), nn.Linear(16, 4)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


@pytest.mark.parametrize("case", ["lstm", "transformer"])
def test_lstm_and_transformer_block_export_at_two_batch_sizes(tmp_path, case):
    dg.manual_seed(0)
    if case == "lstm":
        model, x, dyn = LSTMNet(), dg.randn(3, 5, 8), {"x": {0: "B"}}
        shapes = [(2, 5, 8), (6, 5, 8)]
    else:
        model = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        x, dyn = dg.randn(2, 6, 32), {"src": {0: "B", 1: "T"}}
        shapes = [(2, 9, 32), (5, 3, 32)]
    model.eval()
    path = tmp_path / f"{case}.onnx"
    dgo.export(model, x, path, dynamic_shapes=dyn)
    _, sess = checked(path)
    for shape in shapes:
        xx = dg.randn(*shape)
        got = sess.run(None, {sess.get_inputs()[0].name: xx.numpy()})[0]
        np.testing.assert_allclose(got, model(xx).detach().numpy(), rtol=1e-4, atol=1e-5)


class Regularized(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.drop, self.fc = nn.Dropout(0.5), nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        return self.fc(self.drop(dg.flatten(F.relu(self.bn(self.conv(x))), 1)))


def test_modules_export_in_eval_mode_and_keep_their_mode(tmp_path):
    import io
    dg.manual_seed(0)
    model = Regularized()
    model(dg.randn(16, 1, 8, 8))  # training mode: batch statistics move the running ones
    buffer = io.BytesIO()
    dgo.export(model, dg.randn(4, 1, 8, 8), buffer, dynamic_shapes={"x": {0: "B"}})
    assert model.training and model.bn.training
    sess = ort.InferenceSession(buffer.getvalue())
    model.eval()
    x = dg.randn(6, 1, 8, 8)
    np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], model(x).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_scripted_if_for_and_while_become_onnx_if_and_loop(tmp_path):
    path = tmp_path / "control.onnx"
    scripted = dg.jit.script(control)
    dgo.export(scripted, (dg.randn(3, 4), 2), path, dynamic_shapes={"x": {0: "B"}})
    proto, sess = checked(path)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Loop") == 2 and ops.count("If") == 1
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "B"
    rng = np.random.default_rng(1)
    for batch in (3, 9):
        for n in (0, 3):
            x = (rng.standard_normal((batch, 4)) * 4).astype(np.float32)
            for sign in (1, -1):
                (got,) = sess.run(None, {"x": sign * x, "n": np.array(n)})
                want = scripted(dg.from_numpy(sign * x), n).numpy()
                np.testing.assert_allclose(got, want, rtol=1e-6)


def test_compiled_and_loaded_functions_keep_their_own_symbolic_dims(tmp_path):
    traced = dg.jit.trace(Net(), dg.randn(4, 1, 28, 28), dynamic_dims={0: "B"})
    traced.save(tmp_path / "net.dgm")
    loaded = dg.jit.load(tmp_path / "net.dgm")
    for fn in (traced, loaded):
        proto = dgo.export(fn, None, tmp_path / "net.onnx")
        assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "B"
        _, sess = checked(tmp_path / "net.onnx")
        x = dg.randn(6, 1, 28, 28)
        np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], fn(x).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
    static = dg.jit.trace(Net(), dg.randn(4, 1, 28, 28))
    with pytest.raises(ValueError, match="dim 0 of input 'x' is 4"):
        dgo.export(static, None, tmp_path / "s.onnx", dynamic_shapes={"x": {0: "B"}})


def test_dynamic_shapes_forms(tmp_path):
    class Dim:  # what torch.export.Dim gives: an object with a __name__
        def __init__(self, name):
            self.__name__ = name
    net = Net()
    x = dg.randn(4, 1, 28, 28)
    for spec, want in (({"x": (Dim("batch"), None, None, None)}, "batch"),
                       (({0: "n"},), "n"), ({0: {0: "b0"}}, "b0"), ({"x": [0]}, "x_dim_0")):
        proto = dgo.export(net, x, None, dynamic_shapes=spec)
        assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == want
        assert proto.graph.input[0].type.tensor_type.shape.dim[1].dim_value == 1
    proto = dgo.export(net, x, None, dynamic_axes={"x": [0], "output": [0]})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "x_dynamic_axes_1"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == \
        "output_dynamic_axes_1"
    with pytest.raises(ValueError, match="dynamic_shapes names 'y'"):
        dgo.export(net, x, None, dynamic_shapes={"y": {0: "B"}})
    with pytest.raises(ValueError, match="identifier"):
        dgo.export(net, x, None, dynamic_shapes={"x": {0: "batch size"}})


def test_an_op_without_an_onnx_mapping_is_refused_by_name(tmp_path):
    def f(x):
        return dg.linalg.inv(x)
    with pytest.raises(dgo.ExportError, match=r"linalg_inv \(ONNX has no matrix inverse\)"):
        dgo.export(f, dg.randn(3, 3), tmp_path / "inv.onnx")
    with pytest.raises(ValueError, match="opset_version"):
        dgo.export(f, dg.randn(3, 3), None, opset_version=9)


# The registry ops the export table has no entry for. A new op lands here until it is mapped
# (or said to be unexpressible in REFUSED): this list must be kept equal to the registry's.
UNMAPPED = {
    "assert", "binary_cross_entropy", "check_probability", "check_target", "conv2d_input_grad", "conv2d_weight_grad",
    "cumprod", "diag_embed", "diagonal", "diagonal_backward", "embedding_backward", "gcd",
    "gelu_backward",
    "getitem_backward", "index_add", "index_copy", "index_fill", "index_put", "lcm",
    "linalg_inv", "linalg_slogdet", "linalg_solve", "linalg_svd", "list_append",
    "list_get", "list_new", "masked_scatter", "mode", "nll_loss_backward", "put",
    "python_function", "python_function_backward", "random", "randperm", "setitem", "unique",
}


def test_the_registry_ops_without_an_export_entry_are_listed():
    names = {op.name for op in registry.all_ops()}
    assert names - set(EXPORT) == UNMAPPED, "update UNMAPPED (or map the new op)"
    assert set(EXPORT) <= names and set(REFUSED) == UNMAPPED


def _one_node_model(op, sample):
    g = Graph(name="one")
    operands, feeds = [], {}
    for i, a in enumerate(sample.inputs):
        if isinstance(a, np.ndarray):
            a = a.astype(np.float32) if a.dtype == np.float64 else a
            operands.append(g.add_input(TensorType(dtype_from_numpy(a.dtype), a.shape), f"in{i}"))
            feeds[f"in{i}"] = a
        else:
            operands.append(a)
    node = g.add_node(op, operands, sample.attrs)
    g.outputs = list(node.outputs)
    return g, feeds


# samples whose features the table refuses by name (with the reason in the message)
REFUSED_SAMPLES = {("einsum", "broadcast"), ("einsum", "diagonal embedding"), ("index", ""),
                   ("index", "non-adjacent"), ("index", "mask"), ("index", "mask inside")}


@pytest.mark.parametrize("name", sorted(n for n in EXPORT if registry.get(n).samples and
                                        not registry.get(n).control and
                                        not registry.get(n).region))
def test_each_exported_op_matches_dualgraph_in_onnxruntime(name):
    op = registry.get(name)
    rng = np.random.default_rng(0)
    for k, sample in enumerate(op.samples(rng)):
        g, feeds = _one_node_model(op, sample)
        want = run_reference(g, [dg.from_numpy(a) for a in feeds.values()])
        try:
            model = dgo.export_graph(g, [], [])
        except dgo.ExportError:
            assert (name, sample.note) in REFUSED_SAMPLES, f"{name} sample {k} refused"
            continue
        onnx.checker.check_model(model, full_check=True)
        got = ort.InferenceSession(model.SerializeToString()).run(None, feeds)
        for w, o in zip(want, got):
            w = w.numpy()
            assert (o.dtype, o.shape) == (w.dtype, w.shape), f"{name} sample {k}"
            if not op.random:
                np.testing.assert_allclose(o, w, rtol=1e-4, atol=1e-5, equal_nan=True,
                                           err_msg=f"{name} sample {k} ({sample.note})")


def rnn(xs, h, W, U):
    outs = []
    for t in range(xs.shape[0]):
        h = dg.tanh(xs[t] @ W + h @ U)
        outs.append(h)
    return dg.stack(outs)


def test_a_scripted_loop_with_a_scan_output_exports_and_imports(tmp_path):
    scripted = dg.jit.script(rnn)
    rng = np.random.default_rng(0)
    a = lambda *s: dg.from_numpy(rng.standard_normal(s).astype(np.float32))
    path = tmp_path / "rnn.onnx"
    proto = dgo.export(scripted, (a(5, 2, 3), a(2, 4), a(3, 4), a(4, 4)), path,
                       dynamic_shapes={"xs": {0: "T", 1: "B"}, "h": {0: "B"}})
    assert [n.op_type for n in proto.graph.node].count("Loop") == 1
    _, sess = checked(path)
    loaded = dgo.load(path)
    for T, B in ((5, 2), (9, 3)):
        args = (a(T, B, 3), a(B, 4), a(3, 4), a(4, 4))
        want = scripted(*args).numpy()
        got = sess.run(None, {i.name: t.numpy() for i, t in zip(sess.get_inputs(), args)})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(loaded(*args).numpy(), want, rtol=1e-5, atol=1e-6)
