"""Process groups on MPI: `init_process_group`, `new_group`, ranks and sizes.

The MPI launcher (`mpiexec -n N python script.py`) starts the processes and gives each its rank,
so there is no rendezvous to configure: `init_process_group` reads rank and size from MPI. The
default group talks over a duplicate of MPI_COMM_WORLD, so a user's own mpi4py traffic on
COMM_WORLD never mixes with dualgraph's. Backend "gloo", the name PyTorch scripts use on CPUs,
runs on this same MPI transport.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from typing import Any, Sequence

__all__ = ["Backend", "ProcessGroup", "GroupMember", "group", "init_process_group",
           "destroy_process_group", "is_initialized", "is_available", "is_mpi_available",
           "is_gloo_available", "is_nccl_available", "get_rank", "get_world_size",
           "get_backend", "new_group", "default_pg_timeout"]

default_pg_timeout = datetime.timedelta(minutes=30)
_EXTRA = 'pip install "dualgraph[distributed]"  (mpi4py and the mpich MPI)'


def mpi() -> Any:
    """mpi4py's MPI module, imported on first use (the core imports without it)."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"dg.distributed needs mpi4py and an MPI library: {_EXTRA}") from e
    return MPI


class Backend(str):
    """A backend name ("mpi" or "gloo"), lower-cased as PyTorch's Backend is."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name: str) -> "Backend":
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value == "nccl":
            raise RuntimeError("Distributed package doesn't have NCCL built in: dualgraph's "
                               "distributed package runs on MPI for CPU tensors; use "
                               "backend='mpi' or 'gloo'")
        if value not in ("mpi", "gloo"):
            raise ValueError(f"Invalid backend: '{name}' (dualgraph supports 'mpi' and 'gloo', "
                             "which runs on MPI too)")
        return super().__new__(cls, value)


class ProcessGroup:
    """A set of ranks with its own MPI communicator; `ranks` are global (COMM_WORLD) ranks."""

    def __init__(self, comm: Any, ranks: Sequence[int], backend: Backend, timeout: float,
                 name: str) -> None:
        self.comm, self.ranks, self.backend = comm, list(ranks), backend
        self.timeout, self.name = timeout, name

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    def group_rank(self, global_rank: int, who: str, what: str) -> int:
        """The rank inside this group of a global rank (src=/dst= take global ranks)."""
        if global_rank not in self.ranks:
            raise ValueError(f"{who}: {what}={global_rank} is not a rank of the group "
                             f"(its global ranks are {self.ranks})")
        return self.ranks.index(global_rank)

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


class GroupMember:
    """PyTorch's markers: `WORLD` is the default group once initialized; `NON_GROUP_MEMBER` is
    what `new_group` returns on a rank outside the new group."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


group = GroupMember  # dist.group.WORLD, as in PyTorch


def is_available() -> bool:
    """True when mpi4py (with an MPI library) can be imported."""
    try:
        mpi()
    except ImportError:
        return False
    return True


is_mpi_available = is_gloo_available = is_available


def is_nccl_available() -> bool:
    """False: dualgraph's distributed package runs on MPI for CPU tensors."""
    return False


def is_initialized() -> bool:
    """Whether `init_process_group` has run (and `destroy_process_group` has not)."""
    return GroupMember.WORLD is not None


def _world() -> ProcessGroup:
    if GroupMember.WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return GroupMember.WORLD


def resolve(grp: Any) -> ProcessGroup | None:
    """The group a collective runs on (None: this rank is not a member, nothing to do)."""
    world = _world()
    if grp is None or grp is GroupMember.WORLD:
        return world
    if grp is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(grp, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup from dg.distributed.new_group (or None "
                        f"for the default group), got {type(grp).__name__}")
    if grp.comm is None:
        raise ValueError(f"{grp!r} has been destroyed")
    return grp


def _timeout_seconds(timeout: Any) -> float:
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    if timeout.total_seconds() <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    return timeout.total_seconds()


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def _check_launcher(size: int, rank: int, world_size: int, want_rank: int) -> None:
    """Refuse a rank/world size (arguments or torchrun's RANK/WORLD_SIZE) MPI does not have."""
    env_size, env_rank = _env_int("WORLD_SIZE"), _env_int("RANK")
    for what, value, actual in (("world_size", world_size, size), ("rank", want_rank, rank)):
        if value != -1 and value != actual:
            raise ValueError(f"init_process_group: {what}={value} was given, but the MPI "
                             f"launcher started this process as rank {rank} of {size}; rank "
                             "and world size come from mpiexec (omit them or pass the same)")
    if env_size is not None and env_size != size:
        raise RuntimeError(
            f"init_process_group: the environment says WORLD_SIZE={env_size} (RANK={env_rank}), "
            f"as torchrun sets it, but this process's MPI world has size {size}. dualgraph's "
            "distributed package runs on MPI: processes not started together by mpiexec are "
            "separate MPI worlds of size 1 and cannot join each other through RANK/WORLD_SIZE "
            "or MASTER_ADDR. Launch with `mpiexec -n N python script.py` instead of torchrun.")
    if env_rank is not None and env_size == size and env_rank != rank:
        raise RuntimeError(f"init_process_group: the environment says RANK={env_rank} but "
                           f"mpiexec started this process as rank {rank}; unset RANK or launch "
                           "with mpiexec alone")


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: datetime.timedelta | None = None, world_size: int = -1,
                       rank: int = -1, store: Any = None, group_name: str = "",
                       pg_options: Any = None, device_id: Any = None) -> None:
    """Join the processes `mpiexec` started into the default process group.

    `backend` is "gloo" (the default, as PyTorch's on CPUs) or "mpi"; both run on MPI.
    `init_method` may be None or "env://"; `world_size`/`rank`, if given, must be MPI's.
    `timeout` bounds every wait of a collective on this group (30 minutes by default).
    """
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend("gloo" if backend is None else backend)
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method={init_method!r} is not supported: the "
                         "MPI launcher already connects the processes (use None or 'env://' and "
                         "start the job with mpiexec -n N)")
    for arg, value in (("store", store), ("pg_options", pg_options)):
        if value is not None:
            raise ValueError(f"init_process_group: {arg}= is not supported on the MPI transport "
                             f"(mpiexec does the rendezvous); got {type(value).__name__}")
    if device_id is not None and str(device_id) != "cpu":
        raise ValueError(f"init_process_group: device_id={device_id!r}: the MPI transport "
                         "carries CPU tensors only")
    seconds = _timeout_seconds(timeout)
    MPI = mpi()
    world = MPI.COMM_WORLD
    _check_launcher(world.Get_size(), world.Get_rank(), world_size, rank)
    comm = world.Dup()
    GroupMember.WORLD = ProcessGroup(comm, range(comm.Get_size()), name, seconds,
                                     group_name or "default_pg")
    _install_abort_hook()


def _install_abort_hook() -> None:
    """An uncaught exception on one rank aborts the whole MPI job (the others would otherwise
    wait in their next collective until the timeout): print it, then MPI_Abort."""
    previous = sys.excepthook
    if getattr(previous, "_dualgraph_abort", False):
        return

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        previous(kind, value, tb)
        world = GroupMember.WORLD
        if world is not None and world.size() > 1:
            sys.stderr.write(f"dg.distributed: rank {world.rank()} raised {kind.__name__}; "
                             "aborting the MPI job\n")
            sys.stderr.flush()
            # mpiexec forwards output through pipes and drops what is still in them when the
            # abort kills the job: give it a moment to pass the traceback on
            time.sleep(0.5)
            mpi().COMM_WORLD.Abort(1)

    hook._dualgraph_abort = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Free a group's communicator; with no argument, the default group and all groups made."""
    world = _world()
    if group is None or group is world:
        for g in _made:
            _free(g)
        _made.clear()
        _free(world)
        GroupMember.WORLD = None
        return
    if isinstance(group, ProcessGroup):
        _free(group)
        if group in _made:
            _made.remove(group)


_made: list = []


def _free(g: ProcessGroup) -> None:
    if g.comm is not None:
        g.comm.Free()
        g.comm = None


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in `group` (the default group if None); -1 if not a member."""
    g = resolve(group)
    return -1 if g is None else g.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in `group` (the default group if None); -1 if not a member."""
    g = resolve(group)
    return -1 if g is None else g.size()


def get_backend(group: ProcessGroup | None = None) -> Backend:
    """The backend name of `group`."""
    g = resolve(group)
    if g is None:
        raise ValueError("Invalid process group specified")
    return g.backend


def new_group(ranks: Sequence[int] | None = None, timeout: datetime.timedelta | None = None,
              backend: str | None = None, pg_options: Any = None,
              use_local_synchronization: bool = False, group_desc: str | None = None) -> Any:
    """A group of the given global ranks. Every rank of the default group calls it (unless
    `use_local_synchronization`, then only members do); non-members get NON_GROUP_MEMBER."""
    world = _world()
    if pg_options is not None:
        raise ValueError("new_group: pg_options= is not supported on the MPI transport")
    chosen = list(range(world.size())) if ranks is None else sorted(int(r) for r in ranks)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"new_group: ranks {list(ranks or [])} has duplicates")
    for r in chosen:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is outside the world of size {world.size()}")
    name = world.backend if backend is None else Backend(backend)
    seconds = world.timeout if timeout is None else _timeout_seconds(timeout)
    member = world.rank() in chosen
    mpi_group = world.comm.Get_group().Incl(chosen)
    if use_local_synchronization:
        comm = world.comm.Create_group(mpi_group) if member else None
    else:
        comm = world.comm.Create(mpi_group)
    mpi_group.Free()
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    made = ProcessGroup(comm, chosen, name, seconds, group_desc or f"group{len(_made) + 1}")
    _made.append(made)
    return made
