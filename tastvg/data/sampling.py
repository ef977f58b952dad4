"""Official frame sampling (``datasets/data_utils.py``): which absolute frame ids of a video enter the model.

HC-STVG (``sampling="fps"``)::

    candidates 0 .. frame_count-2            (the last frame is never used)
    video_fps = frame_count / 20             (every video assumed to last 20 s)
    s = rate / video_fps, rate = 3.2 (train) or 6.4 (test)
    keep f when int(f*s) > int(g*s) for the last kept g; frame 0 always; last candidate appended
    train: temporal crop iff random() >= 1 - 0.5, *after* subsampling

VidSTG (``sampling="linspace"``)::

    candidates = used_segment (inclusive)
    train: temporal crop iff random() < 0.5, *before* subsampling
    n > N: positions int(linspace(0, n-1, N)), N = 64 (train) or 128 (test)

At test time the 2x-dense clip is split into even and odd positions (:func:`split_interleaved`);
each half (~64 frames) is one forward pass.
"""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np

from tastvg.data.config import DataConfig


def fps_sample(candidates: Sequence[int], frame_count: int, rate: float, video_seconds: float = 20.0) -> list[int]:
    """HC-STVG rate-based subsampling of ``candidates`` (absolute ids, ascending).

    Example: ``frame_count=100`` -> ``video_fps=5``, ``s=0.64`` at 3.2 fps; ``int(f*s)`` for
    ``f = 0, 1, 2, 3, 4, 5`` is ``0, 0, 1, 1, 2, 3``, so frames ``0, 2, 4, 5, ...`` are kept.
    """
    if not candidates:
        return []
    s = rate / (frame_count / video_seconds)
    kept = [candidates[0]]
    for f in candidates[1:]:
        if int(f * s) > int(kept[-1] * s):
            kept.append(f)
    if kept[-1] != candidates[-1]:
        kept.append(candidates[-1])
    return kept


def linspace_sample(candidates: Sequence[int], num: int) -> list[int]:
    """VidSTG: ``num`` positions ``int(linspace(0, n-1, num))`` when ``n > num``, else all."""
    n = len(candidates)
    if n <= num:
        return list(candidates)
    pos = np.linspace(0, n - 1, num).astype(int)
    return [candidates[i] for i in pos]


def temporal_crop(ids: Sequence[int], t_start: int, t_end: int, rng: random.Random) -> list[int]:
    """Random window of ``ids`` that keeps every position inside the ground truth ``[t_start, t_end]``.

    The first position is drawn uniformly among positions whose frame is strictly before
    ``t_start`` (position 0 if none), then the last among positions strictly after ``t_end`` (the
    last position if none): one ``rng.choice`` each, in that order, as the official code.
    """
    before = [i for i, f in enumerate(ids) if f < t_start]
    after = [i for i, f in enumerate(ids) if f > t_end]
    first = rng.choice(before) if before else 0
    last = rng.choice(after) if after else len(ids) - 1
    return list(ids[first:last + 1])


def candidate_frames(segment: tuple[int, int], frame_count: int, cfg: DataConfig) -> list[int]:
    """Inclusive ``segment`` as a list; HC-STVG (``fps``) drops the video's last frame."""
    first, last = segment
    if cfg.sampling == "fps" and cfg.drop_last_frame:
        last = min(last, frame_count - 2)
    return list(range(first, max(last, first) + 1))


def has_gt(ids: Sequence[int], t_start: int, t_end: int) -> bool:
    """Whether some sampled frame lies inside the inclusive ground-truth span."""
    return any(t_start <= f <= t_end for f in ids)


def crop_drawn(cfg: DataConfig, rng: random.Random) -> bool:
    """The training crop decision: one ``rng.random()`` per training sample, always drawn.

    Official sides: HC-STVG crops iff ``p >= 1 - TEMP_CROP_PROB`` (``make_hcstvg_input_clip``),
    VidSTG iff ``p < TEMP_CROP_PROB`` (``make_vidstg_input_clip``).
    """
    p = rng.random()
    return p >= 1 - cfg.temp_crop_prob if cfg.sampling == "fps" else p < cfg.temp_crop_prob


def sample_frame_ids(segment: tuple[int, int], frame_count: int, t_start: int, t_end: int,
                     cfg: DataConfig, train: bool, rng: random.Random | None = None) -> list[int]:
    """Absolute frame ids of one clip: the training clip, or the full (dense) test clip.

    ``rng`` drives the temporal crop (train only) with the official draw order: ``random()``
    (crop or not), then ``choice`` of the first and of the last position when cropping. A seeded
    ``random.Random`` gives the official clip for the same state of Python's ``random``.

    Deviation (where the official ``__getitem__`` fails): when a VidSTG crop followed by
    ``linspace`` keeps no ground-truth frame but the uncropped clip has one, the uncropped clip is
    returned; no further random number is drawn.
    """
    rng = rng or random.Random()
    ids = candidate_frames(segment, frame_count, cfg)
    crop = crop_drawn(cfg, rng) if train else False
    if cfg.sampling == "fps":
        rate = cfg.train_fps if train else cfg.train_fps * cfg.test_density
        ids = fps_sample(ids, frame_count, rate, cfg.video_seconds)
        return temporal_crop(ids, t_start, t_end, rng) if crop and has_gt(ids, t_start, t_end) else ids
    num = cfg.train_frames if train else cfg.test_frames
    if not crop:
        return linspace_sample(ids, num)
    cropped = linspace_sample(temporal_crop(ids, t_start, t_end, rng), num)
    if has_gt(cropped, t_start, t_end):
        return cropped
    full = linspace_sample(ids, num)
    return full if has_gt(full, t_start, t_end) else cropped


def split_interleaved(ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """The dense test clip -> (even positions, odd positions); each half is one forward pass."""
    return list(ids[0::2]), list(ids[1::2])
