"""`dg.profiler`: PyTorch's `torch.profiler` for dualgraph — `profile`, `record_function`,
`schedule`, `ProfilerActivity`; tables by `key_averages().table()` and Chrome traces by
`export_chrome_trace()`. See docs/PROFILING.md."""

from __future__ import annotations

from .events import PYTHON_ROW, EventList, FunctionEvent, FunctionEventAvg
from .profile import ProfilerAction, ProfilerActivity, profile, record_function, schedule

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "PYTHON_ROW", "ProfilerAction",
           "ProfilerActivity", "profile", "record_function", "schedule"]
