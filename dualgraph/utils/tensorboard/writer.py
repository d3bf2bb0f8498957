"""`SummaryWriter`: PyTorch's `torch.utils.tensorboard.SummaryWriter` for dualgraph.

Events go to TensorBoard's own event file writer (`tensorboard.summary.writer`), which queues
them and flushes from a background thread every `flush_secs` or when `max_queue` are pending;
the summaries themselves are built in this package's other modules.

    from dualgraph.utils.tensorboard import SummaryWriter

    with SummaryWriter("runs/demo") as w:
        for step in range(100):
            w.add_scalar("loss", 1 / (step + 1), step)
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import embedding, media, plugins, summaries
from ._convert import check_step, to_scalar
from .graphdef import graph_def
from .model_graph import model_graph


def default_log_dir(comment: str = "") -> str:
    """`runs/<Mon01_12-30-59>_<host><comment>`, PyTorch's default."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


class FileWriter:
    """One event file in one directory: stamps each event with its step and wall time."""

    def __init__(self, log_dir: str, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs,
                                            filename_suffix)

    def get_logdir(self) -> str:
        return self.event_writer.get_logdir()

    def add_event(self, event: Event, step: int | None = None,
                  walltime: float | None = None) -> None:
        event.wall_time = time.time() if walltime is None else float(walltime)
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary: Summary, global_step: int | None = None,
                    walltime: float | None = None) -> None:
        self.add_event(Event(summary=summary), global_step, walltime)

    def flush(self) -> None:
        self.event_writer.flush()

    def close(self) -> None:
        self.event_writer.close()


def _check_tag(tag: Any, what: str) -> str:
    if not isinstance(tag, str) or not tag:
        raise TypeError(f"{what}: tag must be a non-empty str, got {tag!r}")
    return tag


def _walltime(walltime: Any, what: str) -> float | None:
    if walltime is None:
        return None
    return to_scalar(walltime, f"{what} walltime")


class SummaryWriter:
    """Writes scalars, histograms, images, audio, text, hyperparameters, PR curves, embeddings
    and model graphs to event files that TensorBoard reads.

    `log_dir` defaults to `runs/<date>_<host><comment>` (`comment` has no effect when `log_dir`
    is given, as in PyTorch). `purge_step` hides, in TensorBoard, events of an earlier run of
    this directory from that step on (after a crash and restart from a checkpoint).
    `max_queue` events are held before a write; `flush_secs` bounds how long they wait;
    `filename_suffix` ends the event file's name."""

    def __init__(self, log_dir: str | os.PathLike | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        self.log_dir = str(log_dir) if log_dir is not None else default_log_dir(comment)
        self.purge_step = check_step(purge_step, "SummaryWriter", "purge_step")
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer: FileWriter | None = None
        self.all_writers: dict | None = None
        self._get_file_writer()

    def _get_file_writer(self) -> FileWriter:
        """The writer of `log_dir`, opened anew after `close()` (as PyTorch's writer does)."""
        if self.file_writer is None or self.all_writers is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step = self.purge_step
                self.file_writer.add_event(Event(step=step, file_version="brain.Event:2"))
                self.file_writer.add_event(
                    Event(step=step, session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> str:
        """The directory event files are written to."""
        return self.log_dir

    def _add(self, summary: Summary, global_step: Any, walltime: Any, what: str) -> None:
        self._get_file_writer().add_summary(summary, check_step(global_step, what),
                                            _walltime(walltime, what))

    # ------------------------------------------------------------------------ numbers
    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """One number at a step. `new_style` writes it as a tensor (float64 with
        `double_precision`), which TensorBoard loads faster."""
        what = f"add_scalar({_check_tag(tag, 'add_scalar')!r})"
        self._add(summaries.scalar(tag, scalar_value, new_style, double_precision),
                  global_step, walltime, what)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict,
                    global_step: int | None = None, walltime: float | None = None) -> None:
        """Several numbers on one chart: each goes to a run of its own,
        `<log_dir>/<main_tag>_<tag>`, under the tag `main_tag`."""
        what = f"add_scalars({_check_tag(main_tag, 'add_scalars')!r})"
        if not isinstance(tag_scalar_dict, dict):
            raise TypeError(f"{what}: tag_scalar_dict must be a dict, got "
                            f"{type(tag_scalar_dict).__name__}")
        step, wall = check_step(global_step, what), _walltime(walltime, what)
        wall = time.time() if wall is None else wall
        self._get_file_writer()
        writers = self.all_writers
        for tag, value in tag_scalar_dict.items():
            summary = summaries.scalar(main_tag, value)
            path = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            if path not in writers:
                writers[path] = FileWriter(path, self.max_queue, self.flush_secs,
                                           self.filename_suffix)
            writers[path].add_summary(summary, step, wall)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None,
                      bins: Any = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        """A histogram of `values`: bins 'tensorflow' (TensorFlow's exponential buckets), a
        NumPy rule ('auto', 'fd', ...), a count, or edges."""
        what = f"add_histogram({_check_tag(tag, 'add_histogram')!r})"
        self._add(summaries.histogram(tag, values, bins, max_bins), global_step, walltime,
                  what)

    def add_histogram_raw(self, tag: str, min: float, max: float, num: int, sum: float,
                          sum_squares: float, bucket_limits: Any, bucket_counts: Any,
                          global_step: int | None = None,
                          walltime: float | None = None) -> None:
        """A histogram given by its statistics and buckets."""
        what = f"add_histogram_raw({_check_tag(tag, 'add_histogram_raw')!r})"
        self._add(summaries.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits,
                                          bucket_counts), global_step, walltime, what)

    # -------------------------------------------------------------------------- media
    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        """An image: floats in [0, 1] or uint8, laid out as `dataformats` (CHW, HWC, HW)."""
        what = f"add_image({_check_tag(tag, 'add_image')!r})"
        self._add(media.image(tag, img_tensor, dataformats), global_step, walltime, what)

    def add_images(self, tag: str, img_tensor: Any, global_step: int | None = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        """A batch of images (NCHW or NHWC) shown as one grid, eight images a row."""
        what = f"add_images({_check_tag(tag, 'add_images')!r})"
        if not isinstance(dataformats, str) or "N" not in dataformats.upper():
            raise ValueError(f"{what}: dataformats must name the batch dimension N (NCHW, "
                             f"NHWC), got {dataformats!r}")
        self._add(media.image(tag, img_tensor, dataformats, "add_images"), global_step, walltime,
                  what)

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None,
                   close: bool = True, walltime: float | None = None) -> None:
        """A matplotlib figure (or a list of them, shown as a grid), rendered as an image;
        `close` closes the figures afterwards."""
        import numpy as np
        if isinstance(figure, (list, tuple)):
            batch = np.stack([media.figure_to_chw(f, close) for f in figure])
            self.add_image(tag, batch, global_step, walltime, dataformats="NCHW")
        else:
            self.add_image(tag, media.figure_to_chw(figure, close), global_step, walltime,
                           dataformats="CHW")

    def add_audio(self, tag: str, snd_tensor: Any, global_step: int | None = None,
                  sample_rate: int = 44100, walltime: float | None = None) -> None:
        """A mono clip, samples in [-1, 1], stored as 16-bit WAV."""
        what = f"add_audio({_check_tag(tag, 'add_audio')!r})"
        self._add(media.audio(tag, snd_tensor, sample_rate), global_step, walltime, what)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Text (rendered as Markdown), stored as the tensor `<tag>/text_summary`."""
        what = f"add_text({_check_tag(tag, 'add_text')!r})"
        self._add(summaries.text(tag, text_string), global_step, walltime, what)

    # ------------------------------------------------------------------------- plugins
    def add_pr_curve(self, tag: str, labels: Any, predictions: Any,
                     global_step: int | None = None, num_thresholds: int = 127,
                     weights: Any = None, walltime: float | None = None) -> None:
        """A precision-recall curve of binary labels against predicted probabilities."""
        what = f"add_pr_curve({_check_tag(tag, 'add_pr_curve')!r})"
        self._add(plugins.pr_curve(tag, labels, predictions, num_thresholds, weights),
                  global_step, walltime, what)

    def add_hparams(self, hparam_dict: dict, metric_dict: dict,
                    hparam_domain_discrete: dict | None = None, run_name: str | None = None,
                    global_step: int | None = None) -> None:
        """One trial's hyperparameters and final metrics, for the HParams tab. As in PyTorch
        they go to a run of their own, `<log_dir>/<run_name>` (default: the current time), with
        each metric also logged there as a scalar."""
        summaries_ = plugins.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        run = str(time.time()) if run_name is None else run_name
        if not isinstance(run, str) or not run or os.path.isabs(run) or \
                ".." in run.replace("\\", "/").split("/"):
            raise ValueError(f"add_hparams: run_name must be a relative folder name inside "
                             f"the log directory, got {run_name!r}")
        step = check_step(global_step, "add_hparams")
        with SummaryWriter(os.path.join(self._get_file_writer().get_logdir(), run),
                           max_queue=self.max_queue, flush_secs=self.flush_secs,
                           filename_suffix=self.filename_suffix) as trial:
            for summary in summaries_:
                trial.file_writer.add_summary(summary, step)
            for key, value in metric_dict.items():
                trial.add_scalar(key, value, step)

    def add_embedding(self, mat: Any, metadata: list | None = None, label_img: Any = None,
                      global_step: int | None = None, tag: str = "default",
                      metadata_header: list | None = None) -> None:
        """Points (N, D) for the embedding projector, with optional labels (one per point, or
        rows under `metadata_header`) and thumbnail images (N, C, H, W)."""
        _check_tag(tag, "add_embedding")
        embedding.add_embedding(self._get_file_writer().get_logdir(), mat, metadata, label_img,
                                check_step(global_step, "add_embedding"), tag, metadata_header)

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True, *, opt_level: int = 0) -> None:
        """The model's graph for the Graphs tab: `model` traced on `input_to_model`, nodes
        scoped by submodule (`fc1/matmul`); or, without an input, a captured Graph or traced /
        scripted function as it is. `opt_level` (dualgraph's) draws the graph after that
        level's passes (fused groups become boxes). `verbose` prints the graph's text form."""
        graph = model_graph(model, input_to_model, use_strict_trace, opt_level)
        if verbose:
            print(graph)
        event = Event(graph_def=graph_def(graph).SerializeToString())
        self._get_file_writer().add_event(event)

    # ------------------------------------------------------------------------- control
    def flush(self) -> None:
        """Write every pending event to disk."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self) -> None:
        """Flush and close every event file (a later write opens a new one)."""
        for writer in (self.all_writers or {}).values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
