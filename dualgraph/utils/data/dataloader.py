"""`DataLoader`: iterate a dataset in (optionally shuffled) batches, merged by a collate
function, in the calling process or (`num_workers=N`) in N worker processes (see worker.py)."""

from __future__ import annotations

import collections.abc
import itertools
import warnings
from typing import Any, Callable, Iterator

from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import MultiProcessIter, _base_seed, _context

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _is_tensor(x: Any) -> bool:
    from ...tensor import Tensor
    return isinstance(x, Tensor)


def default_convert(data: Any) -> Any:
    """Without batching: NumPy arrays become tensors; containers are converted inside."""
    import numpy as np
    from ... import creation
    if _is_tensor(data):
        return data
    if isinstance(data, np.ndarray) and data.dtype.kind not in "SUO":
        return creation.as_tensor(data)
    if isinstance(data, np.generic) and data.dtype.kind not in "SUO":
        return creation.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) \
            if isinstance(data, dict) else {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch: tensors (and arrays) are stacked along a new dim
    0, numbers become a tensor, and tuples, lists and dicts are merged field by field (a
    tuple of fields comes back as a list, as PyTorch's); strings stay a sequence."""
    import numpy as np
    from ... import creation
    from ...ir.types import float64
    elem = batch[0]
    if _is_tensor(elem):
        import dualgraph
        return dualgraph.stack(list(batch), 0)
    if isinstance(elem, (np.ndarray, np.generic)) and elem.dtype.kind not in "SUO":
        return default_collate([creation.as_tensor(b) for b in batch])
    if isinstance(elem, bool):
        return creation.tensor(list(batch))
    if isinstance(elem, float):
        return creation.tensor(list(batch), dtype=float64)
    if isinstance(elem, int):
        return creation.tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple: keep the type
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                    f"or lists; found {type(elem)}")


class DataLoader:
    """Batches of `dataset`: indices from a sampler (sequential, or shuffled by `generator`),
    grouped by `batch_size` (None: no batching), each batch merged by `collate_fn`."""

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context: Any = None,
                 generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers,
                              multiprocessing_context)
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if pin_memory and pin_memory_device:
            warnings.warn("pin_memory_device is deprecated, the current accelerator will be used "
                          f"as the device,ignore pin_memory_device='{pin_memory_device}'.",
                          stacklevel=2)
        if pin_memory:
            from ... import cuda
            if not cuda.is_available():
                warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                              "then device pinned memory won't be used.", stacklevel=2)
        self.dataset, self.num_workers = dataset, num_workers
        self.pin_memory, self.timeout = pin_memory, timeout
        self.worker_init_fn, self.prefetch_factor = worker_init_fn, prefetch_factor
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers, self.in_order = persistent_workers, in_order
        self.generator = generator
        self._iterator: MultiProcessIter | None = None  # kept with persistent workers
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self) -> Any:
        """What workers are handed per task: a batch of indices, one index, or (an
        IterableDataset, read by each worker from its own copy) nothing."""
        if self._iterable:
            return _Forever()
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> Iterator:
        if self.num_workers > 0:
            if not self.persistent_workers:
                return MultiProcessIter(self)
            if self._iterator is None or not self._iterator.alive:
                self._iterator = MultiProcessIter(self)
            else:
                self._iterator.reset()
            return self._iterator
        if self.timeout > 0:  # PyTorch's single-process iterator refuses it too
            raise ValueError(f"DataLoader: timeout={self.timeout} bounds the wait for worker "
                             "processes; it needs num_workers > 0 (PyTorch: "
                             "'_SingleProcessDataLoaderIter requires timeout == 0')")
        # as PyTorch, every pass draws a base seed (the workers' seeds) from the generator,
        # with or without workers, so a seeded shuffle gives one order whatever num_workers is
        _base_seed(self.generator)
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return (self.collate_fn(self._fetch(indices)) for indices in self.batch_sampler)

    def _fetch(self, indices: list) -> list:
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return getitems(indices)
        return [self.dataset[i] for i in indices]

    def _iter_stream(self) -> Iterator:
        if self.batch_size is None:
            for item in self.dataset:
                yield self.collate_fn(item)
            return
        batch: list = []
        for item in self.dataset:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


class _Forever:
    """The tasks of an IterableDataset's workers: no indices, as many as they can serve."""

    def __iter__(self) -> Iterator:
        return itertools.repeat(None)


def _check_worker_options(num_workers: Any, timeout: Any, prefetch_factor: Any,
                          persistent_workers: bool, multiprocessing_context: Any) -> None:
    """PyTorch's checks of the worker options, with its messages."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, int):
        raise TypeError(f"DataLoader(): num_workers must be an int, got "
                        f"{type(num_workers).__name__}")
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if num_workers > 0 and prefetch_factor == 0:  # PyTorch: an AssertionError when iterated
        raise ValueError("prefetch_factor must be greater than 0 for multi-process loading "
                         "(num_workers > 0): it is how many batches each worker loads ahead")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if multiprocessing_context is not None:
        if num_workers == 0:
            raise ValueError("multiprocessing_context can only be used with multi-process "
                             f"loading (num_workers > 0), but got num_workers={num_workers}")
        _context(multiprocessing_context)
