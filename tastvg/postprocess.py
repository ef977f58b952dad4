"""From model outputs to tubes in the format of :func:`tastvg.evaluation.evaluate` (the official post-processing).

For one forward pass (a "sub-clip") with sampled original frame ids ``frame_ids``:

* boxes: (cx, cy, w, h) in [0, 1] -> ``[x1, y1, x2, y2] * (width, height)``
  (:func:`tastvg.boxes.denormalize_boxes`), clamped at >= 0 (no upper clamp, as the official code);
* span: ``(i*, j*) = argmax_{i < j} log_softmax(start)_i + log_softmax(end)_j`` (strictly i < j),
  i.e. the official half-open ``[frame_ids[i*], frame_ids[j*] + 1)``, written here with
  **inclusive** ends: ``t_start = frame_ids[i*]``, ``t_end = frame_ids[j*]`` (the evaluator's
  official protocol adds the +1 back).

At test time the 2x-dense clip is split into two interleaved sub-clips (even and odd positions,
:func:`split_interleaved`); their predictions are merged by :func:`merge_clip_predictions`: union
of the boxes, linear interpolation of every coordinate at each missing original frame id between
the first and last predicted ids, and the union of the two spans ``[min start, max end]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from tastvg.boxes import denormalize_boxes
from tastvg.data.sampling import split_interleaved  # noqa: F401  (the sub-clips, re-exported here)

Prediction = dict[str, Any]  # {"t_start": int, "t_end": int, "boxes": {frame_id: [x1, y1, x2, y2]}}


def span_argmax(start_logits: Tensor, end_logits: Tensor) -> tuple[int, int]:
    """``argmax_{i<j} log_softmax(start)_i + log_softmax(end)_j`` over ``[T]`` logits.

    A single-frame clip (T = 1) has no pair i < j; it returns (0, 0).
    """
    t = start_logits.shape[0]
    if t == 1:
        return 0, 0
    score = start_logits.float().log_softmax(0)[:, None] + end_logits.float().log_softmax(0)[None, :]
    upper = torch.ones(t, t, dtype=torch.bool, device=score.device).triu(diagonal=1)
    flat = score.masked_fill(~upper, float("-inf")).flatten().argmax().item()
    return int(flat // t), int(flat % t)


def clip_prediction(pred_boxes: Tensor, pred_sted: Tensor, frame_ids: Sequence[int],
                    width: float, height: float) -> Prediction:
    """One sub-clip: ``pred_boxes`` [T, 4], ``pred_sted`` [T, 2] (valid frames only)."""
    t = len(frame_ids)
    if pred_boxes.shape[0] != t or pred_sted.shape[0] != t:
        raise ValueError(f"{t} frame ids but {pred_boxes.shape[0]} boxes / {pred_sted.shape[0]} start-end rows")
    i, j = span_argmax(pred_sted[:, 0], pred_sted[:, 1])
    xyxy = denormalize_boxes(pred_boxes.float(), (height, width)).clamp(min=0)
    boxes = {int(f): [float(v) for v in row] for f, row in zip(frame_ids, xyxy.tolist())}
    return {"t_start": int(frame_ids[i]), "t_end": int(frame_ids[j]), "boxes": boxes}


def interpolate_boxes(boxes: Mapping[int, Sequence[float]]) -> dict[int, list[float]]:
    """Linearly interpolate each coordinate at every missing id between the first and last ids."""
    ids = sorted(boxes)
    out: dict[int, list[float]] = {f: list(boxes[f]) for f in ids}
    for a, b in zip(ids[:-1], ids[1:]):
        for f in range(a + 1, b):
            r = (f - a) / (b - a)
            out[f] = [boxes[a][k] + r * (boxes[b][k] - boxes[a][k]) for k in range(4)]
    return dict(sorted(out.items()))


def merge_clip_predictions(clips: Sequence[Prediction]) -> Prediction:
    """Union of sub-clip boxes (then interpolated) and of their spans."""
    if not clips:
        raise ValueError("no sub-clip predictions to merge")
    boxes: dict[int, list[float]] = {}
    for c in clips:
        boxes.update(c["boxes"])
    return {"t_start": min(c["t_start"] for c in clips), "t_end": max(c["t_end"] for c in clips),
            "boxes": interpolate_boxes(boxes)}


def metas_from_batch(batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-row metadata from a :func:`tastvg.data.collate.collate_stvg` batch: ``item_ids`` (the
    evaluator's keys), ``targets.frame_ids`` (-1 on padding) and ``targets.orig_sizes`` (h, w)."""
    ids, sizes = batch["targets"]["frame_ids"], batch["targets"]["orig_sizes"]
    return [{"video_id": str(batch["item_ids"][i]), "frame_ids": [int(f) for f in ids[i].tolist() if f >= 0],
             "width": float(sizes[i][1]), "height": float(sizes[i][0])} for i in range(len(batch["item_ids"]))]


class TubeCollector:
    """Accumulates sub-clip predictions over batches; :meth:`predictions` merges them per video
    (the two interleaved halves of a test clip may arrive in different batches)."""

    def __init__(self) -> None:
        self.clips: dict[str, list[Prediction]] = {}

    def add(self, outputs: Mapping[str, Any], metas: Sequence[Mapping[str, Any]]) -> None:
        """``metas[b]``: ``video_id``, ``frame_ids`` (original ids of row b's valid frames),
        ``width`` and ``height`` (original pixels)."""
        pad = outputs["frame_pad"]
        if len(metas) != pad.shape[0]:
            raise ValueError(f"{len(metas)} metadata entries for a batch of {pad.shape[0]}")
        for b, meta in enumerate(metas):
            t = int((~pad[b]).sum())
            if len(meta["frame_ids"]) != t:
                raise ValueError(f"video {meta['video_id']}: {len(meta['frame_ids'])} frame ids for {t} valid frames")
            clip = clip_prediction(outputs["pred_boxes"][b, :t].detach(), outputs["pred_sted"][b, :t].detach(),
                                   meta["frame_ids"], meta["width"], meta["height"])
            self.clips.setdefault(str(meta["video_id"]), []).append(clip)

    def predictions(self) -> dict[str, Prediction]:
        return {vid: merge_clip_predictions(clips) for vid, clips in self.clips.items()}


def postprocess(outputs: Mapping[str, Any], metas: Sequence[Mapping[str, Any]]) -> dict[str, Prediction]:
    """Batched model outputs -> ``{video_id: prediction}`` (one batch; see :class:`TubeCollector`).

    Rows sharing a ``video_id`` (the two interleaved sub-clips of a test video) are merged; every
    prediction is interpolated.
    """
    collector = TubeCollector()
    collector.add(outputs, metas)
    return collector.predictions()
