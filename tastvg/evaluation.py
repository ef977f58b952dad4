"""Spatio-temporal video grounding metrics: tIoU, vIoU, m_tIoU, m_vIoU, vIoU@R.

A *tube* is a temporal span plus one box per frame. Both the ground truth and the prediction of a
video are given in one format, with **inclusive** frame ids and absolute pixel boxes::

    {"t_start": 12, "t_end": 40, "boxes": {12: [x1, y1, x2, y2], 13: [...], ...}}

A ground-truth entry may also carry ``"qtype"`` (VidSTG: ``"declar"`` or ``"inter"``).
Predicted boxes may cover more frames than the predicted span (the official post-processor
interpolates a box for every frame of the clip); only frames inside the span are scored.

Two protocols
-------------
``"official"`` reproduces the evaluator of the official TA-STVG code (inherited from TubeDETR and
STCAT) number for number. Its conventions, in order:

1. Both spans are used as *half-open* intervals ``[start, end)``. The dataset stores an inclusive
   ground-truth end ``ge`` and the evaluator uses it as exclusive, so the last ground-truth frame is
   not part of the ground-truth moment. The post-processor writes the predicted end as
   ``last predicted frame + 1``, so an inclusive prediction ``[ps, pe]`` is scored as
   ``[ps, pe + 1)``. A prediction covering exactly the ground-truth frames of an ``n``-frame
   moment therefore gets tIoU ``(n - 1) / n``, not 1.
2. ``tIoU = |I| / (|G| + |P| - |I|)`` with interval lengths ``end - start`` (0 when the spans do
   not overlap).
3. ``vIoU = (1 / |U|) * sum over ground-truth frames f in I of IoU(pred_f, gt_f)`` where ``U`` and
   ``I`` are the integer frame ids in the union and intersection of the two half-open spans. A
   ground-truth frame of ``I`` without a predicted box adds 0 (it still counts in ``|U|``).
4. Box IoU on continuous coordinates: area ``(x2 - x1) * (y2 - y1)``, no ``+1`` pixel term
   (:func:`tastvg.boxes.box_iou_float`).
5. ``vIoU@R`` is the fraction of videos whose vIoU is *strictly greater* than ``R``.
6. Means are plain averages over videos, in the order of ``predictions``.

``"inclusive"`` is the corrected variant: both spans are inclusive, i.e. used as
``[start, end + 1)``. A perfect prediction scores 1 on every metric.

Differences from the official code, on purpose
----------------------------------------------
* A ground-truth video missing from ``predictions`` is an error here; the official code iterates
  over the predictions and silently drops the videos that have none, which inflates the means.
  A predicted video that is not in the ground truth is an error too.
* A box pair whose union is zero (two zero-area boxes) has IoU 0 here; the official ``0 / 0``
  yields NaN and turns every mean it enters into NaN. A zero-area box against a box with area has
  IoU 0 under both.
* Malformed input raises ``ValueError`` naming the video: ``t_end < t_start``, a negative frame
  id, a box that is not four finite numbers or has ``x2 < x1`` / ``y2 < y1``. A ground-truth box
  outside the ground-truth span only warns: like the official code, it never enters vIoU.

Besides the four numbers of the papers the result has ``"m_sIoU"``: the mean over videos of the
mean box IoU over all ground-truth frames (the official evaluator's ``gt_viou``, a spatial-only
score that ignores the predicted span; a ground-truth frame without a predicted box adds 0).
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Mapping
from typing import Any

from tastvg.boxes import box_iou_float

PROTOCOLS = ("official", "inclusive")
THRESHOLDS = (0.3, 0.5)
AGGREGATES = ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_sIoU")

Box = tuple[float, float, float, float]


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------
def half_open_span(t_start: int, t_end: int, protocol: str, is_prediction: bool) -> tuple[int, int]:
    """The ``[start, end)`` interval a protocol scores for an inclusive span ``[t_start, t_end]``.

    official:  ground truth ``[t_start, t_end)`` (its last frame is dropped),
               prediction   ``[t_start, t_end + 1)`` (the post-processor's ``end + 1``).
    inclusive: both ``[t_start, t_end + 1)``.
    """
    if protocol == "official" and not is_prediction:
        return t_start, t_end
    return t_start, t_end + 1


def temporal_iou(gt: tuple[int, int], pred: tuple[int, int]) -> float:
    """tIoU of two half-open spans ``[start, end)``, as the official evaluator computes it."""
    max_start, min_end = max(gt[0], pred[0]), min(gt[1], pred[1])
    if min_end <= max_start:
        return 0
    inter = min_end - max_start
    union = (gt[1] - gt[0]) + (pred[1] - pred[0]) - inter
    return inter / union


# --------------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------------
def _frame_id(key: Any, where: str) -> int:
    """Frame ids may be any integer (Python, numpy, torch), an integral float, or (from JSON) a
    string of digits."""
    if isinstance(key, bool):
        raise ValueError(f"{where}: frame id {key!r} is not an integer")
    if isinstance(key, str):
        if not key.strip().lstrip("-").isdigit():
            raise ValueError(f"{where}: frame id {key!r} is not an integer")
        fid = int(key)
    elif isinstance(key, float):
        if not key.is_integer():
            raise ValueError(f"{where}: frame id {key!r} is not an integer")
        fid = int(key)
    else:
        try:
            fid = operator.index(key)
        except TypeError:
            raise ValueError(f"{where}: frame id {key!r} is not an integer") from None
    if fid < 0:
        raise ValueError(f"{where}: frame id {fid} is negative")
    return fid


def _check_box(box: Any, where: str) -> Box:
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: box {box!r} is not four numbers [x1, y1, x2, y2]") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where}: box {box!r} is not four finite numbers [x1, y1, x2, y2]")
    x1, y1, x2, y2 = values
    if x2 < x1 or y2 < y1:
        raise ValueError(f"{where}: box {box!r} has x2 < x1 or y2 < y1 (expected [x1, y1, x2, y2])")
    return x1, y1, x2, y2


def _check_tube(video_id: str, tube: Any, role: str) -> dict:
    """Validate one tube and return it with int frame ids and float boxes (order kept)."""
    where = f"{role} of video {video_id!r}"
    if not isinstance(tube, Mapping):
        raise ValueError(f"{where}: expected a dict with t_start, t_end, boxes, got {type(tube).__name__}")
    for field in ("t_start", "t_end", "boxes"):
        if field not in tube:
            raise ValueError(f"{where}: missing field {field!r}")
    t_start = _frame_id(tube["t_start"], f"{where}, field 't_start'")
    t_end = _frame_id(tube["t_end"], f"{where}, field 't_end'")
    if t_end < t_start:
        raise ValueError(f"{where}: t_end={t_end} < t_start={t_start} (frame ids are inclusive)")
    if not isinstance(tube["boxes"], Mapping):
        raise ValueError(f"{where}: field 'boxes' must map frame id -> [x1, y1, x2, y2]")
    boxes: dict[int, Box] = {}
    for key, box in tube["boxes"].items():
        fid = _frame_id(key, f"{where}, field 'boxes'")
        if fid in boxes:
            raise ValueError(f"{where}: frame {fid} has two boxes")
        boxes[fid] = _check_box(box, f"{where}, frame {fid}")
    out = {"t_start": t_start, "t_end": t_end, "boxes": boxes}
    if "qtype" in tube:
        out["qtype"] = tube["qtype"]
    return out


def _check_ground_truth(video_id: str, tube: Any) -> dict:
    gt = _check_tube(video_id, tube, "ground truth")
    outside = [f for f in gt["boxes"] if not gt["t_start"] <= f <= gt["t_end"]]
    if outside:
        # The official evaluator accepts these: they never enter vIoU (outside the span) but do
        # enter the spatial-only sIoU. Kept for number-for-number parity, with a warning.
        warnings.warn(
            f"ground truth of video {video_id!r}: boxes on frames {outside[:5]} lie outside its span "
            f"[{gt['t_start']}, {gt['t_end']}]; they count in m_sIoU only",
            stacklevel=3,
        )
    return gt


# --------------------------------------------------------------------------------------------
# Per-video and dataset metrics
# --------------------------------------------------------------------------------------------
def video_metrics(gt: Mapping, pred: Mapping, protocol: str = "official") -> dict[str, float]:
    """tIoU, vIoU and sIoU of one (already validated) prediction against its ground truth."""
    g = half_open_span(gt["t_start"], gt["t_end"], protocol, is_prediction=False)
    p = half_open_span(pred["t_start"], pred["t_end"], protocol, is_prediction=True)
    tiou = temporal_iou(g, p)
    union_len = max(g[1], p[1]) - min(g[0], p[0])  # integer frames of [min start, max end)
    inter_lo, inter_hi = max(g[0], p[0]), min(g[1], p[1])
    viou = 0
    siou = 0
    for fid, gt_box in gt["boxes"].items():  # ground-truth order, as the official loop
        pred_box = pred["boxes"].get(fid)
        if pred_box is None:
            continue  # counts 0
        iou = box_iou_float(pred_box, gt_box)
        if inter_lo <= fid < inter_hi:
            viou += iou
        siou += iou
    return {
        "tIoU": tiou,
        "vIoU": viou / max(union_len, 1),
        "sIoU": siou / max(len(gt["boxes"]), 1),
    }


def _aggregate(rows: list[dict[str, float]]) -> dict[str, float]:
    """Means in list order (sequential sums, as the official code) and recall at each threshold."""
    n = len(rows)
    out = {"m_tIoU": 0.0, "m_vIoU": 0.0, "m_sIoU": 0.0}
    hits = {r: 0 for r in THRESHOLDS}
    for row in rows:
        out["m_tIoU"] += row["tIoU"]
        out["m_vIoU"] += row["vIoU"]
        out["m_sIoU"] += row["sIoU"]
        for r in THRESHOLDS:
            hits[r] += row["vIoU"] > r  # strictly greater
    result = {"m_tIoU": out["m_tIoU"] / n, "m_vIoU": out["m_vIoU"] / n}
    for r in THRESHOLDS:
        result[f"vIoU@{r}"] = hits[r] / n
    result["m_sIoU"] = out["m_sIoU"] / n
    return result


def evaluate(
    ground_truth: Mapping[str, Mapping],
    predictions: Mapping[str, Mapping],
    protocol: str = "official",
) -> dict[str, Any]:
    """Score predicted tubes against ground-truth tubes.

    Args:
        ground_truth: ``{video_id: {"t_start", "t_end", "boxes", ["qtype"]}}``, inclusive frame ids,
            boxes ``[x1, y1, x2, y2]`` in pixels keyed by frame id (int, or str of digits).
        predictions: the same format (``qtype`` ignored). Must hold exactly the ground-truth videos.
        protocol: ``"official"`` (bit-exact with the official TA-STVG evaluator, half-open spans)
            or ``"inclusive"`` (both spans inclusive). See the module docstring.

    Returns:
        ``{"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_sIoU"}`` as fractions in [0, 1], plus
        ``"per_video": {video_id: {"tIoU", "vIoU", "sIoU"}}``, ``"num_videos"``, ``"protocol"``,
        and ``"by_qtype": {qtype: {the aggregates + "num_videos"}}`` when the ground truth carries
        ``qtype`` (then every ground-truth entry must have one).

    Raises:
        ValueError: unknown protocol; empty ground truth; a ground-truth video missing from the
            predictions (the official code drops it silently); a predicted video not in the ground
            truth; or a malformed tube (message names the video and the field).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
    if not isinstance(ground_truth, Mapping) or not isinstance(predictions, Mapping):
        raise ValueError("ground_truth and predictions must both map video id -> tube dict")
    if len(ground_truth) == 0:
        raise ValueError("ground truth is empty: nothing to evaluate")
    unknown = [v for v in predictions if v not in ground_truth]
    if unknown:
        raise ValueError(f"predictions for videos not in the ground truth: {_preview(unknown)}")
    missing = [v for v in ground_truth if v not in predictions]
    if missing:
        raise ValueError(
            f"no prediction for {len(missing)} ground-truth video(s): {_preview(missing)} "
            "(the official evaluator would silently skip them and inflate the means)"
        )

    gts = {v: _check_ground_truth(v, t) for v, t in ground_truth.items()}
    with_qtype = [v for v, t in gts.items() if "qtype" in t]
    if with_qtype and len(with_qtype) != len(gts):
        lacking = [v for v, t in gts.items() if "qtype" not in t]
        raise ValueError(f"ground truth mixes entries with and without 'qtype'; missing on {_preview(lacking)}")

    per_video: dict[str, dict[str, float]] = {}
    for video_id, tube in predictions.items():  # prediction order, as the official loop
        pred = _check_tube(video_id, tube, "prediction")
        per_video[video_id] = video_metrics(gts[video_id], pred, protocol)

    result: dict[str, Any] = _aggregate(list(per_video.values()))
    result["num_videos"] = len(per_video)
    result["protocol"] = protocol
    result["per_video"] = per_video
    if with_qtype:
        groups: dict[str, list[dict[str, float]]] = {}
        for video_id, row in per_video.items():
            groups.setdefault(str(gts[video_id]["qtype"]), []).append(row)
        result["by_qtype"] = {
            q: {**_aggregate(rows), "num_videos": len(rows)} for q, rows in sorted(groups.items())
        }
    return result


def _preview(ids: list, k: int = 5) -> str:
    shown = ", ".join(repr(v) for v in ids[:k])
    return shown + (f" ... ({len(ids)} in all)" if len(ids) > k else "")


def format_table(result: Mapping[str, Any]) -> str:
    """A plain-text table of the aggregates (percent), one row overall and one per qtype."""
    header = f"{'split':<10}{'videos':>8}" + "".join(f"{k:>10}" for k in AGGREGATES)
    lines = [f"protocol: {result['protocol']}", header, "-" * len(header)]

    def row(name: str, agg: Mapping[str, Any]) -> str:
        return f"{name:<10}{agg['num_videos']:>8}" + "".join(f"{100 * agg[k]:>10.2f}" for k in AGGREGATES)

    lines.append(row("all", result))
    for q, agg in result.get("by_qtype", {}).items():
        lines.append(row(q, agg))
    return "\n".join(lines)
