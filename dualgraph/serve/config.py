"""The server's settings, checked once: one place for the defaults the CLI and the API share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerConfig:
    """How requests are batched, bounded and checked.

    max_batch: most rows in one batched call (1 turns batching off); max_delay_ms: how long the
    first request of a batch waits for others; workers: inference threads per model (batches run
    in parallel, off the event loop); max_queue: requests waiting per model before answering 503;
    timeout_ms: a request still queued after this long gets 504 and does not run;
    max_body_bytes: larger request bodies get 413; allow_nan: False refuses NaN and infinite
    floats in inputs (400); opt_level: the pass pipeline the loader runs; threads: intra-op
    threads of each call (`dg.set_num_threads` in every worker thread: Numba's per thread, BLAS
    process-wide); None leaves the process's setting. One thread per worker avoids BLAS threads
    fighting over a busy machine's cores, which can make a small matmul 100x slower.
    """

    max_batch: int = 64
    max_delay_ms: float = 5.0
    workers: int = 1
    max_queue: int = 1024
    timeout_ms: float = 30_000.0
    max_body_bytes: int = 64 * 1024 * 1024
    allow_nan: bool = True
    opt_level: int = 3
    threads: int | None = None

    def __post_init__(self) -> None:
        def need(ok: bool, what: str, value: object) -> None:
            if not ok:
                raise ValueError(f"serve: {what}, got {value!r}")
        for name in ("max_batch", "workers", "max_queue", "max_body_bytes"):
            value = getattr(self, name)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                 f"{name} must be an integer of at least 1", value)
        need(isinstance(self.max_delay_ms, (int, float)) and self.max_delay_ms >= 0,
             "max_delay_ms must be a number of at least 0", self.max_delay_ms)
        need(isinstance(self.timeout_ms, (int, float)) and self.timeout_ms > 0,
             "timeout_ms must be a positive number", self.timeout_ms)
        need(self.opt_level in (0, 1, 2, 3), "opt_level must be 0, 1, 2 or 3", self.opt_level)
        need(self.threads is None or (isinstance(self.threads, int) and self.threads >= 1),
             "threads must be None or an integer of at least 1", self.threads)
        need(isinstance(self.allow_nan, bool), "allow_nan must be a bool", self.allow_nan)
