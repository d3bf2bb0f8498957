"""`dualgraph serve` as a real server: a subprocess on 127.0.0.1 (a free port, chosen by the
server from port 0 and printed), loaded by 64 concurrent async HTTP clients with malformed
requests interleaved; every answer must equal the model run locally on that request alone. The
server is always stopped (SIGTERM, then SIGKILL) at the end."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import dualgraph as dg

httpx = pytest.importorskip("httpx")  # the serve extra; CI installs it (README's test command)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from .test_serve import make_models, tensor  # noqa: E402

CLIENTS, REQUESTS = 64, 20


class Server:
    """`python -m dualgraph.cli serve ...` started in a subprocess; `url` once it listens."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dualgraph.cli", "serve", *args, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = None

    def wait_listening(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if m:
                    self.url = m.group(1)
                    break
        assert self.url, f"the server did not start: {self.stop()}"
        while time.monotonic() < deadline:  # the socket is bound; wait until Uvicorn serves
            try:
                if httpx.get(self.url + "/v2/health/ready", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"the server never became ready: {self.stop()}")

    def stop(self, timeout: float = 20) -> str:
        """SIGTERM (graceful), SIGKILL if it lingers; returns its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return make_models(tmp_path_factory.mktemp("served"))


def _malformed(i: int) -> tuple:
    """(body, headers, expected status) of the i-th malformed request (cycling through kinds)."""
    kinds = [
        (b'{"inputs": [{"name": "input"', {}, 400),
        (json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP64",
                                 "data": [0.0] * 64}]}).encode(), {}, 400),
        (json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32",
                                 "data": [0.0] * 64}]}).encode(), {}, 400),
        (json.dumps({"inputs": [{"name": "pixels", "shape": [1, 1, 8, 8], "datatype": "FP32",
                                 "data": [0.0] * 64}]}).encode(), {}, 400),
        (b"x" * (3 << 20), {}, 413),
    ]
    return kinds[i % len(kinds)]


def test_load_test_64_clients_every_answer_is_its_own_request(models):
    net = dg.jit.load(models["net"])
    two = dg.jit.load(models["two"])
    server = Server(str(models["net"]), str(models["two"]), "--max-batch", "64",
                    "--max-delay-ms", "5", "--max-body-mb", "2", "--workers", "2")
    try:
        url = server.wait_listening()
        results = asyncio.run(_load(url))
        with httpx.Client(base_url=url, timeout=10) as c:
            metrics = c.get("/metrics").text
    finally:
        stderr = server.stop()
    assert server.proc.returncode == 0, stderr
    counts = {"ok": 0, "bad": 0}
    for kind, sent, response in results:
        if kind == "bad":
            expected_status = sent
            assert response.status_code == expected_status, response.text
            assert "error" in response.json()
            counts["bad"] += 1
            continue
        assert response.status_code == 200, response.text
        doc = response.json()
        if kind == "net":
            (x,) = sent
            assert doc["id"] == sent_id(x)
            with dg.no_grad():
                want = net(dg.from_numpy(x)).numpy()
            out = doc["outputs"][0]
            got = np.array(out["data"], np.float32).reshape(out["shape"])
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        else:
            ids, scale = sent
            with dg.no_grad():
                want = two(dg.from_numpy(ids), dg.from_numpy(scale))["logits"].numpy()
            got = np.array(doc["outputs"][0]["data"], np.float32).reshape(want.shape)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        counts["ok"] += 1
    assert counts["ok"] + counts["bad"] == CLIENTS * REQUESTS and counts["bad"] > 0
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics) for s in f.samples}
    ok_total = sum(v for (n, labels), v in samples.items()
                   if n == "dualgraph_inference_requests_total" and ("code", "200") in labels)
    assert ok_total == counts["ok"]
    calls = samples[("dualgraph_batch_requests_count", (("model", "net"),))]
    served = samples[("dualgraph_batch_requests_sum", (("model", "net"),))]
    assert calls < served  # concurrent requests were batched


def sent_id(x: np.ndarray) -> str:
    return f"{float(x.ravel()[0]):.9g}"


async def _load(url: str) -> list:
    per_client = await asyncio.gather(*[_client(url, c) for c in range(CLIENTS)])
    return [r for rs in per_client for r in rs]


async def _client(url: str, c: int) -> list:
    """One client (its own connection, as separate users would have) sending REQUESTS requests
    one after another; about one in 29 is malformed."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await _requests(client, c)


async def _requests(client, c: int) -> list:
    rng = np.random.default_rng(100 + c)
    out = []
    for i in range(REQUESTS):
        n = c * REQUESTS + i
        if n % 29 == 5:
            body, headers, status = _malformed(n)
            r = await client.post("/v2/models/net/infer", content=body, headers=headers)
            out.append(("bad", status, r))
        elif n % 5 == 0:
            rows = 1 + n % 3
            ids = rng.integers(0, 10, (rows, 3)).astype(np.int64)
            scale = rng.standard_normal((rows, 1)).astype(np.float32)
            r = await client.post("/v2/models/two/infer", json={
                "inputs": [tensor("ids", ids), tensor("scale", scale)],
                "outputs": [{"name": "logits"}]})
            out.append(("two", (ids, scale), r))
        else:
            x = rng.standard_normal((1 + n % 4, 1, 8, 8)).astype(np.float32)
            r = await client.post("/v2/models/net/infer", json={
                "id": sent_id(x), "inputs": [tensor("input", x)]})
            out.append(("net", (x,), r))
    return out


def test_sigterm_finishes_queued_requests(models):
    server = Server(str(models["net"]), "--max-delay-ms", "1500")
    try:
        url = server.wait_listening()
        x = np.ones((1, 1, 8, 8), np.float32)

        async def main():
            async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                pending = [asyncio.ensure_future(c.post("/v2/models/net/infer", json={
                    "inputs": [tensor("input", x * k)]})) for k in range(5)]
                await asyncio.sleep(0.5)  # they wait in the queue for the batch's 1.5 s
                server.proc.send_signal(signal.SIGTERM)
                return await asyncio.gather(*pending)

        responses = asyncio.run(main())
        assert server.proc.wait(20) == 0
    finally:
        stderr = server.stop()
    assert [r.status_code for r in responses] == [200] * 5, stderr


def test_a_model_that_fails_to_load_stops_the_server_at_start(tmp_path):
    broken = tmp_path / "broken.dgm"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    out = subprocess.run([sys.executable, "-m", "dualgraph.cli", "serve", str(broken),
                          "--port", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "dualgraph serve: error:" in out.stderr and "broken.dgm" in out.stderr
    assert "listening" not in out.stdout
