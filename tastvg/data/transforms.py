"""Frame and box transforms of the official pipeline (``load_frames``, ``datasets/transforms.py``):
resize, horizontal flip (and the optional "left" <-> "right" swap of the sentence), ImageNet
normalisation. The box maths (flip, scale, normalise, in the official order) is in
:mod:`tastvg.boxes`; :func:`resize` and :func:`hflip` apply it with the frames.

Frames are ``uint8 [T, H, W, 3]`` arrays from the decoder, tensors ``[T, 3, H, W]`` after
:func:`to_tensor`; boxes are ``[n, 4]`` float tensors, ``xyxy`` pixels until :func:`tastvg.boxes.normalize_boxes`.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tastvg.boxes import flip_boxes, scale_boxes

_SWAP = re.compile(r"left|right")
_SWAP_WORD = re.compile(r"\b(left|right)\b")


def resized_size(width: int, height: int, target_height: Optional[int], max_width: Optional[int]) -> tuple[int, int]:
    """``(H0, W0)``: height ``target_height``, width ``min(int(H0 * (w / h)), max_width)``.

    The official rule (420, 588): 16:9 video -> 420 x 588 (squashed), 4:3 -> 420 x 560. The
    aspect ratio ``w / h`` is evaluated first, as the official ``load_frames`` does; the float
    product can fall just below an integer, e.g. 552x480: ``420 * 1.15 = 482.99999999999994``
    -> 482 (``int(420 * 552 / 480)`` would be 483). ``target_height=None`` keeps the size.
    """
    if target_height is None:
        return height, width
    w0 = int(target_height * (width / height))
    return target_height, min(w0, max_width) if max_width is not None else w0


def to_tensor(frames: np.ndarray) -> Tensor:
    """``uint8 [T, H, W, 3]`` -> ``float32 [T, 3, H, W]`` in ``[0, 1]``."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def resize_frames(frames: Tensor, size: tuple[int, int]) -> Tensor:
    """Antialiased bilinear resize of ``[T, 3, H, W]`` to ``size = (H0, W0)`` (torchvision's
    ``Resize(antialias=True)`` on tensors)."""
    if tuple(frames.shape[-2:]) != tuple(size):
        frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=True)
    return frames


def resize(frames: Tensor, boxes: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """:func:`resize_frames` and the ``xyxy`` boxes scaled with them (:func:`tastvg.boxes.scale_boxes`)."""
    h, w = frames.shape[-2:]
    return resize_frames(frames, size), scale_boxes(boxes, (h, w), size)


def swap_left_right(text: str, whole_words: bool = False) -> str:
    """Swap "left" and "right". Official: plain substring replacement ("bright" -> "bleft");
    ``whole_words=True`` only swaps the words themselves."""
    pattern = _SWAP_WORD if whole_words else _SWAP
    return pattern.sub(lambda m: "right" if m.group(0) == "left" else "left", text)


def hflip(frames: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
    """Mirror ``[T, 3, H, W]`` frames and their ``xyxy`` pixel boxes ``[n, 4]``."""
    return frames.flip(-1), flip_boxes(boxes, frames.shape[-1])


def flip_pairs(names: Sequence[str]) -> dict[int, int]:
    """Attribute ids whose names differ only by left/right (``"moves left"`` <-> ``"moves right"``)."""
    index = {n: i for i, n in enumerate(names)}
    pairs = {}
    for i, n in enumerate(names):
        j = index.get(swap_left_right(n, whole_words=True))
        if j is not None and j != i:
            pairs[i] = j
    return pairs


def normalize(frames: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Per-channel ``(x - mean) / std`` on ``[T, 3, H, W]``."""
    m = frames.new_tensor(mean).view(1, 3, 1, 1)
    s = frames.new_tensor(std).view(1, 3, 1, 1)
    return (frames - m) / s
