"""Summary protos for images, matplotlib figures and audio, encoded as PNG and WAV.

Images follow PyTorch's conventions: floats are taken to lie in [0, 1] and scaled by 255, uint8
is kept; grey images become RGB; a batch (`NCHW`, or any order of those letters) is laid out as
a grid eight images wide. PNG encoding needs Pillow; WAV uses the standard library's `wave`.
"""

from __future__ import annotations

import io
import math
import warnings
import wave
from typing import Any

import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary

from ._convert import to_numpy

GRID_COLUMNS = 8  # images per row of a batch's grid, as PyTorch's writer lays them out
INT16_MAX = 32767


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("dualgraph.utils.tensorboard needs Pillow to encode images: "
                          "pip install 'dualgraph[tensorboard]'") from None
    return Image


def make_grid(nchw: np.ndarray, columns: int = GRID_COLUMNS) -> np.ndarray:
    """A batch of images (N, C, H, W) as one CHW image: rows of `columns`, zero-padded."""
    n, c, h, w = nchw.shape
    if c == 1:
        nchw = np.repeat(nchw, 3, axis=1)
        c = 3
    cols = min(n, columns)
    rows = math.ceil(n / cols)
    canvas = np.zeros((c, rows * h, cols * w), dtype=nchw.dtype)
    for i in range(n):
        r, k = divmod(i, cols)
        canvas[:, r * h:(r + 1) * h, k * w:(k + 1) * w] = nchw[i]
    return canvas


def to_hwc(array: np.ndarray, dataformats: str, what: str) -> np.ndarray:
    """An image in the layout `dataformats` names (letters of N, C, H, W) as HWC with 3 or 4
    channels; a batch becomes a grid."""
    fmt = dataformats.upper() if isinstance(dataformats, str) else dataformats
    if not isinstance(fmt, str) or len(set(fmt)) != len(fmt) or not set(fmt) <= set("NCHW") \
            or not {"H", "W"} <= set(fmt) or ("N" in fmt and "C" not in fmt):
        raise ValueError(f"{what}: dataformats must be HW, HWC, CHW, NCHW or NHWC (any order of "
                         f"those letters), got {dataformats!r}")
    if array.ndim != len(fmt):
        raise ValueError(f"{what}: dataformats={dataformats!r} needs {len(fmt)} dimensions, "
                         f"got an array of shape {tuple(array.shape)}")
    if "N" in fmt:
        nchw = array.transpose([fmt.index(c) for c in "NCHW"])
        if nchw.shape[0] == 0:
            raise ValueError(f"{what}: the batch holds no image")
        _check_channels(nchw.shape[1], what)
        return make_grid(nchw).transpose(1, 2, 0)
    if "C" not in fmt:
        hw = array.transpose([fmt.index(c) for c in "HW"])
        return np.stack([hw, hw, hw], axis=2)
    hwc = array.transpose([fmt.index(c) for c in "HWC"])
    _check_channels(hwc.shape[2], what)
    return np.repeat(hwc, 3, axis=2) if hwc.shape[2] == 1 else hwc


def _check_channels(c: int, what: str) -> None:
    if c not in (1, 3, 4):
        raise ValueError(f"{what}: an image has 1, 3 or 4 channels (grey, RGB, RGBA), got {c}")


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 pixels: uint8 kept, anything else taken as [0, 1] and scaled by 255 (clipped, then
    truncated, as PyTorch's writer does)."""
    if array.dtype == np.uint8:
        return array
    return (array.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)


def encode_png(hwc: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    _pil().fromarray(np.ascontiguousarray(hwc)).save(buffer, format="PNG")
    return buffer.getvalue()


def image(tag: str, img: Any, dataformats: str = "CHW", call: str = "add_image") -> Summary:
    """One image summary: the array laid out as `dataformats` says, encoded as PNG."""
    what = f"{call}({tag!r})"
    array = to_numpy(img, what)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{what}: expected numbers, got dtype {array.dtype}")
    hwc = to_uint8(to_hwc(array, dataformats, what))
    h, w, c = hwc.shape
    return Summary(value=[Summary.Value(tag=tag, image=Summary.Image(
        height=h, width=w, colorspace=c, encoded_image_string=encode_png(hwc)))])


def figure_to_chw(figure: Any, close: bool = True) -> np.ndarray:
    """A matplotlib figure rendered by Agg as an RGB image (C, H, W), uint8."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    chw = np.ascontiguousarray(rgba[:, :, :3].transpose(2, 0, 1))
    if close:
        import matplotlib.pyplot as plt
        plt.close(figure)
    return chw


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono 16-bit PCM WAV of samples in [-1, 1]."""
    pcm = (samples * INT16_MAX).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def audio(tag: str, snd: Any, sample_rate: int = 44100) -> Summary:
    """A mono clip (shape (L,) or (1, L), values in [-1, 1]; louder values are clipped with a
    warning) as a WAV summary."""
    what = f"add_audio({tag!r})"
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or sample_rate <= 0:
        raise ValueError(f"{what}: sample_rate must be a positive integer, got {sample_rate!r}")
    array = to_numpy(snd, what).astype(np.float64)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(f"{what}: expected a mono clip of shape (L,) or (1, L), got shape "
                         f"{tuple(array.shape)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: the samples contain NaN or infinity")
    if array.size and np.abs(array).max() > 1:
        warnings.warn(f"{what}: amplitude beyond [-1, 1], clipped", stacklevel=3)
        array = array.clip(-1, 1)
    return Summary(value=[Summary.Value(tag=tag, audio=Summary.Audio(
        sample_rate=float(sample_rate), num_channels=1, length_frames=array.size,
        encoded_audio_string=encode_wav(array, int(sample_rate)), content_type="audio/wav"))])
