"""`dualgraph serve MODEL.dgm [NAME=MODEL2.dgm ...]`: the command's arguments and its run. Imports
nothing of the serve extra until it runs, so `dualgraph --help` works without it."""

from __future__ import annotations

import argparse
from typing import Any

from .config import ServerConfig

_DEFAULTS = ServerConfig()


def add_parser(sub: Any, levels: dict) -> None:
    """Declare `dualgraph serve` on the main command's subparsers."""
    p = sub.add_parser("serve", help="serve .dgm functions over HTTP (KServe v2 protocol)",
                       description="Serve saved functions over HTTP with KServe's v2 (Open "
                                   "Inference) protocol and dynamic batching.")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="a .dgm file (served under its stem) or NAME=PATH")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free one)")
    p.add_argument("--workers", type=int, default=_DEFAULTS.workers,
                   help="inference threads per model (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads per call (BLAS, Numba); default: leave as is")
    p.add_argument("--max-batch", type=int, default=_DEFAULTS.max_batch,
                   help="most rows per batched call; 1 turns batching off (default 64)")
    p.add_argument("--max-delay-ms", type=float, default=_DEFAULTS.max_delay_ms,
                   help="how long a batch waits for more requests (default 5)")
    p.add_argument("--max-queue", type=int, default=_DEFAULTS.max_queue,
                   help="queued requests per model before 503 (default 1024)")
    p.add_argument("--timeout-ms", type=float, default=_DEFAULTS.timeout_ms,
                   help="a request still queued after this gets 504 (default 30000)")
    p.add_argument("--max-body-mb", type=float, default=_DEFAULTS.max_body_bytes / 2 ** 20,
                   help="largest request body in MiB (default 64)")
    p.add_argument("--reject-nan", action="store_true", help="answer 400 to NaN/inf inputs")
    p.add_argument("--log-level", default="warning",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="Uvicorn's log level (default warning)")
    p.add_argument("--opt-level", **levels)


def run(args: argparse.Namespace) -> int:
    """Build the config from the parsed arguments and serve until interrupted."""
    config = ServerConfig(max_batch=args.max_batch, max_delay_ms=args.max_delay_ms,
                          workers=args.workers, max_queue=args.max_queue,
                          timeout_ms=args.timeout_ms,
                          max_body_bytes=max(1, int(args.max_body_mb * 2 ** 20)),
                          allow_nan=not args.reject_nan, opt_level=args.opt_level,
                          threads=args.threads)
    from .server import serve
    serve(args.models, host=args.host, port=args.port, config=config, log_level=args.log_level)
    return 0
