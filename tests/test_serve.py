"""dualgraph.serve in process: the ASGI app driven by httpx's ASGITransport (a real HTTP client
API over the app's ASGI interface), every answer checked against the model run locally."""

from __future__ import annotations

import asyncio
import json
import threading

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import nn

httpx = pytest.importorskip("httpx")  # the serve extra; CI installs it (README's test command)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from dualgraph.serve import ServeError, ServerConfig, ServedModel, create_app  # noqa: E402
from dualgraph.serve._deps import require  # noqa: E402


class TwoInputs(nn.Module):
    """Token ids (INT64) and a per-row scale; two named outputs (a dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb, self.lin = nn.Embedding(10, 4), nn.Linear(4, 2)

    def forward(self, ids, scale):
        h = self.emb(ids).sum(1) * scale
        return {"logits": self.lin(h), "hidden": h}


def make_net(seed: int = 0):
    dg.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
    return dg.jit.trace(net, dg.randn(4, 1, 8, 8), dynamic_dims={0: "B"})


def make_models(folder) -> dict:
    """Saved .dgm files: net (batchable), two (two inputs, dict outputs), fixed (no batch dim),
    mixing (keeps the batch dim but mixes rows)."""
    dg.manual_seed(1)
    paths = {"net": folder / "net.dgm", "two": folder / "two.dgm",
             "fixed": folder / "fixed.dgm", "mixing": folder / "mixing.dgm"}
    make_net().save(paths["net"])
    dg.jit.trace(TwoInputs().eval(), (dg.zeros(5, 3, dtype=dg.long), dg.ones(5, 1)),
                 dynamic_dims={0: "B"}).save(paths["two"])
    w = dg.randn(3, 3)
    dg.jit.trace(lambda x: (x @ w).tanh(), dg.randn(2, 3)).save(paths["fixed"])
    dg.jit.trace(lambda x: x - x.mean(0), dg.randn(4, 3), dynamic_dims={0: "B"}).save(
        paths["mixing"])
    return paths


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return make_models(tmp_path_factory.mktemp("serve"))


def local(path, *arrays):
    """The model run locally on one request's inputs: the reference every answer must equal."""
    with dg.no_grad():
        out = dg.jit.load(path)(*[dg.from_numpy(a) for a in arrays])
    if isinstance(out, dict):
        return {k: v.numpy() for k, v in out.items()}
    return out.numpy()


def tensor(name, a, datatype=None) -> dict:
    datatype = datatype or {"float32": "FP32", "int64": "INT64", "float64": "FP64"}[a.dtype.name]
    return {"name": name, "shape": list(a.shape), "datatype": datatype,
            "data": a.ravel().tolist()}


def drive(app, body):
    """Run `body(client)` against `app` inside its lifespan (startup, then graceful shutdown)."""
    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
                return await body(client)
    return asyncio.run(main())


def output(response, name="output0") -> np.ndarray:
    assert response.status_code == 200, response.text
    for o in response.json()["outputs"]:
        if o["name"] == name:
            return np.array(o["data"], dtype=np.float32).reshape(o["shape"])
    raise AssertionError(f"no output {name} in {response.text[:200]}")


# ----------------------------------------------------------------------------------- metadata

def test_server_model_metadata_and_health(models):
    app = create_app([str(p) for p in models.values()])

    async def body(c):
        server = (await c.get("/v2")).json()
        assert server["name"] == "dualgraph" and "binary_tensor_data" in server["extensions"]
        assert (await c.get("/v2/health/live")).json() == {"live": True}
        assert (await c.get("/v2/health/ready")).status_code == 200
        net = (await c.get("/v2/models/net")).json()
        assert net["platform"] == "dualgraph"
        assert net["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 8, 8]}]
        assert net["outputs"] == [{"name": "output0", "datatype": "FP32", "shape": [-1, 10]}]
        assert net["parameters"]["dynamic_batching"] is True
        two = (await c.get("/v2/models/two/versions/1")).json()
        assert [(i["name"], i["datatype"], i["shape"]) for i in two["inputs"]] == [
            ("ids", "INT64", [-1, 3]), ("scale", "FP32", [-1, 1])]
        assert [o["name"] for o in two["outputs"]] == ["logits", "hidden"]
        fixed = (await c.get("/v2/models/fixed")).json()
        assert fixed["inputs"][0]["shape"] == [2, 3]
        assert fixed["parameters"]["dynamic_batching"] is False
        mixing = (await c.get("/v2/models/mixing")).json()
        assert "not independent" in mixing["parameters"]["batching_off"]
        assert (await c.get("/v2/models/net/ready")).json() == {"name": "net", "ready": True}
        missing = await c.get("/v2/models/nope")
        assert missing.status_code == 404 and "'net'" in missing.json()["error"]
        assert (await c.get("/v2/models/net/versions/2")).status_code == 404
        wrong_method = await c.get("/v2/models/net/infer")
        assert wrong_method.status_code == 405 and "error" in wrong_method.json()
    drive(app, body)


# ------------------------------------------------------------------------------------ infer

def test_infer_json_id_outputs_selection_and_nested_data(models):
    app = create_app({"net": models["net"], "two": models["two"]})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
    ids = rng.integers(0, 10, (2, 3)).astype(np.int64)
    scale = rng.standard_normal((2, 1)).astype(np.float32)

    async def body(c):
        r = await c.post("/v2/models/net/infer",
                         json={"id": "req-7", "inputs": [tensor("input", x)]})
        assert r.json()["id"] == "req-7" and r.json()["model_name"] == "net"
        np.testing.assert_allclose(output(r), local(models["net"], x), rtol=1e-5, atol=1e-6)
        nested = {"inputs": [{"name": "input", "shape": [3, 1, 8, 8], "datatype": "FP32",
                              "data": x.tolist()}]}
        r = await c.post("/v2/models/net/infer", json=nested)
        assert "id" not in r.json()
        np.testing.assert_allclose(output(r), local(models["net"], x), rtol=1e-5, atol=1e-6)
        want = local(models["two"], ids, scale)
        r = await c.post("/v2/models/two/infer", json={
            "inputs": [tensor("scale", scale), tensor("ids", ids)],  # any order
            "outputs": [{"name": "hidden"}]})
        assert [o["name"] for o in r.json()["outputs"]] == ["hidden"]
        np.testing.assert_allclose(output(r, "hidden"), want["hidden"], rtol=1e-5, atol=1e-6)
        r = await c.post("/v2/models/two/infer", json={
            "inputs": [tensor("ids", ids), tensor("scale", scale)]})
        np.testing.assert_allclose(output(r, "logits"), want["logits"], rtol=1e-5, atol=1e-6)
        r = await c.post("/v2/models/two/infer", json={
            "inputs": [tensor("ids", ids), tensor("scale", scale)], "outputs": [{"name": "y"}]})
        assert r.status_code == 400 and "no output named 'y'" in r.json()["error"]
        assert "'logits', 'hidden'" in r.json()["error"]
    drive(app, body)


def test_concurrent_requests_are_batched_and_split_back_exactly(models):
    app = create_app({"net": models["net"]}, max_batch=16, max_delay_ms=200, threads=1)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((1 + i % 3, 1, 8, 8)).astype(np.float32) for i in range(24)]

    async def body(c):
        rs = await asyncio.gather(*[c.post("/v2/models/net/infer", json={
            "id": str(i), "inputs": [tensor("input", x)]}) for i, x in enumerate(xs)])
        return rs, (await c.get("/metrics")).text

    responses, metrics = drive(app, body)
    for i, (x, r) in enumerate(zip(xs, responses)):
        assert r.json()["id"] == str(i)
        np.testing.assert_allclose(output(r), local(models["net"], x), rtol=1e-5, atol=1e-6)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics) for s in f.samples}
    calls = samples[("dualgraph_batch_requests_count", (("model", "net"),))]
    assert samples[("dualgraph_batch_requests_sum", (("model", "net"),))] == 24
    assert calls < 24  # requests shared calls
    assert samples[("dualgraph_batch_size_sum", (("model", "net"),))] == sum(len(x) for x in xs)
    assert samples[("dualgraph_inference_requests_total",
                    (("code", "200"), ("model", "net")))] == 24


def test_models_without_batching_still_answer_each_request_alone(models):
    app = create_app({"fixed": models["fixed"], "mixing": models["mixing"]}, max_delay_ms=50)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((2 + i % 2, 3)).astype(np.float32) for i in range(8)]
    fixed_x = rng.standard_normal((2, 3)).astype(np.float32)

    async def body(c):
        mixed = await asyncio.gather(*[c.post("/v2/models/mixing/infer", json={
            "inputs": [tensor("x", x)]}) for x in xs])
        fixed = await c.post("/v2/models/fixed/infer", json={"inputs": [tensor("x", fixed_x)]})
        wrong = await c.post("/v2/models/fixed/infer", json={"inputs": [tensor("x", xs[1])]})
        return mixed, fixed, wrong

    mixed, fixed, wrong = drive(app, body)
    for x, r in zip(xs, mixed):  # batched together these would be centred on the wrong mean
        np.testing.assert_allclose(output(r), local(models["mixing"], x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(output(fixed), local(models["fixed"], fixed_x), rtol=1e-5,
                               atol=1e-6)
    assert wrong.status_code == 400 and "f32[2, 3]" in wrong.json()["error"]


def test_a_request_the_model_fails_on_fails_alone_in_its_batch(models):
    app = create_app({"two": models["two"]}, max_delay_ms=200)
    good = np.array([[1, 2, 3]], np.int64)
    bad = np.array([[1, 2, 30]], np.int64)  # the embedding has 10 rows
    scale = np.ones((1, 1), np.float32)

    async def body(c):
        return await asyncio.gather(*[c.post("/v2/models/two/infer", json={
            "inputs": [tensor("ids", ids), tensor("scale", scale)]})
            for ids in (good, bad, good, good)])

    rs = drive(app, body)
    assert rs[1].status_code == 400
    assert "IndexError: index out of range in self" in rs[1].json()["error"]  # PyTorch's words
    for r in (rs[0], rs[2], rs[3]):
        np.testing.assert_allclose(output(r, "logits"), local(models["two"], good, scale)["logits"],
                                   rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------- bad input

def _good_net_input() -> dict:
    return {"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": [0.5] * 64}


def _bad(change):
    doc = {"inputs": [_good_net_input()]}
    change(doc)
    return json.dumps(doc).encode()


BAD_REQUESTS = [
    ("malformed JSON", b'{"inputs": [', {}, 400, "not valid JSON"),
    ("not an object", b"[1, 2]", {}, 400, "expected a JSON object, got list"),
    ("no inputs", b'{"id": "x"}', {}, 400, "'inputs' must be a non-empty list"),
    ("wrong input name", _bad(lambda d: d["inputs"][0].update(name="image")), {}, 400,
     "no input named 'image'; its inputs are 'input' (FP32 [-1, 1, 8, 8])"),
    ("input twice", _bad(lambda d: d["inputs"].append(_good_net_input())), {}, 400,
     "input 'input' is given twice"),
    ("wrong datatype", _bad(lambda d: d["inputs"][0].update(datatype="FP64")), {}, 400,
     "input 'input' expected datatype FP32, got FP64"),
    ("unknown datatype", _bad(lambda d: d["inputs"][0].update(datatype="BYTES")), {}, 400,
     "'datatype' \"BYTES\" is a protocol datatype dualgraph has no dtype for"),
    ("data count", _bad(lambda d: d["inputs"][0].update(data=[1.0] * 63)), {}, 400,
     "'data' has 63 values, shape [1, 1, 8, 8] needs 64"),
    ("rank", _bad(lambda d: d["inputs"][0].update(shape=[1, 64])), {}, 400,
     "input 'input' expected f32[B, 1, 8, 8], got f32[1, 64]"),
    ("fixed dim", _bad(lambda d: d["inputs"][0].update(shape=[2, 1, 4, 8])), {}, 400,
     "expected f32[B, 1, 8, 8], got f32[2, 1, 4, 8]"),
    ("negative dim", _bad(lambda d: d["inputs"][0].update(shape=[-1, 1, 8, 8])), {}, 400,
     "'shape' must be a list of at most 32 non-negative integers"),
    ("strings", _bad(lambda d: d["inputs"][0].update(data=["a"] * 64)), {}, 400,
     "datatype FP32 cannot hold strings"),
    ("ragged", _bad(lambda d: d["inputs"][0].update(data=[[1.0], [1.0, 2.0]])), {}, 400,
     "not a flat or evenly nested list"),
    ("id type", _bad(lambda d: d.update(id=5)), {}, 400, "'id' must be a string, got int 5"),
    ("header length", _bad(lambda d: None), {"inference-header-content-length": "9999"}, 400,
     "Inference-Header-Content-Length must be an integer from 0 to the body's"),
    ("binary size", _bad(lambda d: d["inputs"][0].update(
        data=None, parameters={"binary_data_size": 10})), {}, 400,
     "has both 'data' and parameters.binary_data_size"),
    ("binary past end", json.dumps({"inputs": [{**_good_net_input(), "data": None}]}).replace(
        ', "data": null', ', "parameters": {"binary_data_size": 256}').encode(), {}, 400,
     "binary_data_size 256 runs past the body's 0 remaining bytes"),
    ("too large", b'{"inputs": []}' + b" " * 5000, {}, 413, "over this server's limit of 4096"),
]


@pytest.mark.parametrize("what,payload,headers,status,message", BAD_REQUESTS,
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_get_4xx_naming_what_was_wrong(models, what, payload, headers, status,
                                                    message):
    app = create_app({"net": models["net"]}, max_body_bytes=4096)

    async def body(c):
        r = await c.post("/v2/models/net/infer", content=payload, headers=headers)
        ok = await c.post("/v2/models/net/infer", json={"inputs": [_good_net_input()]})
        return r, ok

    r, ok = drive(app, body)
    assert r.status_code == status and message in r.json()["error"], r.text
    assert ok.status_code == 200  # the server keeps serving


def test_type_checks_of_int_inputs_and_symbols_bound_across_inputs(models):
    app = create_app({"two": models["two"]})
    scale = np.ones((2, 1), np.float32)

    async def post(c, ids, scale_):
        return await c.post("/v2/models/two/infer", json={"inputs": [ids, scale_]})

    async def body(c):
        frac = await post(c, {"name": "ids", "shape": [2, 3], "datatype": "INT64",
                              "data": [1.5] * 6}, tensor("scale", scale))
        huge = await post(c, {"name": "ids", "shape": [1, 3], "datatype": "INT64",
                              "data": [2 ** 70, 1, 1]}, tensor("scale", scale[:1]))
        batch = await post(c, tensor("ids", np.ones((3, 3), np.int64)), tensor("scale", scale))
        missing = await c.post("/v2/models/two/infer",
                               json={"inputs": [tensor("scale", scale)]})
        return frac, huge, batch, missing

    frac, huge, batch, missing = drive(app, body)
    assert frac.status_code == 400 and "INT64 cannot hold numbers with a fraction" in frac.text
    assert huge.status_code == 400 and "input 'ids'" in huge.json()["error"]
    assert batch.status_code == 400
    assert "input 'scale' expected f32[B, 1], got f32[2, 1] (already bound by earlier " \
           "inputs: B=3)" in batch.json()["error"]
    assert missing.status_code == 400 and "input 'ids' is missing" in missing.json()["error"]


def test_nan_refused_only_when_asked(models):
    x = np.full((1, 1, 8, 8), 0.25, np.float32)
    x[0, 0, 2, 3] = np.nan
    doc = json.dumps({"inputs": [tensor("input", x)]})  # Python's JSON writes NaN

    async def body(c):
        return await c.post("/v2/models/net/infer", content=doc)

    refused = drive(create_app({"net": models["net"]}, allow_nan=False), body)
    assert refused.status_code == 400
    assert "input 'input' holds nan at flat index 19" in refused.json()["error"]
    allowed = drive(create_app({"net": models["net"]}), body)
    assert allowed.status_code == 200 and np.isnan(output(allowed)).all()


# ------------------------------------------------------------------------------------- binary

def test_binary_tensor_data_extension_both_ways(models):
    app = create_app({"two": models["two"]})
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 10, (4, 3)).astype(np.int64)
    scale = rng.standard_normal((4, 1)).astype(np.float32)
    head = json.dumps({"inputs": [
        {"name": "ids", "shape": [4, 3], "datatype": "INT64",
         "parameters": {"binary_data_size": ids.nbytes}},
        tensor("scale", scale)],  # one JSON input beside a binary one
        "outputs": [{"name": "logits", "parameters": {"binary_data": True}},
                    {"name": "hidden"}]}).encode()
    payload = head + ids.astype("<i8").tobytes()

    async def body(c):
        return await c.post("/v2/models/two/infer", content=payload, headers={
            "inference-header-content-length": str(len(head)),
            "content-type": "application/octet-stream"})

    r = drive(app, body)
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    doc = json.loads(r.content[:n])
    logits_meta, hidden_meta = doc["outputs"]
    assert logits_meta["parameters"]["binary_data_size"] == 4 * 2 * 4 and "data" not in logits_meta
    logits = np.frombuffer(r.content[n:], "<f4").reshape(logits_meta["shape"])
    want = local(models["two"], ids, scale)
    np.testing.assert_allclose(logits, want["logits"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(hidden_meta["data"]).reshape(4, 4), want["hidden"],
                               rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------- backpressure, shutdown

class GatedModel(ServedModel):
    """The real net behind a gate: each call waits for `gate`, so a test decides when the worker
    is busy; `seen` counts the requests that actually ran."""

    def __init__(self, fn) -> None:
        super().__init__("net", fn)
        self.gate, self.seen, self.entered = threading.Event(), [], threading.Event()

    def run(self, ordered):
        self.entered.set()
        assert self.gate.wait(20), "the test never opened the gate"
        self.seen.append(float(ordered[0].ravel()[0]))
        return super().run(ordered)


def _x(value: float) -> dict:
    return {"inputs": [{**_good_net_input(), "data": [value] * 64}]}


async def _until(event: threading.Event) -> None:
    for _ in range(2000):
        if event.is_set():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the worker never started")


def test_full_queue_answers_503_at_once_and_queued_requests_finish():
    model = GatedModel(make_net())
    app = create_app([model], max_queue=2, max_batch=1)

    async def body(c):
        post = lambda v: asyncio.ensure_future(c.post("/v2/models/net/infer", json=_x(v)))  # noqa
        first = post(1.0)
        await _until(model.entered)  # the worker is busy with the first
        queued = [post(2.0), post(3.0)]
        await asyncio.sleep(0.05)
        refused = await asyncio.wait_for(c.post("/v2/models/net/infer", json=_x(4.0)), 2)
        model.gate.set()
        return refused, await first, await asyncio.gather(*queued)

    refused, first, queued = drive(app, body)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "the queue is full (2 requests waiting)" in refused.json()["error"]
    assert first.status_code == 200 and all(r.status_code == 200 for r in queued)
    assert sorted(model.seen) == [1.0, 2.0, 3.0]  # the refused one never ran


def test_request_past_its_timeout_gets_504_and_never_runs():
    model = GatedModel(make_net())
    app = create_app([model], timeout_ms=150, max_batch=1)

    async def body(c):
        first = asyncio.ensure_future(c.post("/v2/models/net/infer", json=_x(1.0)))
        await _until(model.entered)
        late = await c.post("/v2/models/net/infer", json=_x(2.0))
        model.gate.set()
        return late, await first

    late, first = drive(app, body)
    assert late.status_code == 504 and "waited 150 ms in the queue" in late.json()["error"]
    assert first.status_code == 200 and model.seen == [1.0]


def test_graceful_shutdown_finishes_queued_requests_and_refuses_new_ones():
    model = GatedModel(make_net())
    app = create_app([model], max_batch=1)
    server = app.state.server

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as c:
            pending = [asyncio.ensure_future(c.post("/v2/models/net/infer", json=_x(v)))
                       for v in (1.0, 2.0, 3.0)]
            await _until(model.entered)
            closing = asyncio.ensure_future(server.close())
            await asyncio.sleep(0.05)
            ready = await c.get("/v2/health/ready")
            refused = await c.post("/v2/models/net/infer", json=_x(9.0))
            model.gate.set()
            await asyncio.wait_for(closing, 20)
            return ready, refused, await asyncio.gather(*pending)

    ready, refused, done = asyncio.run(main())
    assert ready.status_code == 503
    assert refused.status_code == 503 and "shutting down" in refused.json()["error"]
    assert [r.status_code for r in done] == [200, 200, 200]
    assert sorted(model.seen) == [1.0, 2.0, 3.0]


# ------------------------------------------------------------------------------ set-up errors

def test_configuration_and_load_errors(models, tmp_path):
    with pytest.raises(ValueError, match="max_batch must be an integer of at least 1, got 0"):
        ServerConfig(max_batch=0)
    with pytest.raises(ValueError, match="two models are named 'net'"):
        create_app([str(models["net"]), f"net={models['two']}"])
    broken = tmp_path / "broken.dgm"
    broken.write_bytes(b"not a zip")
    with pytest.raises(dg.serialize.SerializationError, match="broken.dgm"):
        create_app([str(broken)])
    bn = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).train()
    with pytest.raises(ValueError, match="updates its own state"):
        create_app({"bn": dg.jit.trace(bn, dg.randn(4, 3))})


def test_missing_extra_names_it(monkeypatch):
    import sys
    for name in ("starlette", "starlette.applications"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'dualgraph\[serve\]'"):
        require("starlette.applications")


def test_core_imports_none_of_the_serve_extra():
    import subprocess
    import sys
    code = ("import sys, dualgraph, dualgraph.serve, dualgraph.cli; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'prometheus_client') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_serve_error_carries_status():
    err = ServeError(418, "teapot", "odd")
    assert (err.status, err.message, err.reason, str(err)) == (418, "teapot", "odd", "teapot")


def test_batches_group_requests_by_their_other_sizes_and_big_requests_run_alone(tmp_path):
    w = dg.randn(5)
    seq = dg.jit.trace(lambda x: (x.sum(1) * w).tanh(), dg.randn(2, 3, 5),
                       dynamic_dims={0: "B", 1: "T"})
    seq.save(tmp_path / "seq.dgm")
    app = create_app([f"seq={tmp_path / 'seq.dgm'}"], max_batch=4, max_delay_ms=100)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((1 + i % 2, 2 + i % 3, 5)).astype(np.float32) for i in range(12)]
    xs.append(rng.standard_normal((7, 3, 5)).astype(np.float32))  # over max_batch: alone

    async def body(c):
        rs = await asyncio.gather(*[c.post("/v2/models/seq/infer", json={
            "inputs": [tensor("x", x)]}) for x in xs])
        meta = (await c.get("/v2/models/seq")).json()
        assert meta["parameters"]["dynamic_batching"] is True
        assert meta["inputs"][0]["shape"] == [-1, -1, 5]
        return rs, (await c.get("/metrics")).text

    rs, metrics = drive(app, body)
    for x, r in zip(xs, rs):
        np.testing.assert_allclose(output(r), local(tmp_path / "seq.dgm", x), rtol=1e-5,
                                   atol=1e-6)
    rows = [s for f in text_string_to_metric_families(metrics) if f.name == "dualgraph_batch_size"
            for s in f.samples if s.name.endswith("_bucket")]
    over_four = [s.value for s in rows if s.labels["le"] == "4.0"][0]
    total = [s.value for s in rows if s.labels["le"] == "+Inf"][0]
    assert total - over_four == 1  # only the 7-row request made a call of more than 4 rows


def test_model_names_from_paths(tmp_path):
    from dualgraph.serve import load_model
    folder = tmp_path / "run=3"
    folder.mkdir()
    make_net().save(folder / "digits.dgm")
    assert load_model(str(folder / "digits.dgm")).name == "digits"  # an "=" in a folder
    assert load_model(f"clf={folder / 'digits.dgm'}").name == "clf"


def test_cli_declares_serve(capsys):
    from dualgraph.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--max-batch", "--max-delay-ms", "--workers", "--opt-level", "--threads",
                   "--max-queue", "--timeout-ms", "--max-body-mb", "--reject-nan"):
        assert option in text
