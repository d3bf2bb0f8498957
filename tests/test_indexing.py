"""Shape manipulation, joining/splitting, indexing and storage, written afresh in the style of
seed tutorial 002 (`import dualgraph as t`): its indexing/slicing, view/reshape and
"Tensor and Storage" sections, then every op of the family against NumPy, advanced indexing
(values, gradients against finite differences, in-place writes), errors, and tracing of ops whose
output size depends on the data. Printed forms are the strings PyTorch 2.13 prints."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualgraph as t


def _np(x):
    return x.detach().numpy()


@pytest.fixture(autouse=True)
def _quiet_storage_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


# ------------------------------------------------------------------- tutorial: index, slice

def test_tutorial_indexing_and_slicing():
    t.manual_seed(0)
    c = t.rand(5, 4)
    n = c.numpy().copy()
    np.testing.assert_array_equal(c[0].numpy(), n[0])  # the first row
    np.testing.assert_array_equal(c[:, 0].numpy(), n[:, 0])  # the first column
    np.testing.assert_array_equal(c[1:3, 2:4].numpy(), n[1:3, 2:4])  # rows 2-3, columns 3-4
    assert c[1:3, 2:4].shape == t.Size([2, 2])


def test_tutorial_reshape_view_and_memory():
    t.manual_seed(0)
    c = t.rand(5, 4)
    n = c.numpy().copy()
    np.testing.assert_array_equal(c.reshape(4, 5).numpy(), n.reshape(4, 5))
    v = c.view(4, 5)
    np.testing.assert_array_equal(v.numpy(), n.reshape(4, 5))
    v[0, 0] = 100.0  # a view shares memory with the tensor it came from
    assert c[0, 0].item() == 100.0
    r = c.reshape(20)  # reshape of a contiguous tensor is a view too, as in PyTorch
    assert r.data_ptr() == c.data_ptr()
    assert c.t().reshape(20).data_ptr() != c.data_ptr()  # ...and a copy when it must be
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size "
                       r"and stride \(at least one dimension spans across two contiguous "
                       r"subspaces\). Use .reshape\(...\) instead."):
        c.t().view(20)
    d = t.arange(6.)
    e = d.view(2, 3)
    d.resize_(3, 2)  # resize_ keeps the storage: the view still sees the same numbers
    e[1, 2] = -1.0
    assert d[2, 1].item() == -1.0


def test_tutorial_storage_survives_reshape():
    d = t.tensor([[0.1640, 0.8882], [0.2513, 0.8349], [0.8480, 0.8745]])
    expected = (" 0.164000004529953\n 0.8881999850273132\n 0.25130000710487366\n"
                " 0.8349000215530396\n 0.8479999899864197\n 0.8744999766349792\n"
                "[torch.storage.TypedStorage(dtype=torch.float32, device=cpu) of size 6]")
    assert repr(d.storage()) == expected and str(d.storage()) == expected
    before = d.storage().data_ptr()
    d = d.reshape(2, 3)
    assert repr(d.storage()) == expected  # the shape changed, the storage did not
    assert d.storage().data_ptr() == before


def test_storage_warns_like_pytorch_and_untyped_storage_prints_bytes():
    from dualgraph.methods import storage
    storage._warned.clear()
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        t.ones(2).storage()
    u = t.tensor([1, 2], dtype=t.int8).untyped_storage()
    assert repr(u) == " 1\n 2\n[torch.storage.UntypedStorage(device=cpu) of size 2]"
    assert str(t.tensor([[1.5, 2.0], [3.0, 4.0]]).storage()) == (
        " 1.5\n 2.0\n 3.0\n 4.0\n[torch.storage.TypedStorage(dtype=torch.float32, device=cpu) "
        "of size 4]")
    assert repr(t.tensor([]).storage()) == (
        " \n[torch.storage.TypedStorage(dtype=torch.float32, device=cpu) of size 0]")
    assert len(t.ones(3).untyped_storage()) == 12 and t.ones(3).untyped_storage().nbytes() == 12


def test_storage_element_access_and_sharing():
    x = t.arange(6.).reshape(2, 3)
    s = x.storage()
    assert len(s) == s.size() == 6 and s[4] == 4.0 and s.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0,
                                                                        5.0]
    s[0] = 9.0  # the storage is the tensor's memory
    assert x[0, 0].item() == 9.0
    with pytest.raises(RuntimeError, match="slices are only supported in UntypedStorage"):
        s[1:3]
    row = x[1]
    assert row.storage().data_ptr() == x.storage().data_ptr()
    assert row.storage_offset() == 3 and x.storage_offset() == 0
    assert row.data_ptr() - x.data_ptr() == 3 * 4
    assert x[:, 1].storage_offset() == 1 and x[1, 1:].storage_offset() == 4
    a, b = x.split(1)  # split pieces are views of x
    assert a.data_ptr() == x.data_ptr() and b.storage_offset() == 3
    assert b.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    assert x.clone().storage().data_ptr() != x.storage().data_ptr()


def test_strides_in_elements_as_pytorch_reports_them():
    x = t.arange(12.).reshape(3, 4)
    assert x.stride() == (4, 1) and x.stride(0) == 4 and x.stride(-1) == 1
    assert x.t().stride() == (1, 4) and x.t().contiguous().stride() == (3, 1)
    assert x[:, None].stride() == (4, 4, 1) and x[None].stride() == (12, 4, 1)
    assert x.unsqueeze(2).stride() == (4, 1, 1) and x.expand(2, 3, 4).stride() == (0, 4, 1)
    assert x[::2].stride() == (8, 1) and x[:, 1].stride() == (4,)
    assert t.zeros(0, 3).stride() == (3, 1) and t.tensor(3.0).stride() == ()
    assert x.is_contiguous() and not x.t().is_contiguous() and not x[:, 1:2].is_contiguous()
    assert x[:, None].is_contiguous() and x.nbytes == 48 and x.itemsize == 4


def test_resize_follows_pytorch():
    a = t.arange(6.)
    v = a[2:]
    v.resize_(2)
    np.testing.assert_array_equal(v.numpy(), [2.0, 3.0])
    assert v.storage_offset() == 2
    b = t.arange(6.)
    b.resize_(3, 3)  # grows: the old numbers stay at the front
    assert b.shape == t.Size([3, 3])
    np.testing.assert_array_equal(b[:2].numpy(), np.arange(6.0).reshape(2, 3))
    c = t.arange(6.).reshape(2, 3).t()
    assert c.resize_(3, 2).stride() == (1, 3)  # same shape: nothing changes
    assert c.resize_(2, 3).stride() == (3, 1)
    np.testing.assert_array_equal(c.numpy(), np.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        t.ones(3, requires_grad=True).resize_(2)


# --------------------------------------------------------------------- joining and splitting

def test_cat_stack_and_promotion():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3).reshape(1, 3)
    out = t.cat([t.tensor(a), t.tensor(b)])
    assert out.dtype is t.float64
    np.testing.assert_array_equal(out.numpy(), np.concatenate([a, b]))
    assert t.cat((t.ones(2, 2, dtype=t.int32), t.ones(2, 2, dtype=t.bool))).dtype is t.int32
    assert t.concat([t.ones(2, 2), t.zeros(0)]).shape == t.Size([2, 2])  # legacy empty skipped
    np.testing.assert_array_equal(t.concatenate([t.tensor(a)] * 2, dim=-1).numpy(),
                                  np.concatenate([a, a], axis=-1))
    np.testing.assert_array_equal(t.stack([t.tensor(a), t.tensor(a) + 1], 1).numpy(),
                                  np.stack([a, a + 1], 1))
    np.testing.assert_array_equal(t.hstack([t.tensor(a), t.tensor(a)]).numpy(), np.hstack([a, a]))
    np.testing.assert_array_equal(t.vstack([t.tensor(a[0]), t.tensor(a)]).numpy(),
                                  np.vstack([a[0], a]))
    out = t.zeros(1)
    t.cat([t.ones(2), t.zeros(1)], out=out)
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0, 0.0])


def test_split_chunk_unbind_narrow():
    x = t.arange(12.).reshape(3, 4)
    n = np.arange(12.0).reshape(3, 4)
    assert [p.shape[1] for p in x.split(3, 1)] == [3, 1]
    for got, want in zip(t.split(x, [1, 2], 0), np.split(n, [1], 0)):
        np.testing.assert_array_equal(got.numpy(), want)
    assert [p.shape[1] for p in x.chunk(3, 1)] == [2, 2]
    assert len(x.split(10)) == 1 and x.split(10)[0].shape == t.Size([3, 4])
    for i, row in enumerate(t.unbind(x, 1)):
        np.testing.assert_array_equal(row.numpy(), n[:, i])
    np.testing.assert_array_equal(x.narrow(1, 1, 2).numpy(), n[:, 1:3])
    np.testing.assert_array_equal(t.narrow(x, 0, -1, 1).numpy(), n[-1:])
    with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(2\) exceeds dimension size"):
        x.narrow(0, 2, 2)


def test_reordering_and_reshaping_ops():
    x = t.arange(24.).reshape(2, 3, 4)
    n = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(x.flip(0, 2).numpy(), n[::-1, :, ::-1])
    assert x.flip(0).data_ptr() != x.data_ptr()  # flip copies, as PyTorch's does
    np.testing.assert_array_equal(t.fliplr(x).numpy(), np.fliplr(n))
    np.testing.assert_array_equal(x.roll(1, 2).numpy(), np.roll(n, 1, 2))
    np.testing.assert_array_equal(x.roll((1, -2), (0, 1)).numpy(), np.roll(n, (1, -2), (0, 1)))
    np.testing.assert_array_equal(t.roll(x, 5).numpy(), np.roll(n, 5))
    np.testing.assert_array_equal(x.repeat(2, 1, 1, 2).numpy(), np.tile(n, (2, 1, 1, 2)))
    np.testing.assert_array_equal(t.tile(x, (2,)).numpy(), np.tile(n, 2))
    assert x.flatten(1).shape == t.Size([2, 12]) and t.flatten(x, 0, 1).shape == t.Size([6, 4])
    assert t.tensor(2.0).flatten().shape == t.Size([1])
    v = t.arange(3.)
    assert v.flatten() is v  # nothing to merge: the tensor itself, as in PyTorch
    assert x.unflatten(2, (2, -1)).shape == t.Size([2, 3, 2, 2])
    np.testing.assert_array_equal(x.movedim(0, -1).numpy(), np.moveaxis(n, 0, -1))
    np.testing.assert_array_equal(t.moveaxis(x, (0, 1), (2, 0)).numpy(),
                                  np.moveaxis(n, (0, 1), (2, 0)))
    np.testing.assert_array_equal(x.swapaxes(0, 2).numpy(), np.swapaxes(n, 0, 2))
    assert t.swapdims(x, 1, 2).shape == t.Size([2, 4, 3])


# ----------------------------------------------------------------------------- selecting

def test_selection_ops_against_numpy():
    rng = np.random.default_rng(0)
    n = rng.normal(size=(3, 4))
    x = t.tensor(n)
    mask = n > 0
    np.testing.assert_array_equal(x.index_select(1, t.tensor([3, 0, 3])).numpy(),
                                  n[:, [3, 0, 3]])
    np.testing.assert_array_equal(x.masked_fill(t.tensor(mask), -1.0).numpy(),
                                  np.where(mask, -1.0, n))
    y = x.clone()
    y.masked_fill_(t.tensor(mask[0]), t.tensor(2.0))  # a broadcast mask and a 0-d value
    np.testing.assert_array_equal(y.numpy(), np.where(mask[0], 2.0, n))
    np.testing.assert_array_equal(t.masked_select(x, t.tensor(mask)).numpy(), n[mask])
    np.testing.assert_array_equal(t.nonzero(t.tensor(mask)).numpy(), np.argwhere(mask))
    np.testing.assert_array_equal(t.argwhere(t.tensor(mask)).numpy(), np.argwhere(mask))
    for got, want in zip(t.tensor(mask).nonzero(as_tuple=True), np.nonzero(mask)):
        np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(x.take(t.tensor([[0, 11], [5, -1]])).numpy(),
                                  n.ravel()[[[0, 11], [5, -1]]])
    idx = rng.integers(0, 4, size=(3, 2))
    np.testing.assert_array_equal(t.take_along_dim(x, t.tensor(idx), dim=1).numpy(),
                                  np.take_along_axis(n, idx, 1))
    np.testing.assert_array_equal(t.take_along_dim(x, t.tensor([0, 11])).numpy(),
                                  n.ravel()[[0, 11]])
    np.testing.assert_array_equal(t.gather(x, 1, t.tensor(idx)).numpy(),
                                  np.take_along_axis(n, idx, 1))


def test_ordering_ops_and_their_printed_tuples():
    rng = np.random.default_rng(1)
    n = rng.permutation(12).reshape(3, 4).astype(np.float32)
    x = t.tensor(n)
    values, indices = x.sort(dim=0, descending=True)
    np.testing.assert_array_equal(values.numpy(), -np.sort(-n, 0))
    np.testing.assert_array_equal(indices.numpy(), np.argsort(-n, 0))
    np.testing.assert_array_equal(t.argsort(x).numpy(), np.argsort(n, -1))
    ties = t.tensor([2, 1, 2, 0, 1])
    np.testing.assert_array_equal(ties.sort(stable=True).indices.numpy(), [3, 1, 4, 0, 2])
    np.testing.assert_array_equal(ties.sort(descending=True, stable=True).indices.numpy(),
                                  [0, 2, 1, 4, 3])
    top = t.topk(x, 2)
    np.testing.assert_array_equal(top.values.numpy(), -np.sort(-n, 1)[:, :2])
    np.testing.assert_array_equal(x.topk(1, dim=0, largest=False).indices.numpy(),
                                  np.argsort(n, 0)[:1])
    kth = x.kthvalue(2, 1, keepdim=True)
    np.testing.assert_array_equal(kth.values.numpy(), np.sort(n, 1)[:, 1:2])
    small = t.tensor([2.0, 1.0, 3.0])
    assert repr(small.sort()) == ("torch.return_types.sort(\nvalues=tensor([1., 2., 3.]),\n"
                                  "indices=tensor([1, 0, 2]))")
    assert repr(small.topk(2)) == ("torch.return_types.topk(\nvalues=tensor([3., 2.]),\n"
                                   "indices=tensor([2, 0]))")
    assert repr(small.kthvalue(2)) == ("torch.return_types.kthvalue(\nvalues=tensor(2.),\n"
                                       "indices=tensor(0))")


def test_unique():
    u = t.tensor([3, 1, 2, 1, 3])
    values, inverse, counts = t.unique(u, return_inverse=True, return_counts=True)
    want = np.unique([3, 1, 2, 1, 3], return_inverse=True, return_counts=True)
    for got, w in zip((values, inverse, counts), want):
        np.testing.assert_array_equal(got.numpy(), w)
    assert t.unique(t.tensor([[1, 2], [3, 4]]), return_inverse=True)[1].shape == t.Size([2, 2])
    rows = t.tensor([[1, 2], [1, 2], [0, 5]]).unique(dim=0, return_counts=True)
    np.testing.assert_array_equal(rows[0].numpy(), [[0, 5], [1, 2]])
    np.testing.assert_array_equal(rows[1].numpy(), [1, 2])
    grads = t.tensor([3.0, 1.0, 3.0], requires_grad=True)
    assert repr(t.unique(grads)) == "tensor([1., 3.], grad_fn=<Unique2Backward0>)"


def test_scatter_index_add_index_copy():
    n = np.zeros((3, 4))
    x = t.tensor(n)
    index = np.array([[2, 0, 1, 1]])
    src = np.arange(4.0).reshape(1, 4)
    want = n.copy()
    want[index[0], np.arange(4)] = src[0]
    np.testing.assert_array_equal(x.scatter(0, t.tensor(index), t.tensor(src)).numpy(), want)
    y = x.clone()
    y.scatter_(1, t.tensor([[3], [0], [1]]), 1.5)
    want = n.copy()
    want[[0, 1, 2], [3, 0, 1]] = 1.5
    np.testing.assert_array_equal(y.numpy(), want)
    z = x.clone()
    z.scatter_add_(0, t.tensor([[0, 0, 0, 0]]), t.ones(1, 4, dtype=t.float64))
    assert z[0].tolist() == [1.0] * 4
    added = t.index_add(x, 0, t.tensor([1, 1]), t.ones(2, 4, dtype=t.float64), alpha=2.0)
    assert added[1].tolist() == [4.0] * 4 and added[0].tolist() == [0.0] * 4
    w = x.clone()
    w.index_copy_(1, t.tensor([2, 0]), t.tensor(np.arange(6.0).reshape(3, 2)))
    np.testing.assert_array_equal(w[:, [2, 0]].numpy(), np.arange(6.0).reshape(3, 2))


# --------------------------------------------------------------------- advanced indexing

ADVANCED = [
    ([0, 2, 0],),
    (slice(1, None), [3, 0]),
    (Ellipsis, [1, 1]),
    ([[0, 1], [2, 2]], [[1, 0], [3, 3]]),
    ([0, 2], slice(None), [1, 0]),  # non-adjacent: the index dims go first
    (None, [1, 2], slice(None, None, 2)),
]


@pytest.mark.parametrize("index", ADVANCED, ids=[str(i) for i in range(len(ADVANCED))])
def test_advanced_getitem_matches_numpy(index):
    n = np.arange(60.0).reshape(3, 4, 5)
    x = t.tensor(n)
    np_index = tuple(np.array(i) if isinstance(i, list) else i for i in index)
    np.testing.assert_array_equal(x[index].numpy(), n[np_index])
    tensors = tuple(t.tensor(i) if isinstance(i, list) else i for i in index)
    np.testing.assert_array_equal(x[tensors].numpy(), n[np_index])


def test_masks_and_pytorch_placement_of_ints():
    n = np.arange(24.0).reshape(2, 3, 4)
    x = t.tensor(n)
    np.testing.assert_array_equal(x[x > 5].numpy(), n[n > 5])
    mask = np.array([True, False, True])
    np.testing.assert_array_equal(x[:, t.tensor(mask)].numpy(), n[:, mask])
    np.testing.assert_array_equal(x[1, [True, False, True]].numpy(), n[1, mask])
    # an int is a plain select applied first, as in PyTorch (NumPy would put the index dim first)
    assert x[0, :, [1, 2]].shape == t.Size([3, 2])
    np.testing.assert_array_equal(x[0, :, [1, 2]].numpy(), n[0][:, [1, 2]])
    assert x[True].shape == t.Size([1, 2, 3, 4]) and x[False].shape == t.Size([0, 2, 3, 4])
    assert x[t.tensor(1)].shape == t.Size([3, 4])


def test_advanced_setitem_and_index_put():
    n = np.arange(12.0).reshape(3, 4)
    x = t.tensor(n)
    y, want = x.clone(), n.copy()
    y[[0, 2]] = t.tensor([1.0, 2.0, 3.0, 4.0], dtype=t.float64)
    want[[0, 2]] = [1.0, 2.0, 3.0, 4.0]
    y[y > 9] = 0.0
    want[want > 9] = 0.0
    y[1, [0, 3]] = -1.0  # through a view of row 1
    want[1, [0, 3]] = -1.0
    y[y < 0] = t.tensor(7)  # a 0-d value of another dtype fills a mask, as in PyTorch
    want[want < 0] = 7
    np.testing.assert_array_equal(y.numpy(), want)
    acc = t.index_put(x, (t.tensor([0, 0]), t.tensor([1, 1])), t.tensor(1.0, dtype=t.float64),
                      accumulate=True)
    assert acc[0, 1].item() == 3.0
    z = x.clone()
    z.index_put_((None, t.tensor([1])), t.tensor(5.0, dtype=t.float64))
    np.testing.assert_array_equal(z[:, 1].numpy(), [5.0, 5.0, 5.0])
    with pytest.raises(RuntimeError, match="Index put requires the source and destination "
                                           "dtypes match, got Double for the destination and "
                                           "Long for the source"):
        x.clone()[[0]] = t.tensor([1, 2, 3, 4])


def test_advanced_indexing_gradients_against_finite_differences():
    rng = np.random.default_rng(2)
    x = t.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    idx, mask = t.tensor([0, 2, 0]), t.tensor([True, False, True, True])
    check = t.autograd.gradcheck
    assert check(lambda a: a[idx], (x,))
    assert check(lambda a: a[:, mask], (x,))
    assert check(lambda a: a[idx, 1:], (x,))
    positive = x.detach() > 0
    assert check(lambda a: a[[0, 1], [1, 2]] * a[positive].sum(), (x,))
    v = t.tensor(rng.normal(size=4), requires_grad=True)

    def put(a, v):
        y = a * 1
        y[t.tensor([2, 0])] = v
        y[0, mask] = y[0, mask] * 3
        return y
    assert check(put, (x, v))
    x.grad = None
    x[idx].sum().backward()  # repeated indices add up
    want = np.zeros((3, 4))
    np.add.at(want, [0, 2, 0], 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), want)
    y = x * 1
    y[0, mask] = 0.0
    assert y.grad_fn.name() == "CopySlices" and x[idx].grad_fn.name() == "IndexBackward0"
    z = x.clone()
    z[z > 0] = 0.0
    assert z.grad_fn.name() == "IndexPutBackward0"


def test_gradients_of_the_family_against_finite_differences():
    rng = np.random.default_rng(3)
    x = t.tensor(rng.permutation(12).reshape(3, 4) / 5.0, requires_grad=True)
    b = t.tensor(rng.normal(size=(2, 4)), requires_grad=True)
    check = t.autograd.gradcheck
    assert check(lambda a, b: t.cat([a, b, a]), (x, b))
    assert check(lambda a: t.stack(a.split([1, 3], 1)[1].unbind(1), 0), (x,))
    assert check(lambda a: a.flip(1).roll(1, 0).repeat(2, 1), (x,))
    assert check(lambda a: a.sort(1).values * a.topk(2, 0).values.sum(), (x,))
    big, small = x.detach() > 1.1, x.detach() < 1.9  # masks fixed while x is perturbed
    assert check(lambda a: a.masked_fill(big, 0.5).masked_select(small), (x,))
    assert check(lambda a: a.index_select(1, t.tensor([0, 0, 3])).take(t.tensor([1, 7])), (x,))


# -------------------------------------------------------------------------------- errors

def test_out_of_range_indices_name_the_dimension_and_size():
    x = t.arange(12.).reshape(3, 4)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[[0, 3]]
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x[:, t.tensor([0, 4])]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 4"):
        x[:, 5]
    with pytest.raises(IndexError, match=r"The shape of the mask \[2\] at index 0 does not match "
                                         r"the shape of the indexed tensor \[3, 4\] at index 0"):
        x[t.tensor([True, False])]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or "
                                         "bool tensors"):
        x[t.tensor([0.5])]
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_select(0, t.tensor([3]))
    with pytest.raises(IndexError, match="out of range: tried to access index 12 on a tensor "
                                         "of 12 elements."):
        x.take(t.tensor([12]))
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, [0]]


def test_failed_writes_leave_the_tensor_unchanged():
    x = t.arange(12.).reshape(3, 4)
    before = x.numpy().copy()
    attempts = [
        lambda: x.__setitem__([0, 5], 1.0),
        lambda: x.__setitem__((1, [0, 9]), 1.0),
        lambda: x.__setitem__(t.ones(3, 3, dtype=t.bool), 1.0),
        lambda: x.__setitem__([0, 1], t.ones(3, 4)),
        lambda: x.index_put_((t.tensor([0, 3]),), t.tensor(1.0), accumulate=True),
        lambda: x.masked_fill_(t.ones(2, 3, 4, dtype=t.bool), 1.0),
        lambda: x.scatter_(0, t.tensor([[0, 3]]), 1.0),
        lambda: x.index_add_(0, t.tensor([0, 7]), t.ones(2, 4)),
        lambda: x.index_copy_(1, t.tensor([9]), t.ones(3, 1)),
        lambda: x.resize_(-1),
    ]
    for attempt in attempts:
        with pytest.raises((IndexError, RuntimeError)):
            attempt()
        np.testing.assert_array_equal(x.numpy(), before)
        assert x.shape == t.Size([3, 4])


def test_shape_errors_name_the_op():
    x = t.ones(3, 4)
    with pytest.raises(RuntimeError, match=r"cat\(\): Sizes of tensors must match except in "
                                           "dimension 0. Expected size 4 but got size 3"):
        t.cat([x, t.zeros(2, 3)])
    with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
        t.cat([])
    with pytest.raises(RuntimeError, match=r"stack\(\): stack expects each tensor to be equal "
                                           "size"):
        t.stack([x, x[:2]])
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
        x.masked_fill(t.ones(4, dtype=t.int64), 0.0)
    with pytest.raises(RuntimeError, match="split_size can only be 0 if dimension size is 0"):
        x.split(0)
    with pytest.raises(RuntimeError, match=r"topk\(\): selected index k out of range"):
        x.topk(5)
    with pytest.raises(RuntimeError, match=r"flip\(\): dim 0 appears multiple times"):
        x.flip(0, 0)


# -------------------------------------------------------------------------------- tracing

def test_traced_masked_select_and_nonzero_run_with_other_counts():
    def positives(a):
        return a.masked_select(a > 0) * 2, t.nonzero(a > 0), a[a < 0].sum()

    traced = t.jit.trace(positives, (t.tensor([1.0, -1.0, 2.0]),), dynamic_dims={0: "N"})
    for data in ([1.0, -1.0, 2.0, 3.0, -5.0], [-1.0, -2.0], [4.0]):
        n = np.array(data, dtype=np.float32)
        selected, where, negatives = traced(t.tensor(data))
        np.testing.assert_array_equal(selected.numpy(), n[n > 0] * 2)
        np.testing.assert_array_equal(where.numpy(), np.argwhere(n > 0))
        np.testing.assert_allclose(negatives.item(), n[n < 0].sum())


def test_traced_advanced_setitem_writes_back():
    def clip(a):
        a = a.clone()
        a[a < 0] = 0.0
        a[t.tensor([0])] = 7.0
        return a

    traced = t.jit.trace(clip, (t.tensor([1.0, -1.0, 2.0]),))
    assert "index_put" in traced.graph.op_counts()
    np.testing.assert_array_equal(traced(t.tensor([-1.0, 3.0, -4.0])).numpy(), [7.0, 3.0, 0.0])


def test_scatter_reduce_add_with_tensor_or_number():
    y = t.ones(3)
    assert y.scatter(0, t.tensor([0, 2]), 5.0, reduce="add").tolist() == [6.0, 1.0, 6.0]
    x = t.zeros(3)
    got = x.scatter(0, t.tensor([0, 0, 2]), t.tensor([1.0, 2.0, 3.0]), reduce="add")
    assert got.tolist() == [3.0, 0.0, 3.0]
    with pytest.raises(ValueError, match="reduce='multiply' is not supported"):
        x.scatter(0, t.tensor([0]), t.tensor([1.0]), reduce="multiply")
