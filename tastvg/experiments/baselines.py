"""Blind baselines: what a grounding score is worth before a model has looked at anything.

A reader cannot judge ``m_tIoU = 40`` without knowing what a predictor that ignores the video and
the sentence scores on the same test set. :func:`blind_baselines` computes, with the official
metrics of :mod:`tastvg.evaluation`:

* **whole clip + mean box**: the span is every frame of the clip (the sampler's segment), the box
  on every frame is the mean ground-truth box of the training split (in frame-relative
  coordinates, scaled to each test video);
* **constant span + mean box**: the one span, as fractions of the clip, with the best mean tIoU
  on the *training* split (searched on a grid of ``grid`` steps), and the mean box;
* **constant span + random actor** (when actor tubes are given, e.g. SynthSTVG's): the constant
  span with the boxes of one actor drawn at random per video, target included — what a model
  that finds *an* object but not *which* one scores.

Nothing is chosen on the test split.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np

from tastvg.evaluation import AGGREGATES, evaluate

Tube = dict[str, Any]


def _clip(rec: Any) -> tuple[int, int]:
    """The clip a model sees: the record's sampler segment (inclusive absolute frame ids)."""
    return int(rec.segment[0]), int(rec.segment[1])


def span_from_fractions(rec: Any, lo: float, hi: float) -> tuple[int, int]:
    """The inclusive span ``[lo, hi]`` (fractions of the clip, ``0 <= lo <= hi <= 1``) in frames."""
    s0, s1 = _clip(rec)
    n = s1 - s0
    start = s0 + int(round(lo * n))
    return start, max(start, s0 + int(round(hi * n)))


def _tiou_matrix(starts: np.ndarray, ends: np.ndarray, gts: np.ndarray, gte: np.ndarray,
                 protocol: str) -> np.ndarray:
    """tIoU of candidate spans ``[C, V]`` against ground truth ``[V]`` under ``protocol``."""
    ge = gte if protocol == "official" else gte + 1  # see tastvg.evaluation.half_open_span
    pe = ends + 1
    inter = np.clip(np.minimum(pe, ge[None]) - np.maximum(starts, gts[None]), 0, None)
    union = (pe - starts) + (ge - gts)[None] - inter
    return np.where(inter > 0, inter / np.maximum(union, 1), 0.0)


def constant_span(train: Sequence[Any], protocol: str = "official", grid: int = 50) -> tuple[float, float]:
    """The clip fractions ``(lo, hi)`` whose span has the best mean tIoU over ``train``.

    Every pair ``lo <= hi`` of ``{0, 1/grid, ..., 1}`` is tried; ties go to the first pair."""
    if not train:
        raise ValueError("constant_span: the training split is empty")
    fr = np.linspace(0.0, 1.0, grid + 1)
    pairs = [(a, b) for i, a in enumerate(fr) for b in fr[i:]]
    seg = np.array([_clip(r) for r in train])                          # [V, 2]
    n = seg[:, 1] - seg[:, 0]
    lo = np.array([p[0] for p in pairs])[:, None]                        # [C, 1]
    hi = np.array([p[1] for p in pairs])[:, None]
    starts = seg[None, :, 0] + np.round(lo * n[None]).astype(int)        # [C, V]
    ends = np.maximum(starts, seg[None, :, 0] + np.round(hi * n[None]).astype(int))
    gts = np.array([r.t_start for r in train])
    gte = np.array([r.t_end for r in train])
    best = int(np.argmax(_tiou_matrix(starts, ends, gts, gte, protocol).mean(1)))
    return float(pairs[best][0]), float(pairs[best][1])


def mean_box(train: Sequence[Any]) -> np.ndarray:
    """The mean ground-truth box of ``train`` as frame fractions ``[x1, y1, x2, y2]`` ([4])."""
    rows = [np.asarray(r.boxes, float) / [r.width, r.height, r.width, r.height] for r in train if r.boxes]
    if not rows:
        raise ValueError("mean_box: the training split has no boxes")
    return np.concatenate(rows).mean(0)


def _tube(span: tuple[int, int], box_of: Any) -> Tube:
    return {"t_start": span[0], "t_end": span[1],
            "boxes": {t: [float(v) for v in box_of(t)] for t in range(span[0], span[1] + 1)}}


def _scaled(box: np.ndarray, rec: Any) -> np.ndarray:
    return box * [rec.width, rec.height, rec.width, rec.height]


def baseline_predictions(train: Sequence[Any], test: Sequence[Any], protocol: str = "official",
                         actor_tubes: Optional[Mapping[str, np.ndarray]] = None, seed: int = 0,
                         grid: int = 50) -> dict[str, dict[str, Tube]]:
    """``{baseline name: {item id: tube}}`` for the test records (see the module docstring).

    ``actor_tubes`` maps a test item id to its actors' boxes ``[A, F, 4]`` (pixels, ``xyxy``,
    absolute frame ids); with it, the random-actor baseline is added."""
    box = mean_box(train)
    lo, hi = constant_span(train, protocol, grid)
    out: dict[str, dict[str, Tube]] = {"whole clip + mean box": {}, "constant span + mean box": {}}
    for rec in test:
        b = _scaled(box, rec)
        out["whole clip + mean box"][rec.item_id] = _tube(_clip(rec), lambda t: b)
        out["constant span + mean box"][rec.item_id] = _tube(span_from_fractions(rec, lo, hi), lambda t: b)
    if actor_tubes is not None:
        rng = random.Random(seed)
        name = "constant span + random actor"
        out[name] = {}
        for rec in test:
            tubes = np.asarray(actor_tubes[rec.item_id], float)
            k = rng.randrange(len(tubes))
            out[name][rec.item_id] = _tube(span_from_fractions(rec, lo, hi), lambda t: tubes[k, t])
    return out


def blind_baselines(train: Sequence[Any], test: Sequence[Any], protocol: str = "official",
                    actor_tubes: Optional[Mapping[str, np.ndarray]] = None, seed: int = 0,
                    grid: int = 50) -> dict[str, dict[str, Any]]:
    """``{baseline name: evaluate(...) result}`` on ``test``, every choice made on ``train``.

    ``train`` and ``test`` are :class:`~tastvg.data.annotations.STVGRecord` lists (anything with
    ``item_id, t_start, t_end, boxes, width, height, segment``). The result of each baseline also
    holds ``"span"``: the constant span's clip fractions."""
    from tastvg.data.annotations import ground_truth

    gt = ground_truth(test)
    lo_hi = constant_span(train, protocol, grid)
    preds = baseline_predictions(train, test, protocol, actor_tubes, seed, grid)
    results = {}
    for name, pred in preds.items():
        res = evaluate(gt, pred, protocol=protocol)
        res["span"] = (0.0, 1.0) if name.startswith("whole") else lo_hi
        results[name] = res
    return results


def baseline_table(results: Mapping[str, Mapping[str, Any]], keys: Sequence[str] = AGGREGATES) -> Any:
    """The aggregates of :func:`blind_baselines` (or of any ``evaluate`` results) as a pandas
    table in percent, one row per entry."""
    import pandas as pd

    return pd.DataFrame({name: {k: 100 * r[k] for k in keys} for name, r in results.items()}).T


def synth_actor_tubes(records: Sequence[Any], seed: int, knobs: Any) -> dict[str, np.ndarray]:
    """Every actor's boxes ``[A, F, 4]`` for SynthSTVG records generated with ``seed``/``knobs``
    (video ``synth_00007.mp4`` is scene 7), re-rendered from the generator."""
    from tastvg.data.synth import make_scene
    from tastvg.data.synth_scene import render

    out = {}
    for rec in records:
        index = int(str(rec.video_id).split("_")[-1].split(".")[0])
        scene, _ = make_scene(seed, index, knobs)
        _, boxes = render(scene)
        out[rec.item_id] = boxes
    return out
