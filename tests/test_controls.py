"""Positive controls (tastvg.experiments.controls) on made-up runs whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tastvg.experiments import controls as C


def entry(tts, gt, selected, boxes):
    return {"tts": tts, "gt_frames": gt, "selected": selected,
            "prediction": {"t_start": 0, "t_end": len(gt) - 1, "boxes": {str(f): b for f, b in boxes.items()}}}


def actors(n_frames: int) -> np.ndarray:
    """Three actors far apart: [A, F, 4] xyxy pixels."""
    base = np.array([[0, 0, 10, 10], [30, 30, 40, 40], [50, 0, 60, 10]], float)
    return np.repeat(base[:, None], n_frames, axis=1)


def test_tts_auc_is_per_video_and_selected_share_is_averaged():
    detail = {"v1": entry([0.1, 0.9, 0.8, 0.2], [False, True, True, False], [False, True, True, False], {}),
              "v2": entry([0.9, 0.1, 0.2, 0.8], [False, True, True, False], [True, True, True, True], {})}
    r = C.tts_auc_from_detail(detail)
    assert r["tts_auc"] == pytest.approx(0.5) and r["tts_videos"] == 2  # 1.0 and 0.0
    assert r["selected_share"] == pytest.approx(0.75)
    assert r["tts_inside"] == pytest.approx(np.mean([0.9, 0.8, 0.1, 0.2]))


def test_boxes_on_actors_counts_the_target_and_the_most_chosen_distractor_slot():
    a = actors(3)
    detail = {"v1": entry([0.5] * 3, [True] * 3, [True] * 3, {f: a[0, f].tolist() for f in range(3)}),  # on target 0
              "v2": entry([0.5] * 3, [True] * 3, [True] * 3, {f: a[1, f].tolist() for f in range(3)}),  # distractor
              "v3": entry([0.5] * 3, [True] * 3, [True] * 3, {f: a[1, f].tolist() for f in range(3)})}
    res = C.boxes_on_actors(detail, {"v1": a, "v2": a, "v3": a}, {"v1": 0, "v2": 0, "v3": 2})
    assert res["target_wins"] == pytest.approx(1 / 3) and res["chance"] == pytest.approx(1 / 3)
    # v2 (target 0) chose actor 1 = distractor slot 0; v3 (target 2) chose actor 1 = distractor slot 1
    assert res["distractor_wins_max"] == pytest.approx(1 / 3) and res["videos"] == 3


def test_when_on_actors_reads_spans_and_temporal_attention_from_the_detail():
    """Target 0 acts on frames 0-1, actor 1 on 2-3; the prediction covers 0-1 and the temporal
    attention sits on the target's cell (the top-left of a 2x2 grid on 60-pixel frames) in its span."""
    a = actors(4)
    spans = np.array([[0, 1], [2, 3], [10, 12]])
    tattn = [[1, 0, 0, 0], [1, 0, 0, 0], [0.25] * 4, [0.25] * 4]
    v = {"frame_ids": [0, 1, 2, 3], "feature_hw": [2, 2], "tattn_last": tattn,
         "prediction": {"t_start": 0, "t_end": 1, "boxes": {}}}
    res = C.when_on_actors({"v": v}, {"v": a}, {"v": spans}, {"v": 0}, side=60)
    assert res["tiou_target"] == pytest.approx(1.0) and res["tiou_union"] == pytest.approx(0.5)
    assert res["follows_target"] == 1.0
    assert res["tattn_in_span_over_chance"] == pytest.approx(4.0) and res["tattn_out_span_over_chance"] == pytest.approx(1.0)
    old = {k: x for k, x in v.items() if k != "tattn_last"}  # a run made before the probe: spans only
    assert "tattn_in_span_over_chance" not in C.when_on_actors({"v": old}, {"v": a}, {"v": spans}, {"v": 0}, side=60)


def summary(**over):
    s = {"m_tIoU": 0.7, "m_vIoU": 0.45, "tts_auc": 0.93, "selected_share": 0.6, "asa_over_chance": 2.5,
         "attn_over_chance": 1.5, "distractors": 3, "needs_combination": 0.65, "best_blind_m_tIoU": 0.5,
         "on_actors": {"target_wins": 0.5, "distractor_wins_max": 0.2}}
    return {**s, **over}


def test_thresholds_hold_or_fail_where_they_should():
    a = {c.name: c.passed for c in C.check_control("a", summary())}
    assert all(a.values())
    assert not any(c.passed for c in C.check_control("a", summary(tts_auc=0.89, m_tIoU=0.49)))
    assert [c.passed for c in C.check_control("b", summary(m_vIoU=0.399))] == [False]
    c = {ch.name: ch.passed for ch in C.check_control("c", summary())}
    assert c["decoder attention on the box / chance"] is False  # 1.5x chance < 2x
    assert all(v for k, v in c.items() if k != "decoder attention on the box / chance")
    c = {ch.name: ch.passed for ch in C.check_control("c", summary(selected_share=1.0, distractors=1))}
    assert not c["TTS selected share (must filter)"] and not c["distractors"]
    assert "fails" in C.check_control("b", summary(m_vIoU=0.1))[0].text()


def test_control_summary_reads_a_runner_record():
    record = {"metrics": {"m_tIoU": 0.6, "m_vIoU": 0.3}, "analysis": {"asa_in_box": 0.5, "attn_in_box_last": 0.25,
              "box_cells": 0.125}, "train": {"steps": 10}, "setup": {"knobs": {"distractors": 3}},
              "data": {"needs_combination": 0.7}}
    detail = {"v": entry([0.1, 0.9], [False, True], [False, True], {})}
    s = C.control_summary(record, detail, baselines={"const": {"m_tIoU": 0.4, "m_vIoU": 0.1}})
    assert s["asa_over_chance"] == pytest.approx(4.0) and s["attn_over_chance"] == pytest.approx(2.0)
    assert s["best_blind_m_tIoU"] == 0.4 and s["tts_auc"] == 1.0 and s["needs_combination"] == 0.7
    table = C.controls_table({"c": {"run": {**s, "on_actors": {"target_wins": 0.5}}}})
    assert table.loc[("c", "run"), "m_vIoU"] == pytest.approx(30.0)
    assert table.loc[("c", "run"), "blind best m_tIoU"] == pytest.approx(40.0)


def test_committed_control_c_weights_rebuild_their_model():
    """results/controls/c/*/seed0.pth (EMA weights + config, evaluated elsewhere on fresh videos)
    loads strictly into the model its config builds, with the shipped tokenizer."""
    from tastvg.config import config_from_dict
    from tastvg.models import build_model
    from tastvg.paths import repository_root
    from tastvg.train.checkpoint import load_checkpoint
    from tastvg.train.setup import load_tokenizer, preset_dataset

    paths = sorted((repository_root() / "results" / "controls" / "c").glob("*/seed0.pth"))
    assert paths, "control (c) keeps its EMA weights"
    for path in paths:
        state = load_checkpoint(path, allow_converted=True)
        cfg = config_from_dict(state["config"]["model"])
        assert preset_dataset(cfg.name) == state["config"]["dataset"] == "synth"
        build_model(cfg).load_state_dict(state["model"], strict=True)
        assert load_tokenizer(None, cfg.name).vocab_size <= cfg.text.vocab_size
    # control (c)'s checkpoint, c/seed0.pth, is one run's kept weights, and that run passes every check
    main = repository_root() / "results" / "controls" / "c" / "seed0.pth"
    run = next(p.parent for p in paths if p.resolve() == main.resolve())
    summary = json.loads((run / "seed0.json").read_text())["control"]
    assert all(c.passed for c in C.check_control("c", summary))



def test_attribute_legibility_report_and_table():
    from tastvg.experiments.controls import LEGIBLE_SETS, attribute_legibility, legibility_table

    knobs = {"size": 32, "frames": 8, "distractors": 2, "clutter": 0.0, "occlusion": 0.0}
    rep = attribute_legibility({"random": {"preset": "tiny", "weights": None}}, 0, 16, knobs, frames_per_video=2)
    probe = rep["probes"]["random"]
    assert probe["weights"] is None and 0 <= probe["shape"]["accuracy"] <= 1 and probe["shape"]["classes"] == 4
    shares = rep["legible_share"]
    assert list(shares) == ["+".join(g) for g in LEGIBLE_SETS] and shares["size+texture+colour+shape"] == 1.0
    assert shares["size+colour"] <= shares["size+colour+shape"]
    table = legibility_table(rep)
    assert table.loc["random", "colour chance %"] == pytest.approx(100 * probe["colour"]["chance_balanced"])
