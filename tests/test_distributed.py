"""dg.distributed and DistributedDataParallel, run as users run them: `mpiexec -n 2` (and 3) of
the scripts in tests/distributed/, each checking its results against NumPy or single-process
training on every rank; plus the errors and the sampler, in this process (no MPI here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.distributed as dist
from dualgraph.distributed.objects import decode, encode
from dualgraph.utils.data import DistributedSampler

HERE = Path(__file__).parent / "distributed"


def _mpiexec() -> str:
    beside = Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError('mpiexec not found: install the extra, pip install -e ".[distributed]"')
    return found


def launch(n: int, script: str, *args: str, timeout: float = 60) -> tuple:
    """Run `mpiexec -n n python script args`; (return code, output, seconds)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    env["DUALGRAPH_DISTRIBUTED_DEBUG"] = ""
    start = time.monotonic()
    done = subprocess.run([_mpiexec(), "-n", str(n), sys.executable, str(HERE / script), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_matches_numpy_on_each_rank(n: int) -> None:
    rc, out, _ = launch(n, "collectives_check.py")
    assert rc == 0, out
    for r in range(n):
        assert f"rank {r} ok" in out, out


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_training_equals_one_process_on_the_whole_batch(n: int) -> None:
    """20 steps of the tutorials' Net and the CNN; no_sync; find_unused_parameters."""
    rc, out, _ = launch(n, "ddp_check.py", timeout=90)
    assert rc == 0, out
    for r in range(n):
        assert f"rank {r} ok buckets 2 1" in out, out


def test_a_rank_that_raises_aborts_the_job_naming_it() -> None:
    rc, out, seconds = launch(2, "failure_check.py", "raise")
    assert rc != 0 and "rank 1 failed on purpose" in out, out
    assert "rank 1 raised ValueError; aborting the MPI job" in out, out
    assert "should not have" not in out and seconds < 20  # the abort, not the 60 s timeout


def test_a_killed_rank_ends_the_job() -> None:
    rc, out, seconds = launch(2, "failure_check.py", "kill")
    assert rc != 0 and "should not have" not in out, out
    assert seconds < 20  # well inside the group's 60 s timeout: mpiexec ended rank 0


def test_a_silent_rank_times_the_collective_out() -> None:
    rc, out, seconds = launch(2, "failure_check.py", "timeout")
    assert rc != 0, out
    assert "DistBackendError: all_reduce on rank 0 timed out after 2 s" in out, out
    assert seconds < 15  # rank 1 sleeps 20 s: the timeout, not rank 1, ended the job


def test_debug_mode_names_mismatched_shapes() -> None:
    rc, out, _ = launch(2, "failure_check.py", "mismatch")
    assert rc == 0, out
    assert "rank 0 caught mismatch" in out and "rank 1 caught mismatch" in out, out


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=full)


def test_torchrun_environment_is_refused_with_the_reason() -> None:
    done = _python("import dualgraph.distributed as d; d.init_process_group('gloo')",
                   WORLD_SIZE="2", RANK="1")
    assert done.returncode != 0
    assert "WORLD_SIZE=2" in done.stderr and "separate MPI worlds of size 1" in done.stderr
    assert "mpiexec -n N" in done.stderr


def test_one_process_without_mpiexec_is_a_world_of_one() -> None:
    done = _python("import dualgraph as dg, dualgraph.distributed as d\n"
                   "d.init_process_group('mpi'); t = dg.ones(2)\n"
                   "d.all_reduce(t, op=d.ReduceOp.AVG)\n"
                   "print(d.get_rank(), d.get_world_size(), d.get_backend(), t.tolist())")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "mpi", "[1.0,", "1.0]"]


def test_core_imports_without_mpi4py_and_says_which_extra() -> None:
    done = _python("import sys; sys.modules['mpi4py'] = None\n"
                   "import dualgraph, dualgraph.distributed as d\n"
                   "assert not d.is_available()\n"
                   "d.init_process_group()")
    assert "ImportError" in done.stderr and "dualgraph[distributed]" in done.stderr, done.stderr


def test_argument_errors_before_any_communication() -> None:
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="NCCL"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="Invalid backend: 'ucc'"):
        dist.init_process_group("ucc")
    with pytest.raises(ValueError, match="init_method='tcp://"):
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:23456")
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("gloo", timeout=30)
    with pytest.raises(ValueError, match="device_ids and output_device"):
        dg.nn.parallel.DistributedDataParallel(dg.nn.Linear(2, 2), device_ids=[0])
    with pytest.raises(ValueError, match="init_process_group"):
        dg.nn.parallel.DistributedDataParallel(dg.nn.Linear(2, 2))
    assert not dist.is_initialized() and not dist.is_nccl_available()


def test_objects_travel_as_tagged_json_never_pickle() -> None:
    value = {"a": (1, 2.5, None), 7: [True, "x", b"\x00\x01"], (1, "k"): float("nan")}
    back = decode(encode(value))
    assert back.keys() == value.keys() and back["a"] == (1, 2.5, None)
    assert back[7] == [True, "x", b"\x00\x01"] and back[(1, "k")] != back[(1, "k")]  # nan
    assert b"pickle" not in encode(value)

    class Custom:
        pass
    with pytest.raises(TypeError, match=r"never pickle; the object\[1\] is a .*Custom"):
        encode([1, Custom()])
    with pytest.raises(TypeError, match="tensors: use broadcast"):
        encode({"w": dg.ones(2)})
    with pytest.raises(ValueError, match="malformed"):
        decode(b'{"call": "os.system"}')


def test_distributed_sampler_shards_pad_and_reshuffle() -> None:
    shards = [list(DistributedSampler(range(10), 3, r, shuffle=False)) for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]  # padded with the first two
    trimmed = [list(DistributedSampler(range(10), 3, r, shuffle=False, drop_last=True))
               for r in range(3)]
    assert trimmed == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    samplers = [DistributedSampler(range(11), 2, r, seed=5) for r in range(2)]
    first = [list(s) for s in samplers]
    assert sorted(set(first[0] + first[1])) == list(range(11))  # all, one index twice
    assert [len(s) for s in first] == [6, 6] and first[0] != sorted(first[0])
    assert [list(s) for s in samplers] == first  # same epoch, same order
    for s in samplers:
        s.set_epoch(1)
    assert [list(s) for s in samplers] != first
    assert sorted(set(list(samplers[0]) + list(samplers[1]))) == list(range(11))
    assert list(DistributedSampler(range(2), 5, 4, shuffle=False)) == [0]  # padding wraps
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval"):
        DistributedSampler(range(4), 3, 3)
    with pytest.raises(RuntimeError, match="initialized"):
        DistributedSampler(range(4))


def test_example_trains_the_cnn_data_parallel(tmp_path: Path) -> None:
    """examples/digits_cnn_ddp.py on 2 ranks, one epoch of 256 images (learning itself is
    ddp_check.py's subject): the ranks end with identical weights, and the file rank 0 saved
    holds exactly those weights (their printed sha256)."""
    import hashlib
    example = Path(__file__).resolve().parents[1] / "examples" / "digits_cnn_ddp.py"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    done = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(example), "--epochs", "1",
                           "--limit", "256", "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "epoch 1/1 processes=2" in out and "weights identical on all 2 ranks" in out, out
    printed = out.split("(sha256 ")[1].split(")")[0]
    state = dg.load(tmp_path / "weights.dgm", weights_only=True)
    assert list(state) == ["features.0.weight", "features.0.bias", "features.3.weight",
                           "features.3.bias", "classifier.1.weight", "classifier.1.bias"]
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in state.values())).hexdigest()
    assert digest.startswith(printed) and len(printed) == 12


def test_sync_batchnorm_outside_a_group_is_batchnorm_and_converts_in_place() -> None:
    """Without an initialized group of 2+ ranks SyncBatchNorm computes BatchNorm (the 2- and
    3-rank equality with BatchNorm on the whole batch is in ddp_check.py)."""
    dg.manual_seed(0)
    plain = dg.nn.Sequential(dg.nn.Conv2d(1, 2, 3), dg.nn.BatchNorm2d(2, momentum=None))
    synced = dg.nn.Sequential(dg.nn.Conv2d(1, 2, 3), dg.nn.BatchNorm2d(2, momentum=None))
    synced.load_state_dict(plain.state_dict())
    synced.eval()
    converted = dg.nn.SyncBatchNorm.convert_sync_batchnorm(synced)
    assert converted is synced and isinstance(synced[1], dg.nn.SyncBatchNorm)
    assert not synced[1].training and synced[1].momentum is None
    assert synced[1].weight is not plain[1].weight
    synced.train()
    for _ in range(2):
        x = dg.randn(4, 1, 5, 5)
        np.testing.assert_allclose(synced(x).detach().numpy(), plain(x).detach().numpy(),
                                   rtol=1e-6)
    for (name, a), b in zip(synced.state_dict().items(), plain.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, err_msg=name)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        dg.nn.SyncBatchNorm(3)(dg.ones(3))
