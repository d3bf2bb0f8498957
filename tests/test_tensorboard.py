"""dg.utils.tensorboard.SummaryWriter, read back with TensorBoard's own EventAccumulator.

Every value logged is compared with what TensorBoard's reader loads from the event files: scalars
by step and wall time, histograms against NumPy's counts, images and audio decoded (Pillow, the
standard library's `wave`) and compared pixel by pixel and sample by sample with references
built here, PR curves against a brute-force count, hyperparameters through the plugin's parser,
and add_graph's GraphDef node by node.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import time
import wave

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.pr_curve import metadata as pr_metadata
from tensorboard.util import tensor_util

import dualgraph as dg
from dualgraph import nn
from dualgraph.utils.tensorboard import SummaryWriter
from dualgraph.utils.tensorboard.summaries import tensorflow_bins

KEEP_ALL = {"scalars": 0, "histograms": 0, "images": 0, "audio": 0, "tensors": 0,
            "compressedHistograms": 0}


def load(path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def decode_png(encoded: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encoded)))


# ------------------------------------------------------------------------------------ scalars

def test_scalars_every_step_value_and_walltime(tmp_path):
    values = [0.5 * k - 3.25 for k in range(50)]
    with SummaryWriter(tmp_path) as w:
        for step, v in enumerate(values):
            w.add_scalar("loss/train", v, step * 10, walltime=1000.0 + step)
        w.add_scalar("tensor", dg.tensor(2.5, requires_grad=True), 3)  # autograd ignored
        w.add_scalar("numpy", np.float64(1 / 3), 4)
        w.add_scalar("one_elem", np.array([7]), 5)
        w.add_scalar("nostep", 9.0)
        w.add_scalar("tensor_step", 1.5, dg.tensor(6))
    acc = load(tmp_path)
    events = acc.Scalars("loss/train")
    assert [e.step for e in events] == [10 * k for k in range(50)]
    assert [e.value for e in events] == [float(np.float32(v)) for v in values]
    assert [e.wall_time for e in events] == [1000.0 + k for k in range(50)]
    assert [(e.step, e.value) for e in acc.Scalars("tensor")] == [(3, 2.5)]
    assert acc.Scalars("numpy")[0].value == pytest.approx(1 / 3, rel=1e-7)
    assert [(e.step, e.value) for e in acc.Scalars("one_elem")] == [(5, 7.0)]
    assert [(e.step, e.value) for e in acc.Scalars("nostep")] == [(0, 9.0)]
    assert [(e.step, e.value) for e in acc.Scalars("tensor_step")] == [(6, 1.5)]


def test_new_style_scalars_are_tensors_of_the_scalars_plugin(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("f32", 1 / 3, 1, new_style=True)
        w.add_scalar("f64", 1 / 3, 2, new_style=True, double_precision=True)
    acc = load(tmp_path)
    f32, f64 = acc.Tensors("f32")[0], acc.Tensors("f64")[0]
    assert f32.step == 1 and tensor_util.make_ndarray(f32.tensor_proto) == np.float32(1 / 3)
    assert f64.step == 2 and tensor_util.make_ndarray(f64.tensor_proto) == 1 / 3
    assert tensor_util.make_ndarray(f64.tensor_proto).dtype == np.float64
    assert set(acc.PluginTagToContent("scalars")) == {"f32", "f64"}


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalars("run/loss", {"train": step * 1.0, "val": step * 2.0}, step)
    for tag, scale in (("train", 1.0), ("val", 2.0)):
        acc = load(tmp_path / f"run_loss_{tag}")
        assert acc.Tags()["scalars"] == ["run/loss"]
        assert [(e.step, e.value) for e in acc.Scalars("run/loss")] == \
            [(s, s * scale) for s in range(5)]
    assert load(tmp_path).Tags()["scalars"] == []


# --------------------------------------------------------------------------------- histograms

def check_histogram(h, data: np.ndarray) -> None:
    """Statistics equal NumPy's; each bucket i holds the values in [limit[i-1], limit[i])."""
    assert (h.num, h.min, h.max) == (data.size, data.min(), data.max())
    assert h.sum == pytest.approx(data.sum()) and h.sum_squares == pytest.approx(data @ data)
    limits, counts = np.array(h.bucket_limit), np.array(h.bucket)
    assert counts[0] == 0 and counts.sum() == data.size and np.all(np.diff(limits) > 0)
    for i in range(1, len(limits)):
        last = i == len(limits) - 1
        inside = (data >= limits[i - 1]) & ((data <= limits[i]) if last else (data < limits[i]))
        assert counts[i] == inside.sum(), i


def test_histogram_tensorflow_bins_match_numpy_counts(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(0, 2, 5000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", dg.tensor(data.astype(np.float32)), 3)
        w.add_histogram("w", data, 4)
    acc = load(tmp_path)
    first, second = acc.Histograms("w")
    assert (first.step, second.step) == (3, 4)
    check_histogram(second.histogram_value, data)
    check_histogram(first.histogram_value, data.astype(np.float32).astype(np.float64))
    # TensorFlow's buckets: +-1e-12 * 1.1**k
    for limit in filter(None, second.histogram_value.bucket_limit):  # and 0
        k = math.log(abs(limit) / 1e-12) / math.log(1.1)
        assert abs(k - round(k)) < 1e-6, limit
    assert len(tensorflow_bins()) == 2 * 774 + 1


def test_histogram_numpy_rules_counts_and_max_bins(tmp_path):
    data = np.arange(100, dtype=np.float64)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("count", data, 0, bins=10)
        w.add_histogram("auto", data, 0, bins="auto")
        w.add_histogram("merged", data, 0, bins=20, max_bins=5)
        w.add_histogram_raw("raw", min=0, max=3, num=6, sum=9, sum_squares=19,
                            bucket_limits=[1, 2, 3], bucket_counts=[1, 2, 3], global_step=7)
    acc = load(tmp_path)
    count = acc.Histograms("count")[0].histogram_value
    check_histogram(count, data)
    assert list(count.bucket)[1:] == [10] * 10
    check_histogram(acc.Histograms("auto")[0].histogram_value, data)
    merged = acc.Histograms("merged")[0].histogram_value
    check_histogram(merged, data)
    assert list(merged.bucket)[1:] == [20] * 5
    raw = acc.Histograms("raw")[0]
    assert raw.step == 7 and list(raw.histogram_value.bucket) == [1, 2, 3]
    assert (raw.histogram_value.num, raw.histogram_value.sum_squares) == (6, 19)


# ------------------------------------------------------------------------------------- images

def test_images_in_every_layout_decode_to_the_expected_pixels(tmp_path):
    rng = np.random.default_rng(1)
    chw = rng.random((3, 5, 7)).astype(np.float32)
    hwc = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    grey = rng.random((5, 4))
    rgba = rng.random((4, 3, 2))
    batch = rng.random((10, 1, 3, 2))
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", dg.tensor(chw), 1)
        w.add_image("hwc", hwc, 2, dataformats="HWC")
        w.add_image("grey", grey, 3, dataformats="HW")
        w.add_image("rgba", rgba, 4, dataformats="CHW")
        w.add_images("batch", batch, 5)
        w.add_images("nhwc", batch.transpose(0, 2, 3, 1), 6, dataformats="NHWC")
    acc = load(tmp_path)
    as_u8 = lambda a: np.clip(a * 255, 0, 255).astype(np.uint8)  # noqa: E731
    expected_grid = np.zeros((6, 16, 3), np.uint8)  # 10 images, 8 a row: 2 rows x 8 columns
    for i in range(10):
        r, c = divmod(i, 8)
        expected_grid[r * 3:(r + 1) * 3, c * 2:(c + 1) * 2, :] = as_u8(batch[i, 0])[..., None]
    expected = {
        "chw": as_u8(chw.transpose(1, 2, 0)), "hwc": hwc,
        "grey": np.repeat(as_u8(grey)[..., None], 3, axis=2),
        "rgba": as_u8(rgba.transpose(1, 2, 0)), "batch": expected_grid, "nhwc": expected_grid,
    }
    for step, (tag, want) in enumerate(expected.items(), start=1):
        event = acc.Images(tag)[0]
        assert event.step == step
        assert (event.height, event.width) == want.shape[:2]
        np.testing.assert_array_equal(decode_png(event.encoded_image_string), want)


def test_figure_matches_matplotlibs_own_png(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def figure():
        fig = plt.figure(figsize=(2, 1), dpi=50)
        fig.gca().plot([0, 1, 2], [1, 0, 1])
        return fig

    fig = figure()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    want = decode_png(buf.getvalue())[:, :, :3]
    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", fig, 1)
        w.add_figure("figs", [figure(), figure()], 2)
    assert not plt.fignum_exists(fig.number)  # close=True closes it
    acc = load(tmp_path)
    np.testing.assert_array_equal(decode_png(acc.Images("fig")[0].encoded_image_string), want)
    both = decode_png(acc.Images("figs")[0].encoded_image_string)
    np.testing.assert_array_equal(both, np.concatenate([want, want], axis=1))


# -------------------------------------------------------------------------------------- audio

def test_audio_decodes_to_the_clipped_int16_samples(tmp_path):
    t = np.arange(800) / 8000
    clip = 1.2 * np.sin(2 * np.pi * 440 * t)
    with SummaryWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match="clipped"):
            w.add_audio("tone", clip[None, :], 2, sample_rate=8000)
    event = load(tmp_path).Audio("tone")[0]
    assert (event.step, event.sample_rate, event.length_frames) == (2, 8000, 800)
    assert event.content_type == "audio/wav"
    with wave.open(io.BytesIO(event.encoded_audio_string)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 8000)
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(samples, (np.clip(clip, -1, 1) * 32767).astype(np.int16))


# ------------------------------------------------------------------------------- text, hparams

def test_text_is_the_tensor_tag_text_summary(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "**bold** and ünïcode", 4)
        w.add_text("notes", "second", 5)
    acc = load(tmp_path)
    events = acc.Tensors("notes/text_summary")
    assert [(e.step, tensor_util.make_ndarray(e.tensor_proto)[0].decode()) for e in events] == \
        [(4, "**bold** and ünïcode"), (5, "second")]
    assert set(acc.PluginTagToContent("text")) == {"notes/text_summary"}


def test_hparams_write_a_run_of_their_own(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "layers": 3, "opt": "sgd", "nesterov": True},
                      {"hparam/accuracy": 0.93, "hparam/loss": dg.tensor(0.25)},
                      hparam_domain_discrete={"opt": ["sgd", "adam"]}, run_name="trial1",
                      global_step=9)
        w.add_hparams({"lr": 0.2}, {"hparam/accuracy": 0.5})  # default run name: the time
    acc = load(tmp_path / "trial1")
    assert [(e.step, e.value) for e in acc.Scalars("hparam/accuracy")] == [(9, np.float32(.93))]
    assert acc.Scalars("hparam/loss")[0].value == 0.25
    content = acc.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    experiment = hparams_metadata.parse_experiment_plugin_data(
        content[hparams_metadata.EXPERIMENT_TAG])
    infos = {i.name: i for i in experiment.hparam_infos}
    assert {k: i.type for k, i in infos.items()} == {
        "lr": api_pb2.DATA_TYPE_FLOAT64, "layers": api_pb2.DATA_TYPE_FLOAT64,
        "opt": api_pb2.DATA_TYPE_STRING, "nesterov": api_pb2.DATA_TYPE_BOOL}
    assert [v.string_value for v in infos["opt"].domain_discrete.values] == ["sgd", "adam"]
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy", "hparam/loss"]
    start = hparams_metadata.parse_session_start_info_plugin_data(
        content[hparams_metadata.SESSION_START_INFO_TAG])
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["layers"].number_value == 3
    assert start.hparams["opt"].string_value == "sgd" and start.hparams["nesterov"].bool_value
    end = hparams_metadata.parse_session_end_info_plugin_data(
        content[hparams_metadata.SESSION_END_INFO_TAG])
    assert end.status == api_pb2.STATUS_SUCCESS
    others = [p for p in tmp_path.iterdir() if p.is_dir() and p.name != "trial1"]
    assert len(others) == 1 and abs(float(others[0].name) - time.time()) < 600
    assert load(others[0]).Scalars("hparam/accuracy")[0].value == 0.5


# ---------------------------------------------------------------------------------- PR curves

def test_pr_curve_counts_match_a_brute_force_count(tmp_path):
    rng = np.random.default_rng(2)
    labels = rng.random(300) < 0.4
    predictions = np.clip(labels * 0.3 + rng.random(300) * 0.7, 0, 1)
    weights = rng.random(300) + 0.5
    with SummaryWriter(tmp_path) as w:
        w.add_pr_curve("pr", dg.tensor(labels), predictions, 3)
        w.add_pr_curve("weighted", labels, predictions, 4, num_thresholds=11, weights=weights)
    acc = load(tmp_path)
    for tag, n, wt in (("pr", 127, np.ones(300)), ("weighted", 11, weights)):
        event = acc.Tensors(tag)[0]
        got = tensor_util.make_ndarray(event.tensor_proto)
        assert got.shape == (6, n)
        bucket = np.floor(predictions * (n - 1))
        for i in range(n):
            positive = bucket >= i  # predicted positive at threshold i / (n - 1)
            tp, fp = wt[labels & positive].sum(), wt[~labels & positive].sum()
            fn, tn = wt[labels & ~positive].sum(), wt[~labels & ~positive].sum()
            want = [tp, fp, tn, fn, tp / max(tp + fp, 1e-7), tp / max(tp + fn, 1e-7)]
            np.testing.assert_allclose(got[:, i], want, rtol=1e-5, atol=1e-4)
        content = acc.PluginTagToContent(pr_metadata.PLUGIN_NAME)[tag]
        assert pr_metadata.parse_plugin_metadata(content).num_thresholds == n


# --------------------------------------------------------------------------------- embeddings

def test_embedding_projector_files(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
    rng = np.random.default_rng(3)
    points = rng.normal(size=(10, 4))
    images = rng.random((10, 1, 3, 2))
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(dg.tensor(points), metadata=[f"p{i}" for i in range(10)],
                        label_img=images, global_step=7, tag="feat/a")
        w.add_embedding(points[:3], metadata=[[1, "x"], [2, "y"], [3, "z"]],
                        metadata_header=["id", "name"])
    folder = tmp_path / "00007" / "feat%2fa"
    np.testing.assert_array_equal(np.loadtxt(folder / "tensors.tsv", delimiter="\t"), points)
    assert (folder / "metadata.tsv").read_text().splitlines() == [f"p{i}" for i in range(10)]
    sprite = decode_png((folder / "sprite.png").read_bytes())
    assert sprite.shape == (4 * 3, 4 * 2, 3)  # ceil(sqrt(10)) = 4 thumbnails a side
    as_u8 = (np.clip(images * 255, 0, 255)).astype(np.uint8)
    np.testing.assert_array_equal(sprite[3:6, 2:4, 0], as_u8[5, 0])  # row 1, column 1
    assert not sprite[9:, 4:].any()  # the square's unused corner stays black
    second = tmp_path / "00000" / "default"
    assert (second / "metadata.tsv").read_text().splitlines() == ["id\tname", "1\tx", "2\ty",
                                                                    "3\tz"]
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(),
                               ProjectorConfig())
    first, other = config.embeddings
    assert (first.tensor_name, first.tensor_path) == ("feat/a:00007",
                                                      "00007/feat%2fa/tensors.tsv")
    assert first.metadata_path == "00007/feat%2fa/metadata.tsv"
    assert (first.sprite.image_path, list(first.sprite.single_image_dim)) == (
        "00007/feat%2fa/sprite.png", [3, 2])
    assert other.tensor_name == "default:00000" and not other.HasField("sprite")


# -------------------------------------------------------------------------------------- graphs

class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(12, 8)
        self.act = nn.Sequential(nn.ReLU(), nn.Dropout(0.0))
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.flatten(x)))).softmax(-1)


def test_add_graph_scopes_nodes_by_module_path(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_graph(Net(), dg.randn(5, 3, 4))
    graph = load(tmp_path).Graph()
    nodes = {n.name: n for n in graph.node}
    assert nodes["input/x"].op == "Input"
    assert {n for n in nodes if nodes[n].op == "Parameter"} == {
        "fc1/weight", "fc1/bias", "fc2/weight", "fc2/bias"}
    ops = {n: nodes[n].op for n in nodes if nodes[n].op not in ("Input", "Parameter", "Output")}
    assert ops == {"flatten/reshape": "reshape", "fc1/t": "t",
                   "fc1/addmm": "addmm", "act/0/relu": "relu", "fc2/t": "t",
                   "fc2/addmm": "addmm", "softmax": "softmax"}
    assert list(nodes["fc1/addmm"].input) == ["fc1/bias", "flatten/reshape", "fc1/t"]
    assert list(nodes["act/0/relu"].input) == ["fc1/addmm"]
    assert list(nodes["output/0"].input) == ["softmax"]
    addmm = nodes["fc1/addmm"].attr
    assert [d.size for d in addmm["_output_shapes"].list.shape[0].dim] == [5, 8]
    assert addmm["type"].s == b"f32[5, 8]" and addmm["module"].s == b"fc1"
    assert addmm["dtype"].type == 1  # DT_FLOAT
    assert b"test_tensorboard.py" in nodes["softmax"].attr["source"].s
    assert nodes["softmax"].attr["dim"].s == b"-1"


def test_add_graph_of_an_optimized_and_a_traced_function(tmp_path):
    net = Net()
    traced = dg.jit.trace(net, dg.randn(2, 3, 4), dynamic_dims={0: "B"})
    with SummaryWriter(tmp_path / "fused") as w:
        w.add_graph(net, dg.randn(5, 3, 4), opt_level=3)
    with SummaryWriter(tmp_path / "traced") as w:
        w.add_graph(traced)
    fused = {n.name: n for n in load(tmp_path / "fused").Graph().node}
    groups = [n for n in fused if fused[n].op == "fused"]
    assert groups, sorted(fused)
    for name in groups:  # the group's scope holds its body and the fused node itself
        scope = name.rsplit("/", 1)[0]
        body = [n for n in fused if n.startswith(scope + "/body/")]
        assert {fused[n].op for n in body} >= {"BlockInput", "Yield"}
        assert f"{scope}/body/yield" in fused[name].input
    symbolic = {n.name: n for n in load(tmp_path / "traced").Graph().node}
    assert [d.size for d in symbolic["input/x"].attr["_output_shapes"].list.shape[0].dim] == \
        [-1, 3, 4]
    assert symbolic["input/x"].attr["type"].s == b"f32[B, 3, 4]"


def test_add_graph_of_an_already_captured_module_keeps_its_scopes(tmp_path):
    net = Net()
    x = dg.randn(5, 3, 4)
    with SummaryWriter(tmp_path / "traced") as w:
        w.add_graph(dg.jit.trace(net, x, opt_level=0))
    scripted = dg.jit.script(net)
    scripted(x)
    with SummaryWriter(tmp_path / "scripted") as w:
        w.add_graph(scripted.compiled.graph_before_passes)
    for run in ("traced", "scripted"):  # capture recorded the paths: no hooks of add_graph's
        names = {n.name for n in load(tmp_path / run).Graph().node}
        assert {"flatten/reshape", "fc1/addmm", "act/0/relu", "fc2/addmm", "softmax"} <= names


def test_add_graph_control_flow_blocks_are_scopes(tmp_path):
    from dualgraph.ir.text import parse_graph
    g = parse_graph("""graph(%x: f32[3], %n: i64[]) {
  %0 = loop(%n, True, %x) : f32[3] {
    body(%1: int, %2: f32[3]) {
      %3 = sum(%2) {dim=None, keepdim=False, dtype=None} : f32[]
      %4 = gt(%3, 0.0) : bool[]
      %5 = if(%4) : f32[3] {
        then() {
          %6 = mul(%2, 0.5) : f32[3]
          yield (%6)
        }
        else() {
          %7 = add(%2, 1.0) {alpha=1} : f32[3]
          yield (%7)
        }
      }
      yield (True, %5)
    }
  }
  return (%0)
}""")
    with SummaryWriter(tmp_path) as w:
        w.add_graph(g)
    nodes = {n.name: n for n in load(tmp_path).Graph().node}
    assert {n: nodes[n].op for n in nodes} == {
        "input/x": "Input", "input/n": "Input",
        "loop/body/input": "BlockInput", "loop/body/input_1": "BlockInput",
        "loop/body/sum": "sum", "loop/body/gt": "gt",
        "loop/body/if/then/mul": "mul", "loop/body/if/then/yield": "Yield",
        "loop/body/if/else/add": "add", "loop/body/if/else/yield": "Yield",
        "loop/body/if/if": "if", "loop/body/yield": "Yield", "loop/loop": "loop",
        "output/0": "Output"}
    assert list(nodes["loop/body/input_1"].input) == ["input/x"]  # the carried value
    assert list(nodes["loop/body/if/then/mul"].input) == ["loop/body/input_1"]
    assert nodes["loop/body/if/then/mul"].attr["other"].s == b"0.5"
    assert list(nodes["loop/body/if/if"].input) == [
        "loop/body/gt", "loop/body/if/then/yield", "loop/body/if/else/yield"]
    assert list(nodes["loop/loop"].input) == ["input/n", "input/x", "loop/body/yield"]
    assert list(nodes["output/0"].input) == ["loop/loop"]


def test_add_graph_strict_trace_refuses_a_list_output(tmp_path):
    def pair(x):
        return [x * 2, x + 1]
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(RuntimeError, match="use_strict_trace=False"):
            w.add_graph(pair, dg.randn(3))
        w.add_graph(pair, dg.randn(3), use_strict_trace=False, verbose=False)
    assert {n.op for n in load(tmp_path).Graph().node} == {"Input", "mul", "add", "Output"}


# ------------------------------------------------------------------------- the writer itself

def test_purge_step_hides_the_crashed_runs_later_events(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(10):
            w.add_scalar("loss", float(step), step)
    time.sleep(1.1)  # a later event file name (its time stamp is in seconds)
    with SummaryWriter(tmp_path, purge_step=5) as w:
        for step in range(5, 8):
            w.add_scalar("loss", 100.0 + step, step)
    assert [(e.step, e.value) for e in load(tmp_path).Scalars("loss")] == \
        [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 105), (6, 106), (7, 107)]


def test_flush_secs_writes_without_an_explicit_flush(tmp_path):
    w = SummaryWriter(tmp_path, flush_secs=0.2, max_queue=1000)
    try:
        w.add_scalar("x", 1.0, 1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not load(tmp_path).Tags()["scalars"]:
            time.sleep(0.1)
        assert load(tmp_path).Scalars("x")[0].value == 1.0
    finally:
        w.close()


def test_default_log_dir_suffix_and_reopen_after_close(tmp_path, monkeypatch):
    import socket
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1", filename_suffix=".dg")
    assert w.get_logdir().startswith("runs" + os.sep)
    assert w.get_logdir().endswith(f"_{socket.gethostname()}_lr0.1")
    w.add_scalar("a", 1.0, 0)
    w.close()
    w.add_scalar("a", 2.0, 1)  # as in PyTorch, a write after close opens a new event file
    w.close()
    files = sorted(os.listdir(w.get_logdir()))
    assert len(files) == 2 and all(f.startswith("events.out.tfevents.") and f.endswith(".dg")
                                   for f in files)
    # file by file: within one second their names order by a process-wide counter, not time
    values = sorted((e.step, e.value) for f in files
                    for e in load(os.path.join(w.get_logdir(), f)).Scalars("a"))
    assert values == [(0, 1.0), (1, 2.0)]


@pytest.mark.parametrize("call, error, match", [
    (lambda w: w.add_scalar("s", np.ones(3)), ValueError, r"add_scalar\('s'\).*shape \(3,\)"),
    (lambda w: w.add_scalar("s", "1.0"), TypeError, "expected a Tensor, a NumPy array"),
    (lambda w: w.add_scalar("s", 1.0, 1.5), TypeError, "global_step must be an integer"),
    (lambda w: w.add_scalar("", 1.0), TypeError, "tag must be a non-empty str"),
    (lambda w: w.add_histogram("h", []), ValueError, "the values are empty"),
    (lambda w: w.add_histogram("h", [1, np.nan]), ValueError, "NaN"),
    (lambda w: w.add_histogram("h", [1, 2], bins="nope"), ValueError, "bins='nope'"),
    (lambda w: w.add_image("i", np.zeros((3, 4))), ValueError, "needs 3 dimensions"),
    (lambda w: w.add_image("i", np.zeros((2, 4, 4))), ValueError, "1, 3 or 4 channels"),
    (lambda w: w.add_image("i", np.zeros((4, 4, 3)), dataformats="XYZ"), ValueError,
     "dataformats must be"),
    (lambda w: w.add_images("i", np.zeros((3, 4, 4))), ValueError,
     r"add_images\('i'\): dataformats='NCHW' needs 4 dimensions"),
    (lambda w: w.add_images("i", np.zeros((3, 4, 4)), dataformats="CHW"), ValueError,
     "batch dimension N"),
    (lambda w: w.add_audio("a", np.zeros((2, 10))), ValueError, r"shape \(2, 10\)"),
    (lambda w: w.add_audio("a", np.zeros(10), sample_rate=0), ValueError, "sample_rate"),
    (lambda w: w.add_text("t", 3), TypeError, "text_string must be a str"),
    (lambda w: w.add_pr_curve("p", [0, 2], [0.1, 0.2]), ValueError, "labels must be 0 or 1"),
    (lambda w: w.add_pr_curve("p", [0, 1], [0.1, 1.2]), ValueError, r"lie in \[0, 1\]"),
    (lambda w: w.add_pr_curve("p", [0, 1], [0.1]), ValueError, "2 labels but 1 predictions"),
    (lambda w: w.add_hparams({"a": [1]}, {}), ValueError, "hparam 'a'.*got list"),
    (lambda w: w.add_hparams({"a": 1}, {}, {"b": [1]}), ValueError, "keys are in hparam_dict"),
    (lambda w: w.add_hparams({"a": 1}, {}, {"a": ["x"]}), ValueError, "same type"),
    (lambda w: w.add_hparams({"a": 1}, {}, run_name="../up"), ValueError, "run_name"),
    (lambda w: w.add_embedding(np.zeros(3)), ValueError, "mat must be 2-D"),
    (lambda w: w.add_embedding(np.zeros((2, 3)), metadata=["a"]), ValueError,
     "1 metadata rows for 2 points"),
    (lambda w: w.add_graph(Net()), TypeError, "input_to_model is needed"),
    (lambda w: SummaryWriter(w.get_logdir(), purge_step="5"), TypeError,
     "SummaryWriter: purge_step must be an integer"),
    (lambda w: w.add_scalar("s", 1.0, dg.tensor(2.5)), TypeError,
     "global_step must be an integer"),
])
def test_bad_input_is_refused_with_a_clear_error(tmp_path, call, error, match):
    """Each call names the method, the argument and what was expected."""
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(error, match=match):
            call(w)


def test_core_imports_without_tensorboard_and_the_extra_is_named():
    code = ("import sys; import dualgraph, dualgraph.utils; "
            "assert 'tensorboard' not in sys.modules, 'core imported tensorboard'; "
            "sys.modules['tensorboard'] = None\n"
            "try:\n    import dualgraph.utils.tensorboard\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'dualgraph[tensorboard]'" in out.stdout
