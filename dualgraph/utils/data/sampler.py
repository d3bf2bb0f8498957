"""Samplers: the order in which a DataLoader reads indices, and their grouping into batches."""

from __future__ import annotations

from abc import ABC, abstractmethod

from typing import Any, Iterator, Sized

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler"]


class Sampler(ABC):
    """Base class: an iterable of dataset indices (or of lists of them, for batch samplers)."""

    def __init__(self, data_source: Any = None) -> None:
        """`data_source` is accepted for PyTorch's signature; samplers keep what they need."""

    @abstractmethod
    def __iter__(self) -> Iterator:
        """The indices, in the order the loader will take them."""


def _generator(generator: Any) -> Any:
    """The given generator, or a fresh one seeded from the global generator (as PyTorch, so
    `dg.manual_seed` makes unseeded shuffling reproducible)."""
    if generator is not None:
        return generator
    from ... import creation
    seed = int(creation.empty((), dtype=creation.int64).random_().item())
    return creation.Generator().manual_seed(seed)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


_CHUNK = 32  # indices drawn per call when sampling with replacement


class RandomSampler(Sampler):
    """A new random permutation of the indices at each pass (or `num_samples` draws with
    replacement); reproducible with a seeded `generator`."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError("replacement should be a boolean value, but got replacement="
                            f"{replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        from ... import creation
        n, g = len(self.data_source), _generator(self.generator)
        if self.replacement:  # drawn lazily, 32 at a time as PyTorch does: num_samples may be
            # 10**10 (an "infinite" loader), far more indices than memory holds
            for _ in range(self.num_samples // _CHUNK):
                yield from creation.randint(0, n, (_CHUNK,), generator=g).tolist()
            yield from creation.randint(0, n, (self.num_samples % _CHUNK,), generator=g).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from creation.randperm(n, generator=g).tolist()
        yield from creation.randperm(n, generator=g).tolist()[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order at each pass."""

    def __init__(self, indices: Any, generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator:
        from ... import creation
        order = creation.randperm(len(self.indices), generator=self.generator).tolist()
        return iter([self.indices[i] for i in order])

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of `batch_size` (the last one shorter,
    unless `drop_last`)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list]:
        batch: list = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
