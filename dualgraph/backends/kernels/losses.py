"""Kernels of the losses and loss checks (`ir/ops/losses.py`): the checks pass the input
through, or raise PyTorch's error for bad data, and return a copy (an output is never an
untracked alias of an input)."""

from __future__ import annotations

from typing import Any, Callable


def kernels(xp: Any) -> dict[str, Callable]:
    def check_target(target, input, class_dim=1, ignore_index=-100):
        n = input.shape[class_dim] if input.ndim else 1
        bad = (target != ignore_index) & ((target < 0) | (target >= n))
        if bad.any():
            raise IndexError(f"Target {int(target[bad].reshape(-1)[0])} is out of bounds.")
        return target.copy()  # a new tensor: never an untracked alias of the input

    def check_probability(x):
        if not ((x >= 0) & (x <= 1)).all():  # NaN fails both comparisons, as in PyTorch
            raise RuntimeError("all elements of input should be between 0 and 1")
        return x.copy()

    def mse_loss(x, t, reduction="mean"):
        d = x - t
        loss = d * d
        if reduction == "none":
            return loss
        return loss.mean() if reduction == "mean" else loss.sum()

    return {"check_target": check_target, "check_probability": check_probability,
            "mse_loss": mse_loss}
