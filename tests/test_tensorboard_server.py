"""The real TensorBoard server reads what SummaryWriter wrote: scalars, histograms, text, the
graph, an embedding and hyperparameter trials come back through its HTTP data API.

The server is the `tensorboard` program of the installed package, started on 127.0.0.1 on a
free port, polled (bounded) until it has loaded the run, and always stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.compat.proto.graph_pb2 import GraphDef

import dualgraph as dg
from dualgraph import nn
from dualgraph.utils.tensorboard import SummaryWriter

STARTUP_S = 90  # first start of the server (imports, the data server's launch), generous for CI
POLL_S = 0.25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tensorboard_command() -> list:
    """The installed `tensorboard` program beside this interpreter, else its module."""
    program = shutil.which("tensorboard", path=os.path.dirname(sys.executable))
    return [program] if program else [sys.executable, "-m", "tensorboard.main"]


@contextmanager
def tensorboard_server(logdir):
    port = free_port()
    cmd = tensorboard_command() + ["--logdir", str(logdir), "--host", "127.0.0.1",
                                   "--port", str(port), "--reload_interval", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        proc.stdout.close()


def get(base: str, path: str, **query) -> bytes:
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(proc, fetch, done, what: str):
    """Poll `fetch()` until `done(result)` (connection errors while the server starts are
    expected) and return the result; fail with the server's output if it exits or the time
    runs out."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tensorboard exited ({proc.returncode}): {proc.stdout.read().decode()}")
        try:
            result = fetch()
            if done(result):
                return result
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(POLL_S)
    pytest.fail(f"tensorboard did not serve {what} within {STARTUP_S} s")


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(5, 2)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def test_tensorboard_serves_what_the_writer_logged(tmp_path):
    losses = [1.0 / (k + 1) for k in range(20)]
    weights = np.random.default_rng(0).normal(size=500)
    with SummaryWriter(tmp_path / "mlp") as w:
        for step, loss in enumerate(losses):
            w.add_scalar("train/loss", loss, step, walltime=2000.0 + step)
        w.add_scalar("train/lr", 0.1, 0)
        w.add_histogram("fc1/weight", weights, 3)
        w.add_text("note", "hello *TensorBoard*", 1)
        w.add_graph(Net(), dg.randn(4, 6))
        embedded = np.random.default_rng(1).normal(size=(7, 3)).astype(np.float32)
        w.add_embedding(embedded, metadata=[f"p{i}" for i in range(7)], tag="feat")
        for name, lr, opt, acc in (("t1", 0.1, "sgd", 0.75), ("t2", 0.01, "adam", 0.5)):
            w.add_hparams({"lr": lr, "opt": opt, "nesterov": opt == "sgd"},
                          {"hparam/accuracy": acc}, {"opt": ["sgd", "adam"]}, run_name=name)
    with tensorboard_server(tmp_path) as (base, proc):
        tags = wait_for(proc, lambda: json.loads(get(base, "/data/plugin/scalars/tags")),
                        lambda t: "train/lr" in t.get("mlp", {}), "the scalars' tags")
        assert set(tags["mlp"]) == {"train/loss", "train/lr"}
        points = json.loads(get(base, "/data/plugin/scalars/scalars", run="mlp",
                                tag="train/loss"))
        assert [p[1] for p in points] == list(range(20))
        assert [p[0] for p in points] == [2000.0 + k for k in range(20)]
        np.testing.assert_allclose([p[2] for p in points], losses, rtol=1e-7)

        histograms = json.loads(get(base, "/data/plugin/histograms/histograms", run="mlp",
                                    tag="fc1/weight"))
        (wall, step, buckets), = histograms
        assert step == 3 and sum(b[2] for b in buckets) == pytest.approx(500)
        assert buckets[0][0] == pytest.approx(weights.min()) and \
            buckets[-1][1] == pytest.approx(weights.max())

        text = json.loads(get(base, "/data/plugin/text/text", run="mlp",
                              tag="note/text_summary"))
        assert text[0]["step"] == 1 and "<em>TensorBoard</em>" in text[0]["text"]

        graph = text_format.Parse(get(base, "/data/plugin/graphs/graph", run="mlp").decode(),
                                  GraphDef())
        nodes = {n.name: n for n in graph.node}
        assert {"input/x", "fc1/weight", "fc1/bias", "fc1/addmm", "relu/relu", "fc2/addmm",
                "output/0"} <= set(nodes)
        assert list(nodes["relu/relu"].input) == ["fc1/addmm"]
        assert nodes["fc2/addmm"].attr["type"].s == b"f32[4, 2]"

        assert "mlp" in json.loads(get(base, "/data/plugin/projector/runs"))
        served = np.frombuffer(get(base, "/data/plugin/projector/tensor", run="mlp",
                                   name="feat:00000"), dtype=np.float32)
        np.testing.assert_array_equal(served.reshape(7, 3), embedded)
        labels = get(base, "/data/plugin/projector/metadata", run="mlp", name="feat:00000")
        assert labels.decode().splitlines() == [f"p{i}" for i in range(7)]

        query = {"experimentName": "", "allowedStatuses": ["STATUS_SUCCESS"], "startIndex": 0,
                 "sliceSize": 10, "colParams": [{"hparam": "lr"}, {"hparam": "opt"},
                                                {"hparam": "nesterov"},
                                                {"metric": {"tag": "hparam/accuracy"}}]}
        groups = wait_for(proc, lambda: post(base, "/data/plugin/hparams/session_groups",
                                             query)["sessionGroups"],
                          lambda g: len(g) == 2, "both hyperparameter trials")
        experiment = post(base, "/data/plugin/hparams/experiment", {"experimentName": ""})
        assert {(h["name"], h["type"]) for h in experiment["hparamInfos"]} == {
            ("lr", "DATA_TYPE_FLOAT64"), ("opt", "DATA_TYPE_STRING"),
            ("nesterov", "DATA_TYPE_BOOL")}
        assert [m["name"]["tag"] for m in experiment["metricInfos"]] == ["hparam/accuracy"]
        assert sorted((g["name"], g["hparams"]["lr"], g["hparams"]["opt"],
                       g["hparams"]["nesterov"], g["metricValues"][0]["value"])
                      for g in groups) == [("mlp/t1", 0.1, "sgd", True, 0.75),
                                           ("mlp/t2", 0.01, "adam", False, 0.5)]
