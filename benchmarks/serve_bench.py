"""Serving throughput and latency of `dualgraph serve`, dynamic batching on and off.

For each model (the tutorials' Net, the examples' CNN, and an MLP 1024-4096-4096-1024 whose
100 MB of weights dominate: a request alone reads them all, a batch reads them once), each mode
(batched: --max-batch 64 --max-delay-ms 5, the defaults; greedy: --max-delay-ms 0, batches of
what queued while the worker computed; unbatched: --max-batch 1), each encoding (JSON, the
binary tensor extension) and 1, 16 and 64 concurrent clients, this runs a real server in a
subprocess and measures requests per second and p50/p99 latency over a fixed time.

    python benchmarks/serve_bench.py                      # every case (about 4 min)
    python benchmarks/serve_bench.py --quick              # 1 s per cell: a smoke run
    python benchmarks/serve_bench.py --models mlp --json out.json

The load generator is a minimal HTTP/1.1 client on asyncio streams (one keep-alive connection per
client, requests encoded once): on a 2-core machine the client shares the CPUs with the server,
and a full client library (httpx costs about 1 ms of CPU per request) would measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CLIENTS = (1, 16, 64)
MODES = {"batched": ["--max-batch", "64", "--max-delay-ms", "5"],   # the defaults
         "greedy": ["--max-batch", "64", "--max-delay-ms", "0"],    # only what queued meanwhile
         "unbatched": ["--max-batch", "1"]}
THREADS = ["--threads", "1"]  # one BLAS/Numba thread per call: no oversubscription


def build_models(folder: str, which: list) -> dict:
    """Trace and save each model with a symbolic batch dim; {name: (path, one request's input)}."""
    import dualgraph as dg
    from dualgraph import nn
    dg.manual_seed(0)
    out = {}
    if "net" in which:
        sys.path.insert(0, os.path.join(ROOT, "examples"))
        from mnist_mlp import Net
        out["net"] = (Net().eval(), (1, 1, 28, 28))
    if "cnn" in which:
        sys.path.insert(0, os.path.join(ROOT, "examples"))
        from digits_cnn import CNN
        out["cnn"] = (CNN().eval(), (1, 28, 28))
    if "mlp" in which:
        out["mlp"] = (nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(), nn.Linear(4096, 4096),
                                    nn.ReLU(), nn.Linear(4096, 1024)).eval(), (1, 1024))
    models = {}
    for name, (module, shape) in out.items():
        example = dg.randn(4, *shape[1:])
        traced = dg.jit.trace(module, example, dynamic_dims={0: "B"})
        path = os.path.join(folder, f"{name}.dgm")
        traced.save(path)
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        models[name] = (path, x, traced.graph.inputs[0].name)
    return models


def request_bytes(model: str, input_name: str, x: np.ndarray, binary: bool) -> bytes:
    """One whole HTTP request, encoded once and sent again and again."""
    if binary:
        head = json.dumps({"inputs": [{"name": input_name, "shape": list(x.shape),
                                       "datatype": "FP32",
                                       "parameters": {"binary_data_size": x.nbytes}}],
                           "parameters": {"binary_data_output": True}}).encode()
        body = head + x.astype("<f4").tobytes()
        extra = f"inference-header-content-length: {len(head)}\r\n" \
                "content-type: application/octet-stream\r\n"
    else:
        body = json.dumps({"inputs": [{"name": input_name, "shape": list(x.shape),
                                       "datatype": "FP32", "data": x.ravel().tolist()}]}).encode()
        extra = "content-type: application/json\r\n"
    return (f"POST /v2/models/{model}/infer HTTP/1.1\r\nhost: bench\r\n{extra}"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


async def _client(port: int, request: bytes, stop_at: float, latencies: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            if status != b"200":
                raise RuntimeError(f"the server answered {head[:12]!r}")
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


async def measure(port: int, request: bytes, clients: int, seconds: float) -> dict:
    warm: list = []
    await asyncio.gather(*[_client(port, request, time.perf_counter() + 0.3, warm)
                           for _ in range(clients)])
    latencies: list = []
    start = time.perf_counter()
    await asyncio.gather(*[_client(port, request, start + seconds, latencies)
                           for _ in range(clients)])
    elapsed = time.perf_counter() - start
    lat = np.sort(np.array(latencies)) * 1e3
    return {"rps": len(lat) / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "requests": len(lat)}


class Server:
    def __init__(self, path: str, mode: list) -> None:
        command = [sys.executable, "-m", "dualgraph.cli", "serve", path, "--port", "0",
                   *THREADS, *mode]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.proc.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.port = int(m.group(1))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="net,cnn,mlp", help="comma-separated: net,cnn,mlp")
    parser.add_argument("--seconds", type=float, default=2.5, help="measured time per cell")
    parser.add_argument("--quick", action="store_true", help="1 s per cell")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--breakdown", action="store_true",
                        help="only the per-request cost of each stage, in process")
    args = parser.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    which = [m.strip() for m in args.models.split(",") if m.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        models = build_models(folder, which)
        if args.breakdown:
            print(breakdown(models))
            return 0
        for name, (path, x, input_name) in models.items():
            for mode, flags in MODES.items():
                server = Server(path, flags)
                try:
                    for binary in (False, True):
                        request = request_bytes(name, input_name, x, binary)
                        for clients in CLIENTS:
                            r = asyncio.run(measure(server.port, request, clients, seconds))
                            r.update(model=name, mode=mode, clients=clients,
                                     encoding="binary" if binary else "json")
                            rows.append(r)
                            print(f"{name:4} {mode:9} {r['encoding']:6} {clients:3} clients: "
                                  f"{r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                                  f"p99 {r['p99_ms']:7.2f} ms", flush=True)
                finally:
                    server.stop()
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def _us(fn, repeat: int = 200) -> float:
    """Median microseconds of `fn()` over 5 rounds of `repeat` calls."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - start) / repeat * 1e6)
    return float(np.median(times))


def breakdown(models: dict) -> str:
    """What one request costs the server, stage by stage, in process (microseconds): reading
    its JSON or binary body, the checks against the graph's types, the model alone (batch of 1,
    and per row in a batch of 64, concatenation and split included), encoding the answer."""
    import dualgraph as dg
    from dualgraph.serve.model import load_model
    from dualgraph.serve.protocol import InferRequest, encode_response, parse_request
    dg.set_num_threads(1)  # as the servers measured above run (THREADS)
    lines = ["| model | parse JSON | parse binary | check | run, batch 1 | run per row, batch 64 "
             "| encode JSON | encode binary |", "|---|" + "---:|" * 7]
    for name, (path, x, input_name) in models.items():
        served = load_model(f"{name}={path}")
        json_body = request_bytes(name, input_name, x, False).split(b"\r\n\r\n", 1)[1]
        binary = request_bytes(name, input_name, x, True)
        head, bin_body = binary.split(b"\r\n\r\n", 1)
        length = re.search(rb"inference-header-content-length: (\d+)", head).group(1).decode()
        req = parse_request(name, json_body, None)
        ordered = served.check(req.inputs)
        outputs = served.run(ordered)
        names = [s.name for s in served.outputs]
        batch = [ordered] * 64
        cells = [_us(lambda: parse_request(name, json_body, None)),
                 _us(lambda: parse_request(name, bin_body, length)),
                 _us(lambda: served.check(req.inputs)),
                 _us(lambda: served.run(ordered), 20),
                 _us(lambda: served.run_batch(batch), 3) / 64,
                 _us(lambda: encode_response(name, req, names, outputs)),
                 _us(lambda: encode_response(name, InferRequest(binary_all=True), names,
                                             outputs))]
        lines.append(f"| {name} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")
    return "\n".join(lines)


def table(rows: list) -> str:
    """Markdown: one line per model, encoding and client count; req/s and p50/p99 ms of each
    mode, and each batching mode's throughput over unbatched."""
    by = {(r["model"], r["encoding"], r["clients"], r["mode"]): r for r in rows}
    modes = [m for m in MODES if any(k[3] == m for k in by)]
    head = "| model | encoding | clients | " + " | ".join(
        f"{m} req/s | p50 | p99" for m in modes)
    ratios = [m for m in modes if m != "unbatched"] if "unbatched" in modes else []
    head += "".join(f" | {m} / unbatched" for m in ratios) + " |"
    lines = [head, "|---|---|" + "---:|" * (1 + 3 * len(modes) + len(ratios))]
    for key in dict.fromkeys(k[:3] for k in by):
        cells = [by.get((*key, m)) for m in modes]
        if None in cells:
            continue
        line = f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(
            f"{c['rps']:.0f} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f}" for c in cells)
        off = by.get((*key, "unbatched"))
        line += "".join(f" | {by[(*key, m)]['rps'] / off['rps']:.2f}" for m in ratios) + " |"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
