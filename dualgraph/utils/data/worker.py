"""Worker processes for `DataLoader(num_workers=N)`, as PyTorch runs them.

The loader's process hands out work and reassembles the order; each worker fetches and collates:

1. Start: N processes (the loader's `multiprocessing_context`, else multiprocessing's default),
   each with its own index queue and one shared result queue. A worker seeds `random`,
   dualgraph and NumPy's legacy global generator from `base_seed + worker_id` (NumPy through
   the SeedSequence hash PyTorch uses), sets what `get_worker_info()` returns, then calls
   `worker_init_fn(worker_id)`.
2. Feed: the loader keeps `prefetch_factor * N` tasks (a batch's indices, tagged by a sequence
   number) outstanding, handed to the workers in turn; results are yielded in sampler order
   (`in_order=False`: as they arrive). An IterableDataset is iterated by every worker on its own
   copy (shard it with `get_worker_info()`); a worker whose copy is exhausted says so and gets no
   more tasks.
3. Errors: an exception in a worker comes back with its traceback and is raised again in the
   loader's process ("Caught ValueError in DataLoader worker process 0. Original Traceback...");
   a worker that dies is reported by pid; `timeout` bounds the wait for one batch.
4. Stop: when the iteration ends, errs or is dropped, workers get a stop message, are joined,
   and are terminated if they do not exit in time; a worker whose loader's process is gone stops
   by itself. `persistent_workers=True` keeps them for the next epoch instead (the iterator is
   reset, each worker rebuilds its fetcher); they stop when the loader is collected or at exit.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.context
import os
import pickle
import queue
import random
import traceback
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

__all__ = ["WorkerInfo", "get_worker_info"]

STATUS_CHECK_INTERVAL = 1.0  # seconds between checks that workers (or their parent) are alive
JOIN_TIMEOUT = 5.0  # seconds a stopping worker gets before it is terminated


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: its id, the number of workers, its
    seed (base_seed + id) and the worker's own copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The current DataLoader worker's WorkerInfo, or None in the main process; datasets use it
    to shard an IterableDataset or to seed other libraries per worker."""
    return _worker_info


# ------------------------------------------------------------------------------ messages

@dataclass(frozen=True)
class _StopIteration:
    """A worker's copy of an IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _Resume:
    """Start a new epoch with persistent workers: rebuild the fetcher, then acknowledge."""


class _WorkerError:
    """An exception raised in a worker, carried back with its formatted traceback."""

    def __init__(self, worker_id: int, exc: BaseException) -> None:
        self.exc_type = type(exc)
        self.where = f"in DataLoader worker process {worker_id}"
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def reraise(self) -> None:
        """Raise the exception again in this process, as PyTorch's ExceptionWrapper does."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:  # KeyError shows repr() of its argument: keep it readable
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # the type takes other arguments: keep the message
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    """A message that a KeyError prints as it is, not as its repr."""

    def __repr__(self) -> str:
        return self


def _pack(worker_id: int, data: Any) -> bytes:
    """A result pickled here, in the worker: a batch that cannot be pickled comes back as an
    error instead of being dropped by the queue's feeder thread (which would hang the loader)."""
    try:
        return pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        err = _WorkerError(worker_id, exc)
        try:
            return pickle.dumps(err, pickle.HIGHEST_PROTOCOL)
        except Exception:  # the exception's own type cannot be pickled: keep its text
            err.exc_type = RuntimeError
            return pickle.dumps(err, pickle.HIGHEST_PROTOCOL)


def _np_seed(base_seed: int, worker_id: int) -> list[int]:
    """NumPy's seed for a worker: the 128-bit SeedSequence state of (worker_id, base_seed),
    equal to PyTorch's `_generate_state`, so `random` and NumPy streams never collide."""
    import numpy as np
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]
    return [int(w) for w in np.random.SeedSequence(words).generate_state(4)]


# ------------------------------------------------------------------------------ the worker

class _Fetcher:
    """Turns one task into one result: a batch of indices (or one index) of a map-style
    dataset, or the next items of this worker's iterator over an IterableDataset."""

    def __init__(self, loader_state: dict) -> None:
        self.s = loader_state
        self.stream = iter(loader_state["dataset"]) if loader_state["iterable"] else None

    def fetch(self, index: Any) -> Any:
        s = self.s
        if self.stream is None:
            if not s["auto_collation"]:
                return s["collate_fn"](s["dataset"][index])
            getitems = getattr(s["dataset"], "__getitems__", None)
            items = getitems(index) if getitems is not None else [s["dataset"][i] for i in index]
            return s["collate_fn"](items)
        if not s["auto_collation"]:
            return s["collate_fn"](next(self.stream))
        items = list(itertools.islice(self.stream, s["batch_size"]))
        if not items or (s["drop_last"] and len(items) < s["batch_size"]):
            raise StopIteration
        return s["collate_fn"](items)


def _worker_loop(state: dict, index_queue: Any, result_queue: Any, done: Any, base_seed: int,
                 worker_id: int, num_workers: int) -> None:
    """A worker process: seed, run worker_init_fn, then answer tasks until told to stop."""
    global _worker_info
    from ... import creation
    import numpy as np
    seed = base_seed + worker_id
    random.seed(seed)
    creation.manual_seed(seed)
    np.random.seed(_np_seed(base_seed, worker_id))
    _worker_info = WorkerInfo(worker_id, num_workers, seed, state["dataset"])
    init_error: _WorkerError | None = None
    fetcher = None
    try:
        if state["worker_init_fn"] is not None:
            state["worker_init_fn"](worker_id)
        fetcher = _Fetcher(state)
    except Exception as exc:
        init_error = _WorkerError(worker_id, exc)
    parent, ended = os.getppid(), False
    try:
        while os.getppid() == parent:  # the loader's process is gone: stop
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            except (EOFError, OSError):  # the loader's end of the queue is gone
                break
            if task is None:
                break
            if isinstance(task, _Resume):
                result_queue.put((task, None))
                ended = False
                try:
                    fetcher = _Fetcher(state)
                except Exception as exc:
                    init_error = _WorkerError(worker_id, exc)
                continue
            if done.is_set() or ended:
                continue
            idx, index = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration as exc:
                    if state["iterable"]:
                        data, ended = _StopIteration(worker_id), True
                    else:
                        data = _WorkerError(worker_id, exc)
                except Exception as exc:
                    data = _WorkerError(worker_id, exc)
            result_queue.put((idx, _pack(worker_id, data)))
            del data, task, index
    except KeyboardInterrupt:  # the loader's process sees it too and stops the workers
        pass
    if done.is_set():
        result_queue.cancel_join_thread()
        result_queue.close()


# --------------------------------------------------------------------- the loader's side

def _base_seed(generator: Any) -> int:
    """A pass's base seed, drawn from the loader's generator (else the global one); worker i
    is seeded with base_seed + i."""
    from ... import creation
    return int(creation.empty((), dtype=creation.int64).random_(generator=generator).item())


def _context(ctx: Any) -> Any:
    """The multiprocessing context a DataLoader's `multiprocessing_context` names."""
    if ctx is None:
        return multiprocessing.get_context()
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got multiprocessing_context={ctx!r}")
        return multiprocessing.get_context(ctx)
    if not isinstance(ctx, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={ctx}")
    return ctx


def _warn_if_too_many(n: int) -> None:
    """PyTorch's warning when more workers are started than the process has CPUs."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cpus is None or n > cpus:
        where = "DataLoader is not able to compute a suggested max number of worker in current " \
                "system." if cpus is None else \
            f"Our suggested max number of worker in current system is {cpus}" + \
            ("" if hasattr(os, "sched_getaffinity") else " (`cpuset` is not taken into account)") \
            + ", which is smaller than what this DataLoader is going to create."
        warnings.warn(f"This DataLoader will create {n} worker processes in total. {where} Please "
                      "be aware that excessive worker creation might get DataLoader running slow "
                      "or even freeze, lower the worker number to avoid potential slowness/freeze "
                      "if necessary.", stacklevel=3)


def _stop_workers(owner: int, workers: list, index_queues: list, result_queue: Any,
                  done: Any) -> None:
    """Tell every worker to stop, join it, terminate the ones that do not exit in time."""
    if os.getpid() != owner:  # a copy of the iterator inherited by a forked process
        return
    done.set()
    for w, q in zip(workers, index_queues):
        if w.is_alive():
            try:
                q.put(None)
            except (OSError, ValueError):
                pass  # its worker is already gone: nothing to tell
    for w in workers:
        w.join(timeout=JOIN_TIMEOUT)
    for q in index_queues:
        q.cancel_join_thread()
        q.close()
    for w in workers:
        if w.is_alive():
            w.terminate()
            w.join()
    result_queue.cancel_join_thread()
    result_queue.close()


class MultiProcessIter:
    """One pass over a DataLoader whose batches `num_workers` processes load (module docstring);
    with persistent workers the loader keeps it and `reset` starts the next epoch."""

    def __init__(self, loader: Any) -> None:
        _warn_if_too_many(loader.num_workers)
        ctx = _context(loader.multiprocessing_context)
        self._n = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        self._iterable = loader._iterable
        base_seed = _base_seed(loader.generator)
        state = {"dataset": loader.dataset, "iterable": loader._iterable,
                 "auto_collation": loader._auto_collation, "collate_fn": loader.collate_fn,
                 "batch_size": loader.batch_size, "drop_last": loader.drop_last,
                 "worker_init_fn": loader.worker_init_fn}
        self._results = ctx.Queue()
        self._done = ctx.Event()
        self._queues: list = []
        self._workers: list = []
        self._finalizer = weakref.finalize(self, _stop_workers, os.getpid(), self._workers,
                                           self._queues, self._results, self._done)
        for wid in range(self._n):
            q = ctx.Queue()
            q.cancel_join_thread()  # never block the loader's exit on an undelivered task
            w = ctx.Process(target=_worker_loop, daemon=True, name=f"dataloader-worker-{wid}",
                            args=(state, q, self._results, self._done, base_seed, wid, self._n))
            w.start()
            self._queues.append(q)
            self._workers.append(w)
        self._sampler = loader._index_sampler
        self.reset(first=True)

    # ------------------------------------------------------------------------ iteration
    def reset(self, first: bool = False) -> None:
        """Start a pass: a fresh sampler iterator, and (persistent workers) fresh fetchers."""
        self._indices = iter(self._sampler)
        self._send = self._recv = self._outstanding = 0
        self._tasks: dict[int, tuple] = {}  # sequence number -> (worker,) or (worker, data)
        self._active = [True] * self._n
        self._cycle = itertools.cycle(range(self._n))
        if not first:
            for q in self._queues:
                q.put(_Resume())
            for _ in range(self._n):
                while not isinstance(self._get()[0], _Resume):
                    pass  # results left over from an unfinished pass
        for _ in range(self._prefetch * self._n):
            self._put_task()

    def __iter__(self) -> "MultiProcessIter":
        return self

    def __next__(self) -> Any:
        if not self.alive:
            raise StopIteration
        while True:
            while self._recv < self._send:
                task = self._tasks.get(self._recv)
                if task is not None and (len(task) == 2 or self._active[task[0]]):
                    break
                self._tasks.pop(self._recv, None)  # its worker ended (IterableDataset)
                self._recv += 1
            else:
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            if len(self._tasks[self._recv]) == 2:
                data = self._tasks.pop(self._recv)[1]
                self._recv += 1
                return self._deliver(data)
            idx, blob = self._get()
            data = pickle.loads(blob)  # pickled by our own worker (_pack)
            self._outstanding -= 1
            if isinstance(data, _StopIteration):
                self._active[data.worker_id] = False
                self._put_task()
                continue
            if idx != self._recv and self._in_order:
                self._tasks[idx] += (data,)
                continue
            del self._tasks[idx]
            if idx == self._recv:
                self._recv += 1
            return self._deliver(data)

    def _deliver(self, data: Any) -> Any:
        self._put_task()
        if isinstance(data, _WorkerError):  # the workers stay: the pass may go on, as in PyTorch
            data.reraise()
        return data

    def _put_task(self) -> None:
        if self._outstanding >= self._prefetch * self._n or not any(self._active):
            return
        try:
            index = next(self._indices)
        except StopIteration:
            return
        worker = next(w for w in self._cycle if self._active[w])
        self._queues[worker].put((self._send, index))
        self._tasks[self._send] = (worker,)
        self._outstanding += 1
        self._send += 1

    def _get(self) -> tuple:
        """The next result from any worker, checking meanwhile that the workers live."""
        waited = 0.0
        while True:
            wait = STATUS_CHECK_INTERVAL if self._timeout <= 0 else \
                min(STATUS_CHECK_INTERVAL, self._timeout - waited)
            try:
                return self._results.get(timeout=wait)
            except queue.Empty:
                waited += wait
            dead = [w for w, on in zip(self._workers, self._active) if on and not w.is_alive()]
            if dead:
                self.shutdown()
                pids = ", ".join(str(w.pid) for w in dead)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")
            if 0 < self._timeout <= waited:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def shutdown(self) -> None:
        """Stop the workers now (also run when the iterator is collected, or at exit)."""
        self._finalizer()

    @property
    def alive(self) -> bool:
        """Whether the workers still serve (not shut down after an error or a timeout)."""
        return self._finalizer.alive

    def __getstate__(self) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be pickled")
