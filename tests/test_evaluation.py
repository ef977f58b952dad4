"""Hand-computed cases for tastvg.evaluation, plus a randomised check against a line-by-line
numpy transcription of the official evaluator's algorithm (HengLan/TA-STVG @ 904ad0c)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tastvg.boxes import box_iou_float as box_iou
from tastvg.evaluation import evaluate

SQUARE = [0, 0, 10, 10]


def tube(t_start, t_end, box=SQUARE, frames=None, **extra):
    frames = range(t_start, t_end + 1) if frames is None else frames
    return {"t_start": t_start, "t_end": t_end, "boxes": {f: list(box) for f in frames}, **extra}


def score(gt_tube, pred_tube, protocol):
    return evaluate({"v": gt_tube}, {"v": pred_tube}, protocol=protocol)


# ---------------------------------------------------------------- hand-computed cases
def test_perfect_prediction_both_protocols():
    gt = tube(10, 19)  # 10 frames
    off = score(gt, tube(10, 19), "official")
    # official: GT scored as [10, 19), prediction as [10, 20): 9 shared frames out of 10
    assert off["m_tIoU"] == pytest.approx(0.9)
    assert off["m_vIoU"] == pytest.approx(0.9)
    assert off["vIoU@0.3"] == off["vIoU@0.5"] == 1.0
    assert off["m_sIoU"] == 1.0  # spatial-only score ignores the span convention
    inc = score(gt, tube(10, 19), "inclusive")
    assert (inc["m_tIoU"], inc["m_vIoU"], inc["vIoU@0.3"], inc["vIoU@0.5"]) == (1.0, 1.0, 1.0, 1.0)


def test_partial_overlap_worked_example():
    gt = tube(10, 14)                          # boxes on 10..14
    pred = tube(12, 17, box=[0, 0, 10, 5])     # IoU 0.5 with every GT box
    off = score(gt, pred, "official")
    # GT [10,14), pred [12,18): intersection {12,13}, union 4 + 6 - 2 = 8 frames
    assert off["m_tIoU"] == 0.25
    assert off["m_vIoU"] == (0.5 + 0.5) / 8
    assert off["m_sIoU"] == pytest.approx((0.5 * 3) / 5)  # GT frames 12, 13, 14 are predicted
    inc = score(gt, pred, "inclusive")
    # GT [10,15), pred [12,18): intersection {12,13,14}, union 5 + 6 - 3 = 8
    assert inc["m_tIoU"] == 3 / 8
    assert inc["m_vIoU"] == 1.5 / 8


@pytest.mark.parametrize("protocol", ["official", "inclusive"])
def test_disjoint_spans_score_zero(protocol):
    r = score(tube(0, 9), tube(20, 29), protocol)
    assert r["m_tIoU"] == 0 and r["m_vIoU"] == 0 and r["vIoU@0.3"] == 0


def test_touching_spans_differ_between_protocols():
    # prediction starts on the last GT frame: the official evaluator drops that frame from the GT
    gt, pred = tube(0, 9), tube(9, 12)
    assert score(gt, pred, "official")["m_tIoU"] == 0
    inc = score(gt, pred, "inclusive")
    assert inc["m_tIoU"] == 1 / 13          # [0,10) vs [9,13)
    assert inc["m_vIoU"] == 1 / 13          # one shared frame with IoU 1 over 13 union frames


def test_one_frame_tubes():
    gt, pred = tube(5, 5), tube(5, 5)
    off = score(gt, pred, "official")
    # the GT moment [5, 5) is empty under the official convention: nothing can match
    assert off["m_tIoU"] == 0 and off["m_vIoU"] == 0
    assert off["m_sIoU"] == 1.0
    inc = score(gt, pred, "inclusive")
    assert inc["m_tIoU"] == 1.0 and inc["m_vIoU"] == 1.0


def test_missing_predicted_boxes_count_zero_but_stay_in_union():
    gt = tube(0, 3)
    pred = tube(0, 3, frames=[0, 2])
    inc = score(gt, pred, "inclusive")
    assert inc["m_tIoU"] == 1.0
    assert inc["m_vIoU"] == 2 / 4
    assert inc["m_sIoU"] == 2 / 4
    off = score(gt, pred, "official")
    assert off["m_tIoU"] == 3 / 4      # [0,3) vs [0,4)
    assert off["m_vIoU"] == 2 / 4      # frames 0 and 2 in [0,3), union of 4 frames


def test_predicted_boxes_outside_the_predicted_span_are_ignored():
    gt = tube(0, 9)
    pred = tube(0, 4)
    pred["boxes"].update({f: SQUARE for f in range(5, 10)})  # interpolated boxes beyond the span
    inc = score(gt, pred, "inclusive")
    assert inc["m_vIoU"] == 5 / 10
    assert inc["m_sIoU"] == 1.0


def test_zero_area_boxes():
    assert box_iou((5, 5, 5, 5), (0, 0, 10, 10)) == 0.0
    assert box_iou((5, 5, 5, 5), (5, 5, 5, 5)) == 0.0  # official: 0/0 = NaN
    assert box_iou((0, 0, 10, 0), (0, 0, 10, 10)) == 0.0
    r = score(tube(0, 1, box=[3, 3, 3, 3]), tube(0, 1, box=[3, 3, 3, 3]), "inclusive")
    assert r["m_vIoU"] == 0.0 and not np.isnan(r["m_tIoU"])


def test_box_iou_has_no_plus_one_pixel_term():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 5)) == 0.5
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == 1 / 7
    assert box_iou((0, 0, 1, 1), (1, 1, 2, 2)) == 0.0  # touching corners


@pytest.mark.parametrize("threshold, height", [(0.3, 3), (0.5, 5)])
def test_threshold_ties_are_not_counted(threshold, height):
    # one-frame inclusive tube: vIoU equals the box IoU, exactly the threshold
    r = score(tube(7, 7), tube(7, 7, box=[0, 0, 10, height]), "inclusive")
    assert r["m_vIoU"] == threshold
    assert r[f"vIoU@{threshold}"] == 0.0
    if threshold == 0.5:
        assert r["vIoU@0.3"] == 1.0


def test_vidstg_qtype_split():
    gt = {
        "a": tube(0, 4, qtype="declar"),
        "b": tube(0, 4, qtype="declar"),
        "c": tube(0, 4, qtype="inter"),
    }
    pred = {"a": tube(0, 4), "b": tube(10, 14), "c": tube(0, 4, box=[0, 0, 10, 5])}
    r = evaluate(gt, pred, protocol="inclusive")
    assert set(r["by_qtype"]) == {"declar", "inter"}
    d, i = r["by_qtype"]["declar"], r["by_qtype"]["inter"]
    assert (d["num_videos"], i["num_videos"]) == (2, 1)
    assert d["m_tIoU"] == 0.5 and d["m_vIoU"] == 0.5 and d["vIoU@0.5"] == 0.5
    assert i["m_tIoU"] == 1.0 and i["m_vIoU"] == 0.5 and i["vIoU@0.5"] == 0.0 and i["vIoU@0.3"] == 1.0
    assert r["m_vIoU"] == pytest.approx(1.0 / 3 + 0.5 / 3)
    assert r["per_video"]["c"] == {"tIoU": 1.0, "vIoU": 0.5, "sIoU": 0.5}


def test_no_qtype_means_no_split():
    assert "by_qtype" not in score(tube(0, 2), tube(0, 2), "official")


def test_string_frame_ids_from_json_are_accepted():
    gt = json.loads(json.dumps({"v": tube(3, 6)}))
    pred = json.loads(json.dumps({"v": tube(3, 6)}))
    assert evaluate(gt, pred, "inclusive")["m_vIoU"] == 1.0


# ---------------------------------------------------------------- malformed input
@pytest.mark.parametrize(
    "gt, pred, message",
    [
        ({"v": tube(0, 3)}, {"v": tube(0, 3), "w": tube(0, 3)}, "'w'"),             # unknown video
        ({"v": tube(0, 3), "w": tube(0, 3)}, {"v": tube(0, 3)}, "'w'"),             # missing video
        ({"v": {"t_start": 5, "t_end": 2, "boxes": {}}}, {"v": tube(0, 3)}, "'v'"),  # t_end < t_start
        ({"v": tube(0, 3)}, {"v": {"t_start": 5, "t_end": 2, "boxes": {}}}, "'v'"),
        ({"v": tube(0, 3)}, {"v": tube(0, 3, box=[10, 0, 5, 10])}, "'v'"),          # x2 < x1
        ({"v": tube(0, 3)}, {"v": tube(0, 3, box=[0, 10, 5, 0])}, "'v'"),           # y2 < y1
        ({"v": tube(0, 3)}, {"v": tube(0, 3, box=[0, 0, 1])}, "'v'"),               # 3 numbers
        ({"v": tube(0, 3)}, {"v": tube(0, 3, box=[0, 0, float("nan"), 1])}, "'v'"),
        ({"v": tube(0, 3)}, {"v": {"t_start": 0, "boxes": {}}}, "t_end"),           # missing field
        ({"v": tube(0, 3, qtype="inter"), "w": tube(0, 3)}, {"v": tube(0, 3), "w": tube(0, 3)}, "qtype"),
        ({}, {}, "empty"),
    ],
)
def test_malformed_input_raises_value_error_naming_the_problem(gt, pred, message):
    with pytest.raises(ValueError, match=message):
        evaluate(gt, pred)


def test_ground_truth_box_outside_its_span_warns_and_is_ignored_by_viou():
    gt = tube(0, 3)
    gt["boxes"][9] = SQUARE
    with pytest.warns(UserWarning, match="outside its span"):
        r = score(gt, tube(0, 9), "inclusive")
    assert r["m_vIoU"] == 4 / 10 and r["m_sIoU"] == 1.0


def test_numpy_and_torch_scalars_are_accepted():
    torch = pytest.importorskip("torch")
    gt = {"v": {"t_start": np.int64(2), "t_end": np.int32(4), "boxes": {np.int64(f): np.array(SQUARE) for f in range(2, 5)}}}
    pred = {"v": {"t_start": torch.tensor(2), "t_end": 4.0, "boxes": {f: torch.tensor(SQUARE, dtype=torch.float32) for f in range(2, 5)}}}
    assert evaluate(gt, pred, "inclusive")["m_vIoU"] == 1.0
    with pytest.raises(ValueError, match="frame id"):
        evaluate({"v": tube(0, 3)}, {"v": {"t_start": 0.5, "t_end": 3, "boxes": {}}})


def test_unknown_protocol():
    with pytest.raises(ValueError, match="protocol"):
        evaluate({"v": tube(0, 1)}, {"v": tube(0, 1)}, protocol="tubedetr")


# ---------------------------------------------------------------- against the official algorithm
def official_reference(gt: dict, pred: dict) -> dict:
    """The official evaluator's per-video loop, transcribed with numpy (box IoU as np_box_iou).

    gt_sted is the inclusive GT pair used as half-open; pred_sted is [start, end + 1).
    """
    def np_box_iou(b1, b2):
        a1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
        a2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
        lt = np.maximum(b1[:, None, :2], b2[:, :2])
        rb = np.minimum(b1[:, None, 2:], b2[:, 2:])
        wh = (rb - lt).clip(min=0)
        inter = wh[:, :, 0] * wh[:, :, 1]
        return inter / (a1[:, None] + a2 - inter)

    out = {}
    for vid, p in pred.items():
        g = gt[vid]
        gs, ge = g["t_start"], g["t_end"]
        ps, pe = p["t_start"], p["t_end"] + 1
        max_start, min_end = max(gs, ps), min(ge, pe)
        min_start, max_end = min(gs, ps), max(ge, pe)
        if min_end <= max_start:
            tiou = 0
        else:
            inter = min_end - max_start
            tiou = inter / ((ge - gs) + (pe - ps) - inter)
        union = set(range(min_start, max_end))
        inter_set = set(range(max_start, min_end))
        viou = 0
        for fid, box in g["boxes"].items():
            if fid not in p["boxes"]:
                continue
            iou = np_box_iou(np.array([p["boxes"][fid]]), np.array([box]))[0][0]
            if fid in inter_set:
                viou += iou
        out[vid] = (tiou, viou / max(len(union), 1))
    n = len(out)
    return {
        "m_tIoU": sum(t for t, _ in out.values()) / n,
        "m_vIoU": sum(v for _, v in out.values()) / n,
        "vIoU@0.3": sum(v > 0.3 for _, v in out.values()) / n,
        "vIoU@0.5": sum(v > 0.5 for _, v in out.values()) / n,
        "per_video": out,
    }


def random_case(rng: random.Random, n_videos: int):
    gt, pred = {}, {}
    for k in range(n_videos):
        n_frames = rng.randint(5, 120)
        gs = rng.randint(0, n_frames - 1)
        ge = rng.randint(gs, n_frames - 1)
        gt_boxes = {}
        for f in range(gs, ge + 1):
            x1, y1 = rng.randint(0, 300), rng.randint(0, 200)
            gt_boxes[f] = [x1, y1, x1 + rng.randint(1, 200), y1 + rng.randint(1, 150)]
        ps = rng.randint(0, n_frames - 1)
        pe = rng.randint(ps, n_frames - 1)
        pred_boxes = {}
        for f in range(0, n_frames):  # interpolated boxes on every frame, some dropped
            if rng.random() < 0.1:
                continue
            x1, y1 = rng.uniform(0, 300), rng.uniform(0, 200)
            pred_boxes[f] = [x1, y1, x1 + rng.uniform(1, 200), y1 + rng.uniform(1, 150)]
        gt[f"video_{k}"] = {"t_start": gs, "t_end": ge, "boxes": gt_boxes}
        pred[f"video_{k}"] = {"t_start": ps, "t_end": pe, "boxes": pred_boxes}
    return gt, pred


@pytest.mark.parametrize("seed", range(5))
def test_official_protocol_is_bit_identical_to_the_official_algorithm(seed):
    gt, pred = random_case(random.Random(seed), 60)
    ours = evaluate(gt, pred, protocol="official")
    ref = official_reference(gt, pred)
    for key in ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5"):
        assert ours[key] == ref[key], key  # exact, not approximate
    for vid, (tiou, viou) in ref["per_video"].items():
        assert ours["per_video"][vid]["tIoU"] == tiou
        assert ours["per_video"][vid]["vIoU"] == viou


def test_inclusive_protocol_equals_official_after_extending_the_gt_end():
    # inclusive scoring of GT [s, e] is the official scoring of GT [s, e + 1) with an extra box
    gt, pred = random_case(random.Random(123), 40)
    shifted = {}
    for vid, g in gt.items():
        boxes = dict(g["boxes"])
        boxes[g["t_end"] + 1] = boxes[g["t_end"]]
        shifted[vid] = {"t_start": g["t_start"], "t_end": g["t_end"] + 1, "boxes": boxes}
    inc = evaluate(gt, pred, protocol="inclusive")
    off = evaluate(shifted, pred, protocol="official")
    assert inc["m_tIoU"] == off["m_tIoU"] and inc["m_vIoU"] == off["m_vIoU"]


def test_results_are_fractions():
    gt, pred = random_case(random.Random(7), 30)
    for protocol in ("official", "inclusive"):
        r = evaluate(gt, pred, protocol)
        for key in ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_sIoU"):
            assert 0.0 <= r[key] <= 1.0
        assert r["num_videos"] == 30 and len(r["per_video"]) == 30
