"""PyTorch behaviours that tutorials rely on: `dualgraph as-torch` finds modules beside the
script and refuses torchvision with what to do; `x[range(n), target]` indexes as a list; a 0-d
tensor formats its value. Expected values were captured once from PyTorch 2.13 (CPU)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import dualgraph as dg


def _as_torch(folder, source: str, cwd) -> subprocess.CompletedProcess:
    script = folder / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "dualgraph.cli", "as-torch", str(script)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


# ------------------------------------------------------------------------------- as-torch

def test_as_torch_finds_modules_beside_the_script_and_refuses_torchvision(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "model.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)
            def forward(self, x):
                return self.fc(x)
    """))
    # run from another folder: the module is found because it sits beside the script
    out = _as_torch(folder, """
        import os, sys
        import torch
        from model import Net
        print(Net()(torch.ones(4, 3)).shape)
        print(sys.path[0] == os.path.dirname(os.path.realpath(__file__)))
        try:
            import torchvision.transforms as T
        except ImportError as exc:  # a ModuleNotFoundError, so such guards keep working
            print(type(exc).__name__, exc.name)  # the parent package is imported first
        import torchvision
    """, cwd=tmp_path)
    assert out.returncode != 0
    assert out.stdout.splitlines() == ["torch.Size([4, 2])", "True",
                                       "ModuleNotFoundError torchvision"]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: torchvision is out of dualgraph's scope")
    assert "TensorDataset" in last and "run this script with PyTorch" in last


def test_as_torch_loads_data_in_worker_processes(tmp_path):
    out = _as_torch(tmp_path, """
        import multiprocessing
        import torch
        from torch.utils.data import DataLoader, Dataset, get_worker_info

        class Numbers(Dataset):  # defined in the script: workers must see the torch alias
            def __len__(self):
                return 6
            def __getitem__(self, i):
                return torch.tensor([float(i)]), get_worker_info().id

        if __name__ == "__main__":
            for x, worker in DataLoader(Numbers(), batch_size=3, num_workers=2, timeout=60):
                print(x.flatten().tolist(), worker.tolist())
            print(multiprocessing.get_start_method())
    """, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[0.0, 1.0, 2.0] [0, 0, 0]", "[3.0, 4.0, 5.0] [1, 1, 1]",
                                       "fork"]


# ----------------------------------------------------------------------- range as an index

def _x() -> dg.Tensor:
    return dg.arange(12.0).reshape(3, 4)


def test_range_indexes_as_a_list():
    x, target = _x(), dg.tensor([0, 1, 2])
    ref = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(x[range(3), target].numpy(), [0.0, 5.0, 10.0])
    np.testing.assert_array_equal(x[range(2)].numpy(), ref[:2])
    np.testing.assert_array_equal(x[range(1, 3), range(2)].numpy(), [4.0, 9.0])
    np.testing.assert_array_equal(x[:, range(0, 4, 2)].numpy(), ref[:, ::2])
    assert x[range(0)].shape == (0, 4) and x[[]].shape == (0, 4)  # PyTorch: size=(0, 4)
    with pytest.warns(UserWarning, match="non-tuple sequence"):  # PyTorch warns the same
        assert x[[range(2)]].shape == (2, 4)


def test_range_index_writes_and_differentiates():
    x = dg.zeros(3, 3)
    x[range(3), range(3)] = 1.0
    np.testing.assert_array_equal(x.numpy(), np.eye(3))
    z = np.random.default_rng(0).standard_normal((4, 5))
    logits = dg.tensor(z, requires_grad=True)
    target = [4, 0, 2, 1]
    log_p = logits - logits.exp().sum(1, keepdim=True).log()
    (-log_p[range(4), dg.tensor(target)].mean()).backward()
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)  # d(mean NLL)/dz = (softmax - onehot) / n
    np.testing.assert_allclose(logits.grad.numpy(), (p - np.eye(5)[target]) / 4, rtol=1e-12)


def test_range_index_under_trace_follows_the_input():
    def pick(x, t):
        return x[range(x.shape[0]), t]
    f = dg.jit.trace(pick, (_x(), dg.tensor([0, 1, 2])))
    np.testing.assert_array_equal(f(_x() + 1, dg.tensor([3, 2, 1])).numpy(), [4.0, 7.0, 10.0])


# -------------------------------------------------------------------------- format of tensors

def test_zero_dim_tensor_formats_its_item():
    # captured from PyTorch 2.13: f"{t}" and format(t, spec) format t.item()
    assert f"{dg.tensor(3.0)}" == "3.0"
    assert format(dg.tensor(3.0), ".2f") == "3.00"
    assert f"{dg.tensor(3)}" == "3" and f"{dg.tensor(True)}" == "True"
    assert f"{dg.tensor(3.0, requires_grad=True)}" == "3.0"
    assert f"{dg.tensor(1.5, dtype=dg.float16)}" == "1.5"
    assert f"{dg.tensor(1 / 3)}" == "0.3333333432674408"  # the float32 value, as a double
    assert f"{dg.tensor(1 / 3, dtype=dg.float64)}" == "0.3333333333333333"
    assert f"{dg.tensor(7):>4d}|{dg.tensor(0.25):.1%}" == "   7|25.0%"
    assert str(dg.tensor(3.0)) == "tensor(3.)"  # str and repr are unchanged
    loss = (dg.ones(2, requires_grad=True) * 2).sum()
    assert f"loss {loss:.4f}" == "loss 4.0000"


def test_other_tensors_take_only_the_empty_spec():
    t = dg.tensor([1.0, 2.0])
    assert f"{t}" == "tensor([1., 2.])" == format(t, "")
    for x in (t, dg.tensor([1.0]), dg.tensor([[1.0]])):  # one element is not enough: PyTorch too
        with pytest.raises(TypeError, match=r"^unsupported format string passed to "
                                            r"Tensor.__format__$"):
            format(x, ".2f")
