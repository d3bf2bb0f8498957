"""Run under `mpiexec -n 2` with a mode argument: failures end the job loudly, never hang.

  raise     rank 1 raises before a collective rank 0 is waiting in: the job aborts, naming it
  kill      rank 1 kills itself with SIGKILL: the launcher ends rank 0 too (long before the
            60 s timeout)
  timeout   rank 1 never calls the collective: rank 0's all_reduce fails after the group's
            2 s timeout with DistBackendError, which aborts the job
  mismatch  DUALGRAPH_DISTRIBUTED_DEBUG=DETAIL: ranks all-reduce different shapes; both get a
            RuntimeError naming each rank's call, then exit cleanly
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
import time

import dualgraph as dg
import dualgraph.distributed as dist

mode = sys.argv[1]
# 2 s for the timeout mode; 60 s elsewhere, so what ends the job there is not the timeout
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2 if mode == "timeout" else 60))
rank = dist.get_rank()
t = dg.ones(4)
if mode == "mismatch":
    os.environ["DUALGRAPH_DISTRIBUTED_DEBUG"] = "DETAIL"
    try:
        dist.all_reduce(dg.ones(4 + rank))
    except RuntimeError as e:
        assert "rank 0: " in str(e) and "[4]" in str(e) and "[5]" in str(e), e
        print(f"rank {rank} caught mismatch", flush=True)
    else:
        raise AssertionError("mismatched shapes went unnoticed")
    dist.destroy_process_group()
    sys.exit(0)
if rank == 1:
    if mode == "raise":
        raise ValueError("rank 1 failed on purpose")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "timeout":
        time.sleep(20)  # alive but silent; the job is ended before this returns
        sys.exit(0)
dist.all_reduce(t)
print(f"rank {rank} finished an all_reduce it should not have", flush=True)
