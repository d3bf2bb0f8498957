"""Bad input gets an error naming the op, the argument and what was expected — never a NumPy
traceback, never a half-modified tensor."""

from __future__ import annotations

import pytest

import dualgraph as dg
from dualgraph.ir import CPU, Device, OpError, TensorType, get


def test_mismatched_shapes_name_the_op_and_both_shapes():
    with pytest.raises(RuntimeError, match=r"add\(\): The size of tensor a \(3\) must match the "
                                           r"size of tensor b \(4\) at non-singleton dimension 1; "
                                           r"input shapes are \[2, 3\] and \[4\]"):
        dg.ones(2, 3) + dg.ones(4)


def test_matmul_errors():
    with pytest.raises(RuntimeError, match=r"matmul\(\): shapes \[2, 3\] and \[4, 3\] cannot be "
                                           "multiplied"):
        dg.ones(2, 3) @ dg.ones(4, 3)
    with pytest.raises(RuntimeError, match=r"matmul\(\): expected both inputs to have the same "
                                           "dtype, but got torch.float32 and torch.float64"):
        dg.ones(2, 3) @ dg.ones(3, 2, dtype=dg.float64)


def test_view_and_reshape_errors():
    with pytest.raises(RuntimeError, match=r"view\(\): shape '\[4, 2\]' is invalid for input of "
                                           "size 6"):
        dg.ones(2, 3).view(4, 2)
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's "
                                           "size and stride"):
        dg.ones(3, 4).t().view(12)
    assert dg.ones(3, 4).t().reshape(12).shape == (12,)  # reshape copies when it must


def test_index_and_dim_errors():
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        dg.ones(2, 3)[5]
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 2\)"):
        dg.ones(2, 3).sum(2)
    with pytest.raises(IndexError, match="too many indices"):
        dg.ones(2)[0, 0]


def test_dtype_errors():
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype"):
        dg.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="bool"):
        -dg.tensor([True])


def test_devices_must_agree():
    add = get("add")
    cuda = Device("cuda:0")
    with pytest.raises(OpError, match=r"add\(\): Expected all tensors to be on the same device, "
                                      "but found at least two devices, cpu and cuda:0!"):
        add.meta([TensorType(dg.float32, (2,), CPU), TensorType(dg.float32, (2,), cuda)], {})


def test_cuda_without_a_gpu_names_the_missing_piece():
    if dg.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CUDA is not available: "):
        dg.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        dg.zeros(2, device="cuda")


def test_failed_in_place_ops_leave_the_tensor_unchanged():
    x = dg.ones(2, 3)
    before = x.tolist()
    with pytest.raises(RuntimeError):
        x.add_(dg.ones(4))  # shape mismatch
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x[0].add_(dg.ones(2, 3))  # would need to broadcast the destination
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        dg.ones(3, 1).expand(3, 4).add_(1)
    assert x.tolist() == before and x._version_counter().value == 0


def test_non_numbers_are_refused_by_name():
    with pytest.raises(TypeError, match="expected a Tensor or a Python number, got str"):
        dg.ones(2) + "a"
    with pytest.raises(TypeError, match="unexpected attribute"):
        get("sum").full_attrs({"axis": 0})
