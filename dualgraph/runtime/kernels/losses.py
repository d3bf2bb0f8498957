"""Kernels of the losses and loss checks (`ir/ops/losses.py`): the checks pass the input
through, or raise PyTorch's error for bad data, and return a copy (an output is never an
untracked alias of an input)."""

from __future__ import annotations

from typing import Any, Callable

# log(0) in binary_cross_entropy (clamped at -100 after), as PyTorch computes it silently
QUIET = frozenset({"binary_cross_entropy"})


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

    def fits(x, *weights):
        """Each weight broadcasts to `x`'s shape without enlarging it (the meta function
        explains a failure)."""
        for w in weights:
            if hasattr(w, "shape") and xp.broadcast_shapes(x.shape, w.shape) != x.shape:
                raise ValueError("a weight does not broadcast to the input's shape")

    def reduced(loss, reduction):
        if reduction == "none":
            return loss
        return loss.mean() if reduction == "mean" else loss.sum()

    def binary_cross_entropy_with_logits(x, y, weight, pos_weight, reduction="mean"):
        if x.shape != y.shape:
            raise ValueError("target size must be the same as input size")
        fits(x, weight, pos_weight)
        log_sig = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))  # no overflow, no log(0)
        if not _is_one(pos_weight):
            log_sig = log_sig * ((pos_weight - 1) * y + 1)
        loss = (1 - y) * x - log_sig
        if not _is_one(weight):
            loss = loss * weight
        return reduced(loss.astype(x.dtype, copy=False), reduction)

    def binary_cross_entropy(x, y, weight, reduction="mean"):
        if x.shape != y.shape:
            raise ValueError("target size must be the same as input size")
        fits(x, weight)
        check_probability(x)
        # PyTorch's form: (y - 1) max(log1p(-x), -100) - y max(log x, -100)
        loss = (y - 1) * xp.maximum(xp.log1p(-x), -100) - y * xp.maximum(xp.log(x), -100)
        if not _is_one(weight):
            loss = loss * weight
        return reduced(loss.astype(x.dtype, copy=False), reduction)

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
            "embedding": embedding, "embedding_backward": embedding_backward,
            "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
            "binary_cross_entropy": binary_cross_entropy}


def _is_one(w: Any) -> bool:
    """A weight left out: the number 1.0 (nothing to multiply)."""
    return not hasattr(w, "shape") and w == 1.0
