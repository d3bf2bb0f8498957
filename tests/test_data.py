"""dualgraph.utils.data: datasets, batching, collation, shuffling and splits."""

from collections import namedtuple

import numpy as np
import pytest

import dualgraph as torch
from dualgraph.utils.data import (ConcatDataset, DataLoader, Dataset, IterableDataset, Subset,
                                  TensorDataset, default_collate, random_split)

X = np.arange(14, dtype=np.float32).reshape(7, 2)
Y = np.arange(7)


def dataset():
    return TensorDataset(torch.tensor(X), torch.tensor(Y))


def test_tensor_dataset():
    ds = dataset()
    assert len(ds) == 7
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(torch.ones(3), torch.ones(2))


def test_batches_and_last_batch():
    batches = list(DataLoader(dataset(), batch_size=3))
    assert len(batches) == 3 and len(DataLoader(dataset(), batch_size=3)) == 3
    x, y = batches[0]
    assert tuple(x.shape) == (3, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    np.testing.assert_array_equal(np.array(x.tolist()), X[:3])
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_drop_last():
    loader = DataLoader(dataset(), batch_size=3, drop_last=True)
    assert len(loader) == 2
    assert [y.tolist() for _, y in loader] == [[0, 1, 2], [3, 4, 5]]


def test_batch_size_none_and_one():
    x, y = next(iter(DataLoader(dataset(), batch_size=None)))
    assert tuple(x.shape) == (2,) and y.item() == 0
    x, y = next(iter(DataLoader(dataset())))
    assert tuple(x.shape) == (1, 2) and y.tolist() == [0]


def order(seed, epochs=2):
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset(), batch_size=2, shuffle=True, generator=g)
    return [[i for _, y in loader for i in y.tolist()] for _ in range(epochs)]


def test_shuffle_reproducible_with_seeded_generator():
    a, b = order(0), order(0)
    assert a == b
    assert sorted(a[0]) == list(range(7)) and sorted(a[1]) == list(range(7))
    assert a[0] != a[1] or order(1) != a  # a new permutation each pass or each seed
    assert any(order(s)[0] != list(range(7)) for s in range(3))


def test_shuffle_follows_global_seed():
    def one():
        torch.manual_seed(5)
        return [i for _, y in DataLoader(dataset(), batch_size=3, shuffle=True)
                for i in y.tolist()]
    assert one() == one()


def test_default_collate_numbers_strings_dicts_tuples():
    out = default_collate([(1, 2.0, "a", True), (3, 4.0, "b", False)])
    assert isinstance(out, list) and len(out) == 4
    assert out[0].tolist() == [1, 3] and out[0].dtype == torch.int64
    assert out[1].tolist() == [2.0, 4.0] and out[1].dtype == torch.float64
    assert out[2] == ("a", "b")
    assert out[3].tolist() == [True, False] and out[3].dtype == torch.bool
    d = default_collate([{"x": torch.ones(2), "y": 1}, {"x": torch.zeros(2), "y": 2}])
    assert d["x"].tolist() == [[1.0, 1.0], [0.0, 0.0]] and d["y"].tolist() == [1, 2]
    arr = default_collate([np.ones(2), np.zeros(2)])
    assert arr.dtype == torch.float64 and tuple(arr.shape) == (2, 2)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [3]])


def test_dict_dataset_and_namedtuple():
    Point = namedtuple("Point", "x y")

    class Dicts(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"feat": torch.full((3,), float(i)), "meta": (i, Point(i, -i))}

    batch = next(iter(DataLoader(Dicts(), batch_size=4)))
    assert tuple(batch["feat"].shape) == (4, 3) and batch["feat"][:, 0].tolist() == [0, 1, 2, 3]
    ids, pt = batch["meta"]
    assert ids.tolist() == [0, 1, 2, 3]
    assert isinstance(pt, Point) and pt.y.tolist() == [0, -1, -2, -3]


def test_custom_collate_and_iterable_dataset():
    loader = DataLoader(dataset(), batch_size=4, collate_fn=lambda b: len(b))
    assert list(loader) == [4, 3]

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=2)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(), shuffle=True)


def test_random_split_lengths_and_disjoint():
    g = torch.Generator().manual_seed(0)
    parts = random_split(range(10), [3, 7], generator=g)
    assert [len(p) for p in parts] == [3, 7]
    idx = [i for p in parts for i in p.indices]
    assert sorted(idx) == list(range(10))
    again = random_split(range(10), [3, 7], generator=torch.Generator().manual_seed(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    fr = random_split(range(10), [0.33, 0.33, 0.34], generator=g)
    assert [len(p) for p in fr] == [4, 3, 3]  # floors 3, 3, 3; the remainder goes first
    assert sorted(i for p in fr for i in p.indices) == list(range(10))
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(5), [2, 2])


def test_subset_and_concat():
    ds = dataset()
    sub = Subset(ds, [5, 1])
    assert len(sub) == 2 and sub[0][1].item() == 5
    assert [y.tolist() for _, y in DataLoader(sub, batch_size=2)] == [[5, 1]]
    cat = ds + sub
    assert isinstance(cat, ConcatDataset) and len(cat) == 9 and cat[8][1].item() == 1
    assert cat[-1][1].item() == 1


def test_loader_option_errors():
    ds = dataset()
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
