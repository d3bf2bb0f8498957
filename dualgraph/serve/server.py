"""Running the app on Uvicorn: `serve()` loads every model first (a file that fails to load stops
here, with the loader's message, before anything listens), binds the socket itself so port 0
picks a free port and the real one is printed, and lets Uvicorn's graceful shutdown (SIGINT,
SIGTERM) finish the requests in flight, then the app's lifespan finishes the queues."""

from __future__ import annotations

import socket
import sys
from typing import Any

from ._deps import require
from .app import create_app
from .config import ServerConfig


def serve(models: Any, host: str = "127.0.0.1", port: int = 8000,
          config: ServerConfig | None = None, log_level: str = "warning",
          **options: Any) -> None:
    """Serve `models` (paths, NAME=PATH, or a mapping; see create_app) until interrupted.
    Prints `dualgraph serve: listening on http://HOST:PORT` once the socket is bound."""
    uvicorn = require("uvicorn")
    app = create_app(models, config, **options)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    names = ", ".join(app.state.server.models)
    print(f"dualgraph serve: listening on http://{host}:{bound} (models: {names})", flush=True)
    for m in app.state.server.models.values():
        if m.batching_off is not None and app.state.server.config.max_batch > 1:
            print(f"dualgraph serve: model '{m.name}' runs one request per call: "
                  f"{m.batching_off}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on",
                                           timeout_graceful_shutdown=30))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
