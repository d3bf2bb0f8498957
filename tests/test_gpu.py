"""The GPU column: every op sample on `cuda` equals the CPU result. Skipped without a GPU (CuPy
and a visible device); run it on a machine with one."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.dispatch import bind

from .test_op_conformance import CASES, _inputs, _outs

pytestmark = pytest.mark.skipif(not dg.cuda.is_available(), reason="needs CuPy and a GPU")


@pytest.mark.parametrize("op,sample", CASES)
def test_gpu_matches_cpu(op, sample):
    cpu_inputs = _inputs(sample, dg.float32)
    attrs = dict(sample.attrs)
    if "device" in attrs:
        attrs["device"] = dg.device("cuda")
    gpu_inputs = [x.cuda() if isinstance(x, dg.Tensor) else x for x in cpu_inputs]
    expected = bind(op, cpu_inputs, sample.attrs)
    got = bind(op, gpu_inputs, attrs)
    for g, e in zip(_outs(got), _outs(expected), strict=True):
        assert g.device.type == "cuda" and g.dtype is e.dtype
        np.testing.assert_allclose(g.cpu().numpy(), e.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op,sample", [c for c in CASES if c.values[0].differentiable
                                       and c.values[1].grad])
def test_gpu_gradients_match_cpu(op, sample):
    cpu_inputs = _inputs(sample, dg.float64, requires_grad=True)
    gpu_inputs = [(x.detach().cuda().requires_grad_() if x.requires_grad else x.cuda())
                  if isinstance(x, dg.Tensor) else x for x in cpu_inputs]
    attrs = {k: (dg.device("cuda") if k == "device" else v) for k, v in sample.attrs.items()}
    for inputs, a in ((cpu_inputs, sample.attrs), (gpu_inputs, attrs)):
        _outs(bind(op, inputs, a))[0].sum().backward()
    for c, g in zip(cpu_inputs, gpu_inputs):
        if isinstance(c, dg.Tensor) and c.grad is not None:
            np.testing.assert_allclose(g.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-10)


def test_device_round_trip_keeps_autograd():
    x = dg.ones(3, requires_grad=True)
    y = (x.cuda() * 2).cpu()
    assert repr((x.cuda() * 2)).startswith("tensor([2., 2., 2.], device='cuda:0'")
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and x.grad.device.type == "cpu"
