"""`dg.profiler.profile`: where the time goes, in `torch.profiler`'s shape.

    from dualgraph.profiler import profile, record_function, ProfilerActivity

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("step"):
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
    prof.export_chrome_trace("trace.json")   # open in Perfetto or chrome://tracing

While recording, an interpreter sits on the dispatch stack of the profiling thread and times
every eager op (`dg::mul`, forward and inside backward); the autograd engine reports each node
(`MulBackward0`), compiled graphs run an instrumented copy of their generated code that reports
each kernel (`kernel::matmul`, `kernel::fused[...]`) inside a `graph::<name>` range, and
optimizers report `Optimizer.step#SGD.step`. Only the thread that entered `profile()` is
recorded.
"""

from __future__ import annotations

import enum
import warnings
from contextlib import ContextDecorator
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .. import recording
from ..cuda import is_available as cuda_available
from ..dispatch import Interpreter, interpreting
from ..ir.registry import OpDef
from .chrome import write_trace
from .events import EventList, build_events


class ProfilerActivity(enum.Enum):
    """What to record: CPU (ops, nodes, kernels as they run on the host) or CUDA."""

    CPU = 0
    CUDA = 2


class ProfilerAction(enum.Enum):
    """What the profiler does during a step, as a `schedule` says."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0,
             skip_first: int = 0) -> Callable[[int], ProfilerAction]:
    """PyTorch's schedule: skip `skip_first` steps, then cycles of `wait` idle steps, `warmup`
    steps, `active` recorded steps (the last one saves: `on_trace_ready` runs), `repeat` times
    (0: until the profiler stops)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} "
            f"(need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
            f"skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)
    cycle = wait + warmup + active

    def schedule_fn(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if repeat > 0 and step / cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


class record_function(ContextDecorator):
    """A named range in the profile (`with record_function("forward"):` or as a decorator);
    does nothing when no profiler is recording on this thread."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"record_function(): name must be a str, got {type(name).__name__}")
        self.name = name
        self._open: list = []

    def __enter__(self) -> "record_function":
        rec = recording.current()
        self._open.append((rec, rec.begin(self.name, "user_annotation")) if rec else None)
        return self

    def __exit__(self, *exc: Any) -> None:
        entry = self._open.pop()
        if entry is not None and recording.ACTIVE is entry[0]:
            entry[0].end(entry[1])


class _OpTimer(Interpreter):
    """Pushed on the profiling thread's dispatch stack: times each op the interpreter below
    runs (eager kernels, with autograd recording), as `dg::<op>`."""

    def __init__(self, rec: recording.Recorder) -> None:
        self.rec = rec
        self.names: dict[OpDef, tuple[str, str]] = {}

    def _names(self, op: OpDef) -> tuple[str, str]:
        names = self.names.get(op)
        if names is None:
            names = self.names[op] = (f"dg::{op.name}", f"dg::{op.name}_")
        return names

    def process(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        return self._timed(op, inputs, attrs, False)

    def process_inplace(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        return self._timed(op, inputs, attrs, True)

    def _timed(self, op: OpDef, inputs: Sequence, attrs: dict, inplace: bool) -> Any:
        rec = self.rec
        shapes = _shapes(inputs) if rec.record_shapes else None
        index = rec.begin(self._names(op)[inplace], "cpu_op", shapes)
        try:
            out = self.process_below(op, inputs, attrs, inplace)
        except BaseException:
            rec.end(index)
            raise
        rec.end(index, _allocated(out, inputs) if rec.profile_memory and not inplace else 0)
        return out


def _shapes(inputs: Sequence) -> list:
    return [list(x.shape) if hasattr(x, "_data") else [] for x in inputs]


def _allocated(out: Any, inputs: Sequence) -> int:
    """Bytes of new memory in an op's result: a view shares its input's."""
    arrays = [getattr(x, "_data", None) for x in inputs]
    if isinstance(out, tuple):
        return recording.array_bytes([getattr(x, "_data", None) for x in out], arrays)
    return recording.array_bytes(getattr(out, "_data", None), arrays)


class profile:
    """Records what runs inside the block (or between `start()` and `stop()`); see the module
    docstring. With a `schedule`, `step()` marks the end of each training step and only the
    steps the schedule makes active are recorded; `on_trace_ready(prof)` runs at the end of
    each active cycle (without a schedule: when the profiler stops)."""

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None,
                 on_trace_ready: Callable[["profile"], Any] | None = None,
                 record_shapes: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False) -> None:
        self.activities = _check_activities(activities)
        for name, value in (("with_stack", with_stack), ("with_flops", with_flops),
                            ("with_modules", with_modules)):
            if value:
                raise ValueError(f"profile(): {name}=True is not supported by dualgraph's "
                                 "profiler; leave it False")
        if on_trace_ready is not None and not callable(on_trace_ready):
            raise TypeError("profile(): on_trace_ready must be callable, got "
                            f"{type(on_trace_ready).__name__}")
        self.schedule = schedule if schedule is not None else _always_record
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._recorder: recording.Recorder | None = None
        self._timer: Any = None
        self._step_range: record_function | None = None
        self._finished: recording.Recorder | None = None
        self._events: EventList | None = None
        self._thread = 0

    # ------------------------------------------------------------------------- lifetime
    def __enter__(self) -> "profile":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        """Start profiling (what `with profile()` does on entry)."""
        self.current_action = self.schedule(self.step_num)
        self._transit(ProfilerAction.NONE, self.current_action)
        self._enter_step()

    def stop(self) -> None:
        """Stop profiling; if a cycle was being recorded, it is finished and handed over."""
        self._leave_step()
        self._transit(self.current_action, None)

    def step(self) -> None:
        """Signal that the next training step starts (with a `schedule`)."""
        self._leave_step()
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(prev, self.current_action)
        self._enter_step()

    def _enter_step(self) -> None:
        if self.record_steps:
            self._step_range = record_function(f"ProfilerStep#{self.step_num}")
            self._step_range.__enter__()

    def _leave_step(self) -> None:
        if self._step_range is not None:
            self._step_range.__exit__(None, None, None)
            self._step_range = None

    def _transit(self, prev: ProfilerAction, now: ProfilerAction | None) -> None:
        """Start or stop recording as PyTorch's action map does for (prev, now)."""
        recording_now = now in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if prev is ProfilerAction.RECORD_AND_SAVE or (
                now is None and prev is ProfilerAction.RECORD):
            self._stop_trace()
            self._trace_ready()
        elif prev is ProfilerAction.RECORD and not recording_now:
            warnings.warn(f"Incorrect schedule: RECORD followed by {now.name}")
            self._stop_trace()
        if recording_now and self._recorder is None:
            self._start_trace()

    def _start_trace(self) -> None:
        rec = recording.Recorder(self.record_shapes, self.profile_memory)
        recording.start(rec)
        self._recorder = rec
        self._timer = interpreting(_OpTimer(rec))
        self._timer.__enter__()

    def _stop_trace(self) -> None:
        rec = self._recorder
        if rec is None:
            return
        self._timer.__exit__(None, None, None)
        recording.stop(rec)
        self._recorder = self._timer = None
        self._finished, self._events = rec, None  # events are built when first asked for
        self._thread = rec.thread

    def _trace_ready(self) -> None:
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ---------------------------------------------------------------------------- results
    def events(self) -> EventList:
        """Every recorded range of the last finished cycle, in the order they started."""
        if self._events is None and self._finished is not None:
            self._events = build_events(self._finished)[0]
        if self._events is None:
            raise RuntimeError("profile(): no events yet: read results after the `with "
                               "profile()` block (or in on_trace_ready)")
        return self._events

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """The events averaged by name (and input shapes, which needs record_shapes=True)."""
        if group_by_input_shape and not self.record_shapes:
            raise ValueError("key_averages(group_by_input_shape=True) needs "
                             "profile(record_shapes=True)")
        return self.events().key_averages(group_by_input_shape)

    def export_chrome_trace(self, path: str | Path) -> str:
        """Write the trace-event JSON that Perfetto and chrome://tracing open."""
        return write_trace(path, self.events(), self._thread,
                           {"record_shapes": int(self.record_shapes),
                            "profile_memory": int(self.profile_memory)})


def _check_activities(activities: Iterable[ProfilerActivity] | None) -> set:
    if activities is None:
        return {ProfilerActivity.CPU}
    chosen = set(activities)
    for a in chosen:
        if not isinstance(a, ProfilerActivity):
            raise TypeError(f"profile(): activities must be ProfilerActivity values, got "
                            f"{a!r}")
    if ProfilerActivity.CUDA in chosen:
        if not cuda_available():
            raise RuntimeError("profile(): ProfilerActivity.CUDA was asked for but no CUDA "
                               "device is available (CuPy and a GPU are needed); profile with "
                               "activities=[ProfilerActivity.CPU]")
        raise RuntimeError("profile(): ProfilerActivity.CUDA is not supported yet: dualgraph "
                           "does not time CuPy kernels on the device; host-side CPU profiling "
                           "of GPU code works with activities=[ProfilerActivity.CPU]")
    if not chosen:
        raise ValueError("profile(): activities is empty; pass [ProfilerActivity.CPU]")
    return chosen


__all__ = ["ProfilerAction", "ProfilerActivity", "profile", "record_function", "schedule"]
