"""Dynamic batching: one queue per model, batches formed on the event loop, run in worker threads.

A request waits in the queue until a worker is free; the batch then takes, in arrival order,
requests with the same sizes past the batch dim, up to `max_batch` rows, waiting at most
`max_delay_ms` after the oldest one arrived for more to come. The batch runs as one call in a
worker thread (the event loop keeps accepting meanwhile) and is split back. Bounds: a full
queue refuses at once (503), a request still queued at its timeout gets 504 and never runs.
A failing batched call is retried request by request, so one bad request fails alone.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from .config import ServerConfig
from .errors import ServeError
from .model import ServedModel


class _Item:
    """A queued request: its arrays in input order, rows, batch key and the future it awaits."""

    __slots__ = ("arrays", "rows", "key", "future", "arrived", "started", "timer")

    def __init__(self, arrays: list, key: tuple, future: asyncio.Future) -> None:
        self.arrays, self.key, self.future = arrays, key, future
        self.rows = arrays[0].shape[0] if arrays and arrays[0].ndim else 1
        self.arrived = time.perf_counter()
        self.started = False
        self.timer: Any = None


class Batcher:
    """The queue and worker threads of one model; `await submit(arrays)` gives its outputs."""

    def __init__(self, model: ServedModel, config: ServerConfig, metrics: Any) -> None:
        self.model, self.config, self.metrics = model, config, metrics
        self.batching = model.batching_off is None and config.max_batch > 1
        self.max_rows = config.max_batch if self.batching else 1
        self._queue: deque = deque()
        self._executor = ThreadPoolExecutor(
            config.workers, thread_name_prefix=f"dualgraph-serve-{model.name}",
            initializer=_set_threads, initargs=(config.threads,))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._free: asyncio.Semaphore | None = None
        self._task: asyncio.Task | None = None
        self._running: set = set()
        self.closing = False

    # ------------------------------------------------------------------------------- submit
    async def submit(self, arrays: list) -> list:
        """Queue one checked request and wait for its outputs (a ServeError on failure)."""
        if self.closing:
            raise ServeError(503, f"model '{self.model.name}': the server is shutting down",
                             "shutting_down")
        self._start()
        if len(self._queue) >= self.config.max_queue:
            raise ServeError(503, f"model '{self.model.name}': the queue is full "
                                  f"({self.config.max_queue} requests waiting); retry later",
                             "queue_full")
        item = _Item(arrays, self.model.batch_key(arrays) if self.batching else (),
                     self._loop.create_future())
        item.timer = self._loop.call_later(self.config.timeout_ms / 1e3, self._expire, item)
        self._queue.append(item)
        self.metrics.queue_depth(self.model.name, len(self._queue))
        self._wake.set()
        try:
            return await item.future
        finally:
            item.timer.cancel()
            if not item.started and item in self._queue:  # the client went away: drop it
                self._queue.remove(item)
                self.metrics.queue_depth(self.model.name, len(self._queue))

    def _expire(self, item: _Item) -> None:
        if not item.started and not item.future.done():
            if item in self._queue:
                self._queue.remove(item)
                self.metrics.queue_depth(self.model.name, len(self._queue))
            item.future.set_exception(ServeError(
                504, f"model '{self.model.name}': the request waited "
                     f"{self.config.timeout_ms:g} ms in the queue without running "
                     "(timeout_ms); it was not run", "timeout"))

    def _start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._free = asyncio.Semaphore(self.config.workers)
            self._task = self._loop.create_task(self._form_batches())

    # ------------------------------------------------------------------------------ batches
    async def _form_batches(self) -> None:
        while True:
            if not self._queue:
                if self.closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._free.acquire()
            await self._gather()
            batch = self._take()
            if not batch:
                self._free.release()
                continue
            task = self._loop.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _gather(self) -> None:
        """Wait until the oldest request's batch is full or it has waited max_delay_ms."""
        if not self._queue or self.max_rows == 1:
            return
        deadline = self._queue[0].arrived + self.config.max_delay_ms / 1e3
        while self._queue and not self.closing:
            first = self._queue[0]
            if sum(i.rows for i in self._queue if i.key == first.key) >= self.max_rows:
                return
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list:
        """Remove the next batch from the queue: the oldest request and those that fit it."""
        batch: list = []
        rows, key = 0, None
        for item in list(self._queue):
            if item.future.done():  # expired or abandoned
                self._queue.remove(item)
                continue
            if key is None:
                key = item.key
            elif item.key != key or rows + item.rows > self.max_rows:
                continue
            self._queue.remove(item)
            item.started = True
            batch.append(item)
            rows += item.rows
            if rows >= self.max_rows:
                break
        self.metrics.queue_depth(self.model.name, len(self._queue))
        return batch

    async def _run(self, batch: list) -> None:
        try:
            now = time.perf_counter()
            for item in batch:
                self.metrics.queued(self.model.name, now - item.arrived)
            self.metrics.batch(self.model.name, sum(i.rows for i in batch), len(batch))
            try:
                results = await self._loop.run_in_executor(
                    self._executor, self._infer, [i.arrays for i in batch])
            except Exception as exc:  # noqa: BLE001 - never leave a request waiting
                results = [_run_error(self.model.name, exc)] * len(batch)
            for item, result in zip(batch, results):
                if item.future.done():
                    continue
                if isinstance(result, BaseException):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
        finally:
            self._free.release()
            self._wake.set()

    def _infer(self, requests: Sequence[list]) -> list:
        """In a worker thread: the batch as one call; on failure, each request alone."""
        start = time.perf_counter()
        try:
            if len(requests) > 1:
                try:
                    return self.model.run_batch(requests)
                except Exception:  # noqa: BLE001 - find the request at fault below
                    pass
            out: list = []
            for arrays in requests:
                try:
                    out.append(self.model.run(arrays))
                except Exception as exc:  # noqa: BLE001 - becomes this request's error
                    out.append(_run_error(self.model.name, exc))
            return out
        finally:
            self.metrics.inference(self.model.name, time.perf_counter() - start)

    # ----------------------------------------------------------------------------- shutdown
    async def close(self) -> None:
        """Refuse new requests, finish every queued and running one, stop the threads."""
        self.closing = True
        if self._task is not None:
            self._wake.set()
            await self._task
            if self._running:
                await asyncio.gather(*list(self._running))
        self._executor.shutdown(wait=True)


def _set_threads(n: int | None) -> None:
    """Each worker thread's intra-op thread count (Numba counts per thread)."""
    if n is not None:
        from .. import set_num_threads
        set_num_threads(n)


def _run_error(model: str, exc: Exception) -> ServeError:
    """A failure of the model on one request: the client's inputs' fault (400) for the errors
    dualgraph raises about values, else an internal error (500)."""
    from ..ir.errors import DualgraphError
    status = 400 if isinstance(exc, (DualgraphError, ValueError, IndexError)) else 500
    return ServeError(status, f"model '{model}' failed on this request: "
                              f"{type(exc).__name__}: {exc}",
                      "model_error" if status == 400 else "internal")
