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

    def nll_weights(target, weight, ignore_index, dtype):
        """(the targets with ignored ones at class 0, each target's weight: 0 if ignored)."""
        ignored = target == ignore_index
        safe = xp.where(ignored, 0, target)
        return ignored, safe, xp.where(ignored, 0, weight[safe]).astype(dtype, copy=False)

    def nll_loss(x, target, weight, reduction="mean", ignore_index=-100):
        check_target(target, x, 1, ignore_index)
        ignored, safe, w = nll_weights(target, weight, ignore_index, x.dtype)
        loss = -xp.take_along_axis(x, safe[:, None], axis=1)[:, 0] * w
        if reduction == "none":
            return loss
        total = loss.sum()
        return total if reduction == "sum" else total / w.sum()

    def nll_loss_backward(g, target, weight, size=(), reduction="mean", ignore_index=-100):
        ignored, safe, w = nll_weights(target, weight, ignore_index, g.dtype)
        coef = g / w.sum() if reduction == "mean" else g
        picked = xp.where(ignored, 0, -(w * coef)).astype(g.dtype, copy=False)  # +0 if ignored
        out = xp.zeros(tuple(size), g.dtype)
        xp.put_along_axis(out, safe[:, None], picked[:, None], axis=1)
        return out

    def embedding(weight, indices, padding_idx=None, scale_grad_by_freq=False):
        n = weight.shape[0]
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n):
            raise IndexError("index out of range in self")
        return weight[indices]

    def embedding_backward(g, indices, num_weights=1, padding_idx=None,
                           scale_grad_by_freq=False):
        flat = indices.reshape(-1)
        out = xp.zeros((num_weights, g.shape[-1]), g.dtype)
        xp.add.at(out, flat, g.reshape(-1, g.shape[-1]))
        if scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=num_weights)
            out /= xp.maximum(counts, 1)[:, None].astype(g.dtype)
        if padding_idx is not None:
            out[padding_idx % num_weights] = 0
        return out

    return {"check_target": check_target, "check_probability": check_probability,
            "mse_loss": mse_loss, "nll_loss": nll_loss, "nll_loss_backward": nll_loss_backward,
            "embedding": embedding, "embedding_backward": embedding_backward}
