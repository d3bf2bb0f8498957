"""`dg.linalg`: linear algebra (`linalg.norm`, `inv`, `solve`, `svd` arrive with the tensor API
issue); `matmul` is here already, as in PyTorch."""

from .ops import matmul

__all__ = ["matmul"]
