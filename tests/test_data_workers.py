"""`DataLoader(num_workers=N)` loads in N worker processes as PyTorch's does (seeding,
`worker_init_fn`, `get_worker_info`, `persistent_workers`, `prefetch_factor`, errors, timeouts),
and `RandomSampler(replacement=True)` draws lazily. Every test stops by itself (loaders carry a
`timeout`) and the fixture checks that no worker process is left behind. Expected values marked
"PyTorch" were captured once from PyTorch 2.13 (CPU)."""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import random
import time
import tracemalloc

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.utils.data import (DataLoader, Dataset, IterableDataset, RandomSampler,
                                  TensorDataset, get_worker_info)
from dualgraph.utils.data.worker import _np_seed

SAFETY = 60  # seconds: a loader that waits longer for one batch raises instead of hanging


@pytest.fixture(autouse=True)
def no_process_left_behind():
    yield
    gc.collect()  # drops iterators a test left unfinished: their workers stop
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = multiprocessing.active_children()
    for p in left:  # reported once: the next test starts clean
        p.terminate()
        p.join(5)
    assert left == []


class Squares(Dataset):
    """Sample i is (i, i*i); len n."""

    def __init__(self, n: int = 10) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple:
        return i, i * i


class WhoAmI(Dataset):
    """Sample i reports the process and worker that loaded it, and its random draws."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        info = get_worker_info()
        return {"i": i, "pid": os.getpid(), "id": info.id, "n": info.num_workers,
                "seed": info.seed, "initial_seed": dg.initial_seed(),
                "same_dataset": info.dataset is self, "py": random.random(),
                "np": float(np.random.random()), "dg": float(dg.rand(()).item()),
                "tag": getattr(self, "tag", 0)}


class Shards(IterableDataset):
    """Each worker yields every num_workers-th number of range(7), from its id (PyTorch's
    documented way to shard an IterableDataset)."""

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, 7, step))


def _loader(dataset, **kw) -> DataLoader:
    kw.setdefault("timeout", SAFETY)
    return DataLoader(dataset, **kw)


def _rows(batches) -> list:
    return [[t.tolist() for t in b] for b in batches]


# ------------------------------------------------------------------------- loading in workers

@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker")  # on 2 CPUs
def test_workers_give_the_batches_of_a_single_process_loader_in_order():
    expected = _rows(DataLoader(Squares(11), batch_size=3))
    assert _rows(_loader(Squares(11), batch_size=3, num_workers=2)) == expected
    assert _rows(_loader(Squares(11), batch_size=3, num_workers=3, prefetch_factor=1)) \
        == expected
    # a seeded shuffle gives one order whatever num_workers is (as PyTorch: a base seed is
    # drawn from the generator each pass in both modes)
    one = _rows(DataLoader(Squares(11), batch_size=4, shuffle=True,
                           generator=dg.Generator().manual_seed(3)))
    two = _rows(_loader(Squares(11), batch_size=4, shuffle=True, num_workers=2,
                        generator=dg.Generator().manual_seed(3)))
    assert one == two and sorted(sum((b[0] for b in one), [])) == list(range(11))


def test_samples_are_loaded_in_the_workers_in_turn():
    batches = list(_loader(WhoAmI(), batch_size=2, num_workers=2))
    pids = [b["pid"].tolist() for b in batches]
    assert all(len(set(p)) == 1 for p in pids)  # a batch is loaded by one worker
    assert os.getpid() not in {p[0] for p in pids}
    assert [b["id"].tolist()[0] for b in batches] == [0, 1, 0, 1]  # tasks handed out in turn
    assert all(b["n"].tolist() == [2, 2] for b in batches)
    assert all(b["same_dataset"].tolist() == [True, True] for b in batches)
    assert get_worker_info() is None  # in the main process


def test_workers_are_seeded_as_pytorch_seeds_them():
    batches = list(_loader(WhoAmI(), batch_size=4, num_workers=2))
    first = [{k: v.tolist()[0] for k, v in b.items()} for b in batches]  # each worker's 1st
    base = {r["seed"] - r["id"] for r in first}
    assert len(base) == 1  # seed = base_seed + worker id
    base_seed = base.pop()
    for r in first:
        assert r["initial_seed"] == r["seed"]  # dg.manual_seed(seed) in the worker
        assert r["py"] == random.Random(r["seed"]).random()
        assert r["np"] == np.random.RandomState(_np_seed(base_seed, r["id"])).random_sample()
        assert r["dg"] == float(dg.rand((), generator=dg.Generator().manual_seed(r["seed"])))


def test_numpy_worker_seed_is_pytorchs_generate_state():
    # PyTorch: torch.utils.data._utils.worker._generate_state(base_seed, worker_id)
    assert _np_seed(0, 0) == [2968811710, 3677149159, 745650761, 2884920346]
    assert _np_seed(12345678901234, 3) == [2677634501, 810098766, 226270600, 4115140591]
    assert _np_seed(2**63 - 1, 7) == [3706660862, 1642455348, 3333652763, 3068748488]


def _tag_worker(worker_id: int) -> None:
    get_worker_info().dataset.tag = 100 + worker_id


def test_worker_init_fn_runs_in_each_worker_before_loading():
    tags = {b["id"].tolist()[0]: b["tag"].tolist()
            for b in _loader(WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=_tag_worker)}
    assert tags == {0: [100, 100], 1: [101, 101]}
    assert not hasattr(WhoAmI(), "tag")


def test_an_iterable_dataset_is_read_by_every_worker_from_its_own_copy():
    # PyTorch: [[0, 2], [1, 3], [4, 6], [5]], [[0, 2], [1, 3], [4, 6]], [0, 1, ..., 6]
    assert [b.tolist() for b in _loader(Shards(), batch_size=2, num_workers=2)] == \
        [[0, 2], [1, 3], [4, 6], [5]]
    assert [b.tolist() for b in _loader(Shards(), batch_size=2, num_workers=2,
                                         drop_last=True)] == [[0, 2], [1, 3], [4, 6]]
    assert [int(x) for x in _loader(Shards(), batch_size=None, num_workers=2)] == \
        list(range(7))


def test_spawned_workers_load_the_same_batches():
    data = TensorDataset(dg.arange(6.0), dg.arange(6) * 10)
    loader = _loader(data, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert _rows(loader) == [[[0.0, 1.0, 2.0, 3.0], [0, 10, 20, 30]], [[4.0, 5.0], [40, 50]]]


class SlowFirst(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        if i == 0:
            time.sleep(0.6)
        return i


def test_in_order_false_yields_batches_as_they_arrive():
    assert [int(b) for b in _loader(SlowFirst(), batch_size=None, num_workers=2)] == \
        [0, 1, 2, 3]
    early = [int(b) for b in _loader(SlowFirst(), batch_size=None, num_workers=2,
                                     in_order=False)]
    assert sorted(early) == [0, 1, 2, 3] and early[0] != 0


# ------------------------------------------------------------------ workers' lifetime

def test_workers_stop_when_a_pass_ends_or_is_abandoned():
    loader = _loader(WhoAmI(), batch_size=2, num_workers=2)
    pids = [{b["pid"].tolist()[0] for b in loader} for _ in range(2)]
    assert pids[0].isdisjoint(pids[1])  # a new pair of workers each pass
    assert multiprocessing.active_children() == []
    it = iter(loader)
    next(it)
    assert len(multiprocessing.active_children()) == 2
    del it  # an abandoned pass stops its workers
    gc.collect()
    assert multiprocessing.active_children() == []


def test_persistent_workers_serve_every_epoch():
    loader = _loader(WhoAmI(), batch_size=2, num_workers=2, persistent_workers=True)
    epochs = [[b["i"].tolist() for b in loader] for _ in range(3)]
    assert epochs == [[[0, 1], [2, 3], [4, 5], [6, 7]]] * 3
    workers = multiprocessing.active_children()
    assert len(workers) == 2  # alive between epochs
    pids = {b["pid"].tolist()[0] for b in loader}
    assert pids == {w.pid for w in workers}
    half = iter(loader)
    next(half)  # an unfinished epoch: the next one starts cleanly
    assert [b["i"].tolist() for b in loader] == epochs[0]
    loader._iterator.shutdown()
    assert multiprocessing.active_children() == []


class Counted(Dataset):
    """Counts, across processes, how many samples were fetched."""

    def __init__(self) -> None:
        self.count = multiprocessing.Value("i", 0)

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int) -> int:
        with self.count.get_lock():
            self.count.value += 1
        return i


def _settle(value, target: int, limit: float = 5.0) -> int:
    deadline = time.monotonic() + limit
    while value.value < target and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    return value.value


def test_prefetch_factor_bounds_the_tasks_handed_out():
    for factor in (1, 3):
        data = Counted()
        it = iter(_loader(data, batch_size=1, num_workers=2, prefetch_factor=factor))
        next(it)
        # 2 workers x factor tasks were handed out; delivering one hands out one more
        assert _settle(data.count, 2 * factor + 1) == 2 * factor + 1
        del it


# -------------------------------------------------------------------------------- errors

class Faulty(Dataset):
    def __init__(self, fault: str) -> None:
        self.fault = fault

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        if i == 2:
            if self.fault == "value":
                raise ValueError("bad sample 2")
            if self.fault == "key":
                return {}[i]
            if self.fault == "exit":
                os._exit(3)
            if self.fault == "unpicklable":
                return lambda: i
            time.sleep(1.0)
        return i


def test_an_error_in_a_worker_is_raised_with_its_traceback():
    with pytest.raises(ValueError) as info:
        list(_loader(Faulty("value"), batch_size=1, num_workers=2))
    lines = str(info.value).splitlines()  # PyTorch's wording
    assert lines[:2] == ["Caught ValueError in DataLoader worker process 0.",
                         "Original Traceback (most recent call last):"]
    assert lines[-1] == "ValueError: bad sample 2" and "in __getitem__" in str(info.value)
    with pytest.raises(KeyError) as info:
        list(_loader(Faulty("key"), batch_size=1, num_workers=1))
    assert str(info.value).startswith("Caught KeyError in DataLoader worker process 0.\n")
    # a sample that cannot travel back is an error too, not a batch silently lost (a hang)
    with pytest.raises(Exception, match=r"(?s)^Caught \w+ in DataLoader worker process 0\..*"
                                        r"Can't pickle"):
        list(_loader(Faulty("unpicklable"), batch_size=None, num_workers=2))


def test_a_dead_worker_and_a_slow_one_are_reported():
    with pytest.raises(RuntimeError, match=r"^DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly$"):
        list(_loader(Faulty("exit"), batch_size=1, num_workers=2))
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.3 seconds$"):
        list(_loader(Faulty("slow"), batch_size=1, num_workers=1, timeout=0.3))


def test_more_workers_than_cpus_warn_as_pytorch_warns(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    with pytest.warns(UserWarning, match=r"^This DataLoader will create 2 worker processes in "
                                         r"total. Our suggested max number of worker in current "
                                         r"system is 1, which is smaller than"):
        assert len(list(_loader(Squares(4), batch_size=2, num_workers=2))) == 2


def test_worker_options_are_checked_as_pytorch_checks_them():
    cases = [(dict(num_workers=-1), ValueError, "num_workers option should be non-negative"),
             (dict(timeout=-1), ValueError, "timeout option should be non-negative"),
             (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be "
                                                   "specified in multiprocessing"),
             (dict(num_workers=1, prefetch_factor=-1), ValueError,
              "prefetch_factor option should be non-negative"),
             (dict(num_workers=1, prefetch_factor=0), ValueError,
              "prefetch_factor must be greater than 0"),
             (dict(persistent_workers=True), ValueError,
              "persistent_workers option needs num_workers > 0"),
             (dict(multiprocessing_context="fork"), ValueError,
              "multiprocessing_context can only be used with multi-process loading"),
             (dict(num_workers=1, multiprocessing_context="threads"), ValueError,
              "should specify a valid start method"),
             (dict(num_workers=1, multiprocessing_context=3), TypeError,
              "should be a valid context object")]
    for kw, kind, message in cases:
        with pytest.raises(kind, match=message):
            DataLoader(Squares(), **kw)
    assert DataLoader(Squares(), num_workers=2).prefetch_factor == 2  # PyTorch's default
    with pytest.raises(ValueError, match=r"timeout=5 bounds the wait for worker processes"):
        iter(DataLoader(Squares(), timeout=5))  # PyTorch refuses it when iterated, too
    with pytest.warns(UserWarning, match="no accelerator is found") if not dg.cuda.is_available() \
            else contextlib.nullcontext():
        DataLoader(Squares(), pin_memory=True)


# ------------------------------------------------------------------------ RandomSampler

def test_sampling_with_replacement_draws_lazily():
    tracemalloc.start()
    try:
        sampler = RandomSampler(range(5), replacement=True, num_samples=10**10)
        first = list(itertools.islice(iter(sampler), 20_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(sampler) == 10**10
    assert peak < 8 << 20  # all at once would be 74.5 GiB
    counts = np.bincount(first, minlength=5)
    assert counts.sum() == 20_000 and np.all(np.abs(counts - 4000) < 300)  # ~5 sigma


def test_sampling_with_replacement_is_reproducible_and_exact_in_length():
    def draw(n):
        return list(RandomSampler(range(7), replacement=True, num_samples=n,
                                  generator=dg.Generator().manual_seed(1)))
    assert draw(70) == draw(70) and len(draw(70)) == 70 and len(draw(5)) == 5
    assert draw(70)[:32] == draw(32)  # drawn in chunks of 32, as PyTorch draws them
    assert set(draw(200)) == set(range(7))
