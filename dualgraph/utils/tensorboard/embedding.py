"""The embedding projector's files: `tensors.tsv`, `metadata.tsv`, `sprite.png` per embedding
under `<log_dir>/<step:05d>/<tag>/`, and `projector_config.pbtxt` in the log directory listing
every embedding written there (kept across writers: the file is read back before it is
rewritten)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

from ._convert import to_numpy
from .media import encode_png, make_grid, to_uint8

CONFIG_FILE = "projector_config.pbtxt"


def encode_tag(tag: str) -> str:
    """A tag as one path component: `%`, `/` and `\\` escaped as %XX."""
    return "".join(f"%{ord(c):02x}" if c in "%/\\" else c for c in tag)


def _cell(value: Any) -> str:
    text = str(value)
    if "\t" in text or "\n" in text:
        raise ValueError(f"add_embedding: a metadata value holds a tab or newline: {text!r}")
    return text


def write_metadata(path: str, metadata: list, header: list | None, n: int) -> None:
    """metadata.tsv: one label per line, or with a header a row of columns per point."""
    if len(metadata) != n:
        raise ValueError(f"add_embedding: {len(metadata)} metadata rows for {n} points")
    lines = []
    if header is not None:
        lines.append("\t".join(_cell(h) for h in header))
        for row in metadata:
            if not isinstance(row, (list, tuple)) or len(row) != len(header):
                raise ValueError(f"add_embedding: with metadata_header of {len(header)} "
                                 f"columns each metadata row must be a list of as many")
            lines.append("\t".join(_cell(v) for v in row))
    else:
        lines.extend(_cell(v) for v in metadata)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def write_sprite(path: str, images: np.ndarray) -> list:
    """sprite.png: the (N, C, H, W) images on a square grid; returns [H, W] of one image."""
    n, c, h, w = images.shape
    if c not in (1, 3, 4):
        raise ValueError(f"add_embedding: label_img needs 1, 3 or 4 channels, got {c}")
    side = math.ceil(math.sqrt(n))
    grid = make_grid(images, columns=side)
    square = np.zeros((grid.shape[0], side * h, side * w), dtype=grid.dtype)
    square[:, :grid.shape[1], :grid.shape[2]] = grid
    with open(path, "wb") as f:
        f.write(encode_png(to_uint8(square.transpose(1, 2, 0))))
    return [h, w]


def read_config(log_dir: str) -> ProjectorConfig:
    config = ProjectorConfig()
    path = os.path.join(log_dir, CONFIG_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text_format.Parse(f.read(), config)
    return config


def add_embedding(log_dir: str, mat: Any, metadata: list | None, label_img: Any,
                  global_step: int | None, tag: str, metadata_header: list | None) -> str:
    """Write one embedding's files and register it in the projector config; returns its
    folder."""
    points = to_numpy(mat, "add_embedding mat")
    if points.ndim != 2:
        raise ValueError(f"add_embedding: mat must be 2-D (points x dimensions), got shape "
                         f"{tuple(points.shape)}")
    step = 0 if global_step is None else global_step
    sub = f"{step:05d}/{encode_tag(tag)}"
    folder = os.path.join(log_dir, sub)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tensors.tsv"), "w", encoding="utf-8") as f:
        for row in points:
            f.write("\t".join(repr(float(x)) for x in row) + "\n")
    info = EmbeddingInfo(tensor_name=f"{tag}:{step:05d}", tensor_path=f"{sub}/tensors.tsv")
    if metadata is not None:
        write_metadata(os.path.join(folder, "metadata.tsv"), list(metadata), metadata_header,
                       len(points))
        info.metadata_path = f"{sub}/metadata.tsv"
    if label_img is not None:
        images = to_numpy(label_img, "add_embedding label_img")
        if images.ndim != 4 or images.shape[0] != len(points):
            raise ValueError(f"add_embedding: label_img must be (N, C, H, W) with N = "
                             f"{len(points)}, got shape {tuple(images.shape)}")
        info.sprite.image_path = f"{sub}/sprite.png"
        info.sprite.single_image_dim.extend(write_sprite(os.path.join(folder, "sprite.png"),
                                                         images))
    config = read_config(log_dir)
    kept = [e for e in config.embeddings if e.tensor_name != info.tensor_name]
    del config.embeddings[:]
    config.embeddings.extend(kept + [info])
    tmp = os.path.join(log_dir, CONFIG_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    os.replace(tmp, os.path.join(log_dir, CONFIG_FILE))
    return folder
