"""`nn.CosineSimilarity`: F.cosine_similarity as a module."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..module import Module

__all__ = ["CosineSimilarity"]


class CosineSimilarity(Module):
    """F.cosine_similarity(x1, x2, dim, eps) as a module."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Any, x2: Any) -> Any:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
