"""Running the app on Uvicorn: `serve()` loads every model first (a file that fails to load stops
here, with the loader's message, before anything listens), binds the socket itself so port 0
picks a free port and the real one is printed, and lets Uvicorn's graceful shutdown (SIGINT,
SIGTERM) finish the requests in flight, then the app's lifespan finishes the queues."""

from __future__ import annotations

import signal
import socket
import sys
import threading
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
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it Nagle's algorithm and delayed ACKs add about 40 ms to every answer
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)  # connections made from now on wait in the backlog until Uvicorn runs
    bound = sock.getsockname()[1]
    names = ", ".join(app.state.server.models)
    print(f"dualgraph serve: listening on http://{host}:{bound} (models: {names})", flush=True)
    for m in app.state.server.models.values():
        if m.batching_off is not None and app.state.server.config.max_batch > 1:
            print(f"dualgraph serve: model '{m.name}' runs one request per call: "
                  f"{m.batching_off}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on",
                                           timeout_graceful_shutdown=30))
    # Uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, into the handlers that were
    # in place before it ran; these no-ops make that shutdown a normal return (exit status 0).
    main = threading.current_thread() is threading.main_thread()  # signals: main thread only
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)
                if main}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(signum: int, frame: Any) -> None:
    """A signal that arrives after the graceful shutdown is already done: nothing left to do."""
