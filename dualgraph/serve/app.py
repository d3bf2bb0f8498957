"""The ASGI app (Starlette): KServe v2 endpoints over the served models, and /metrics.

    GET  /v2                              server metadata
    GET  /v2/health/live, /v2/health/ready
    GET  /v2/models/{name}[/versions/1]   inputs and outputs (datatypes; -1 for symbolic dims)
    GET  /v2/models/{name}[/versions/1]/ready
    POST /v2/models/{name}[/versions/1]/infer
    GET  /metrics                         Prometheus text format

Every error is `{"error": message}` with a 4xx/5xx code; a request is checked whole (JSON,
datatypes, shapes against the graph's types, NaN if refused) before it is queued, so a bad one
never reaches a batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any, Iterable, Mapping

import numpy as np

from ._deps import require
from .batcher import Batcher
from .config import ServerConfig
from .errors import ServeError
from .metrics import Metrics
from .model import ServedModel, load_model
from .protocol import HEADER_LENGTH, InferRequest, encode_response, parse_request

log = logging.getLogger("dualgraph.serve")
VERSION = "1"  # every model has the one version its file holds


class ModelServer:
    """The served models, each with its batcher, and the metrics: what the routes call."""

    def __init__(self, models: Iterable[ServedModel], config: ServerConfig) -> None:
        self.config = config
        self.models = {}
        for m in models:
            if m.name in self.models:
                raise ValueError(f"serve: two models are named {m.name!r}; name them with "
                                 "NAME=PATH")
            self.models[m.name] = m
        self.metrics = Metrics(config.max_batch)
        self.batchers = {n: Batcher(m, config, self.metrics) for n, m in self.models.items()}
        for n in self.models:
            self.metrics.touch(n)
        self.closing = False

    def model(self, name: str, version: str | None = None) -> ServedModel:
        model = self.models.get(name)
        if model is None:
            raise ServeError(404, f"no model named {name!r}; this server has "
                                  f"{', '.join(map(repr, self.models)) or 'none'}", "not_found")
        if version is not None and version != VERSION:
            raise ServeError(404, f"model '{name}' has no version {version!r}; it has "
                                  f"{VERSION!r}", "not_found")
        return model

    async def infer(self, model: ServedModel, req: InferRequest) -> tuple:
        """Check a parsed request, queue it, and encode its outputs (body, headers)."""
        ordered = model.check(req.inputs)
        if not self.config.allow_nan:
            _refuse_nonfinite(model, ordered)
        names = [s.name for s in model.outputs]
        wanted = names if req.outputs is None else req.outputs
        for n in wanted:
            if n not in names:
                raise ServeError(400, f"model '{model.name}' has no output named {n!r}; its "
                                      f"outputs are {', '.join(map(repr, names))}")
        outputs = await self.batchers[model.name].submit(ordered)
        by_name = dict(zip(names, outputs))
        return encode_response(model.name, req, wanted, [by_name[n] for n in wanted])

    async def close(self) -> None:
        """Graceful shutdown: not ready any more, every queued request finished."""
        self.closing = True
        for b in self.batchers.values():
            await b.close()


def _refuse_nonfinite(model: ServedModel, ordered: list) -> None:
    for spec, a in zip(model.inputs, ordered):
        if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
            flat = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
            raise ServeError(400, f"model '{model.name}': input '{spec.name}' holds "
                                  f"{a.ravel()[flat]} at flat index {flat}; this server refuses "
                                  "NaN and infinite inputs (allow_nan=False)")


async def _read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ServeError(413, f"the request body of {declared} bytes is over this server's "
                              f"limit of {limit} bytes (max_body_bytes)", "too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServeError(413, f"the request body is over this server's limit of {limit} "
                                  "bytes (max_body_bytes)", "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _routes(server: ModelServer) -> list:
    responses = require("starlette.responses")
    routing = require("starlette.routing")
    JSONResponse, Response = responses.JSONResponse, responses.Response
    from .. import __version__

    def error(exc: ServeError) -> Any:
        headers = {"retry-after": "1"} if exc.status == 503 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)

    async def metadata(request: Any) -> Any:
        return JSONResponse({"name": "dualgraph", "version": __version__,
                             "extensions": ["binary_tensor_data", "model_metrics"]})

    async def live(request: Any) -> Any:
        return JSONResponse({"live": True})

    async def ready(request: Any) -> Any:
        ok = not server.closing
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    async def model_metadata(request: Any) -> Any:
        try:
            model = server.model(request.path_params["name"], request.path_params.get("version"))
        except ServeError as exc:
            return error(exc)
        return JSONResponse(model.metadata())

    async def model_ready(request: Any) -> Any:
        try:
            model = server.model(request.path_params["name"], request.path_params.get("version"))
        except ServeError as exc:
            return error(exc)
        ok = not server.closing
        return JSONResponse({"name": model.name, "ready": ok}, status_code=200 if ok else 503)

    async def infer(request: Any) -> Any:
        start, label, code, reason = time.perf_counter(), "_unknown", 200, None
        try:
            model = server.model(request.path_params["name"], request.path_params.get("version"))
            label = model.name
            body = await _read_body(request, server.config.max_body_bytes)
            req = parse_request(model.name, body, request.headers.get(HEADER_LENGTH))
            payload, headers = await server.infer(model, req)
            return Response(payload, headers=headers)
        except ServeError as exc:
            code, reason = exc.status, exc.reason
            return error(exc)
        except Exception as exc:  # noqa: BLE001 - a server bug: answer 500, keep serving
            log.exception("dualgraph serve: internal error on %s", request.url.path)
            code, reason = 500, "internal"
            return error(ServeError(500, f"internal server error: {type(exc).__name__}: {exc}",
                                    "internal"))
        finally:
            server.metrics.answered(label, code, time.perf_counter() - start, reason)

    async def metrics(request: Any) -> Any:
        body, content_type = server.metrics.render()
        return Response(body, headers={"content-type": content_type})

    Route = routing.Route
    routes = [Route("/v2", metadata), Route("/v2/health/live", live),
              Route("/v2/health/ready", ready), Route("/metrics", metrics)]
    for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [Route(base, model_metadata), Route(base + "/ready", model_ready),
                   Route(base + "/infer", infer, methods=["POST"])]
    return routes


def build_models(models: Any, opt_level: int) -> list:
    """Served models from paths (`PATH`, `NAME=PATH`), a {name: path or function} mapping, or
    ServedModels; each loaded and probed once (a load failure raises the loader's error)."""
    from ..jit.function import GraphFunction
    if isinstance(models, (str, os.PathLike)):
        models = [models]
    items = models.items() if isinstance(models, Mapping) else [(None, m) for m in models]
    out = []
    for name, m in items:
        if isinstance(m, ServedModel):
            out.append(m)
        elif isinstance(m, GraphFunction):
            served = ServedModel(name or m._name, m)
            served.probe_batching()
            out.append(served)
        elif isinstance(m, (str, os.PathLike)):
            path = os.fspath(m)
            out.append(load_model(path if name is None else f"{name}={path}", opt_level))
        else:
            raise TypeError(f"serve: a model is a path, NAME=PATH or a compiled function, got "
                            f"{type(m).__name__}")
    if not out:
        raise ValueError("serve: no models given")
    return out


def create_app(models: Any, config: ServerConfig | None = None, **options: Any) -> Any:
    """An ASGI app serving `models` (see build_models) with KServe's v2 protocol. `options` are
    ServerConfig's fields (max_batch=64, max_delay_ms=5, workers=1, ...). The app's lifespan
    shutdown finishes queued requests; `app.state.server` is the ModelServer."""
    applications = require("starlette.applications")
    exceptions = require("starlette.exceptions")
    JSONResponse = require("starlette.responses").JSONResponse
    if config is None:
        config = ServerConfig(**options)
    elif options:
        raise TypeError("create_app(): give a ServerConfig or options, not both")
    server = ModelServer(build_models(models, config.opt_level), config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        await server.close()

    async def http_error(request: Any, exc: Any) -> Any:
        return JSONResponse({"error": f"{request.method} {request.url.path}: {exc.detail}"},
                            status_code=exc.status_code)

    app = applications.Starlette(routes=_routes(server), lifespan=lifespan,
                                 exception_handlers={exceptions.HTTPException: http_error})
    app.state.server = server
    return app
