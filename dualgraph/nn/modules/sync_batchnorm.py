"""`nn.SyncBatchNorm`: batch normalization whose statistics cover the whole data-parallel batch.

While training in a process group of more than one rank, the per-channel mean and variance are
computed over every rank's samples: a differentiable all-reduce (dg.distributed.autograd_ops)
sums each channel's values and sample count, then the squared deviations from that mean (two
passes, as the single-process BatchNorm computes them, rather than E[x^2] - E[x]^2). Backward
flows through the same all-reduces, so gradients are those of one BatchNorm over the
concatenated batch. In eval mode, or without an initialized group of 2+ ranks, it is BatchNorm.
`SyncBatchNorm.convert_sync_batchnorm(model)` swaps every BatchNorm*d of a model for one.
"""

from __future__ import annotations

from typing import Any

from ...autograd.grad_mode import no_grad
from ...methods.indexing import cat
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, *) with statistics shared across `process_group` (PyTorch's)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Any) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _syncing(self) -> bool:
        if not self.training:
            return False
        from ... import distributed as dist
        return dist.is_initialized() and dist.get_world_size(self.process_group) > 1

    def forward(self, input: Any) -> Any:
        if not self._syncing():
            return super().forward(input)
        self._check_input_dim(input)
        from ...distributed.autograd_ops import all_reduce_sum
        from ...creation import tensor
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        c = input.shape[1]
        dims = (0,) + tuple(range(2, input.dim()))
        shape = (1, c) + (1,) * (input.dim() - 2)
        local = tensor([float(input.numel() // c)], dtype=input.dtype)
        sums = all_reduce_sum(cat([input.sum(dims), local]), self.process_group)
        count = float(sums[c].item())
        if count <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size torch.Size({list(input.shape)}) over all ranks")
        mean = sums[:c] / count
        centered = input - mean.reshape(shape)
        var = all_reduce_sum((centered * centered).sum(dims), self.process_group) / count
        y = centered / (var.reshape(shape) + self.eps).sqrt()
        if self.track_running_stats and self.running_mean is not None:
            with no_grad():
                self.running_mean.copy_(mean.detach() * factor
                                        + self.running_mean * (1.0 - factor))
                unbiased = var.detach() * (count / (count - 1))
                self.running_var.copy_(unbiased * factor + self.running_var * (1.0 - factor))
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        return y + self.bias.reshape(shape) if self.bias is not None else y

    @classmethod
    def convert_sync_batchnorm(cls, module: Any, process_group: Any = None) -> Any:
        """`module` with every BatchNorm1d/2d (itself or inside it) replaced by a SyncBatchNorm
        holding the same parameters, buffers and train/eval mode."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in list(module.named_children()):
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
