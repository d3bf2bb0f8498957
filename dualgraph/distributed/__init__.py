"""`dg.distributed`: PyTorch's torch.distributed API on MPI, for data-parallel training on CPUs.

Start the processes with the MPI launcher and join them with `init_process_group`:

    $ mpiexec -n 2 python train.py

    >>> import dualgraph as dg, dualgraph.distributed as dist   # doctest: +SKIP
    >>> dist.init_process_group("gloo")                          # doctest: +SKIP
    >>> t = dg.ones(3) * (dist.get_rank() + 1)                   # doctest: +SKIP
    >>> dist.all_reduce(t)                                       # doctest: +SKIP

mpi4py is imported on first use: this package imports without it (`is_available()` says
whether it can run). See docs/DISTRIBUTED.md.
"""

from __future__ import annotations

from .collectives import (all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast,
                          reduce, reduce_scatter, reduce_scatter_tensor)
from .objects import all_gather_object, broadcast_object_list
from .p2p import irecv, isend, recv, send
from .rooted import gather, scatter
from .process_group import (Backend, GroupMember, ProcessGroup, default_pg_timeout,
                            destroy_process_group, get_backend, get_rank, get_world_size, group,
                            init_process_group, is_available, is_gloo_available,
                            is_initialized, is_mpi_available, is_nccl_available, new_group)
from .reduce_op import ReduceOp
from .work import DistBackendError, DistError, Work

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "is_mpi_available", "is_gloo_available", "is_nccl_available", "get_rank",
           "get_world_size", "get_backend", "new_group", "group", "GroupMember", "ProcessGroup",
           "Backend", "ReduceOp", "Work", "DistError", "DistBackendError", "default_pg_timeout",
           "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter_tensor", "reduce_scatter", "reduce", "gather", "scatter", "barrier",
           "send", "recv", "isend", "irecv", "all_gather_object", "broadcast_object_list"]
