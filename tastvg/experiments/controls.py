"""Positive controls: has TA-STVG learned what an ablation would test, before the ablation is read?

An ablation compares variants; it can only answer the paper's questions if the baseline model has
learned *when* the sentence holds (TTS relevance high inside the ground-truth span, low outside)
and *which* object it means (the predicted box, the ASA map and the decoder's attention on the
target rather than on a distractor). Three controls, each one run of the experiment runner
(:func:`tastvg.experiments.runner.run_one`) on SynthSTVG, with thresholds on held-out videos:

* ``a`` — one object, *when*: TTS per-video ROC AUC against the span >= 0.9, and m_tIoU above the
  best blind baseline (a constant span chosen on the training split, the whole clip);
* ``b`` — one object, the full model: m_vIoU >= 40 %;
* ``c`` — the ablation setting (>= 3 distractors, >= 60 % of scenes needing two or more attributes):
  m_vIoU >= 30 %, the predicted box on the target more often than on any distractor, the ASA map
  and the decoder attention on the target >= 2x chance, and TTS filtering (selected share < 1).

:func:`control_summary` computes every quantity from a run's JSON record and its per-video detail
file, with the blind baselines beside them; :func:`check_control` turns a summary into pass / fail
lines; :func:`when_on_actors` (rung 6 of the ladder, not a threshold) says whose time the predicted
spans follow. Nothing here trains: the runs are made by :func:`run_control`. :func:`attribute_legibility`
is the ladder's rung 5 for control (c): which attribute groups the 2D tokens can read at all.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch

from tastvg.experiments.ladder import attention_by_span, box_on_target, roc_auc, span_against_actors

# the thresholds, per control
THRESHOLDS: dict[str, dict[str, float]] = {
    "a": {"tts_auc": 0.9},  # and m_tIoU above the best blind baseline
    "b": {"m_vIoU": 0.40},
    "c": {"m_vIoU": 0.30, "attention_over_chance": 2.0, "needs_combination": 0.60, "distractors": 3},
}


@dataclass
class Check:
    """One threshold of a control: what was measured, against what, and whether it holds."""

    control: str
    name: str
    value: float
    threshold: float
    passed: bool

    def text(self) -> str:
        mark = "holds" if self.passed else "fails"
        return f"({self.control}) {self.name}: {self.value:.3f} vs {self.threshold:.3f} — {mark}"


def tts_auc_from_detail(detail: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Per-video ROC AUC of the TTS relevance against the ground-truth frames, averaged over the
    videos whose clip has frames both inside and outside the span; also the mean relevance inside
    and outside, and the share of frames TTS selects."""
    aucs, inside, outside, selected = [], [], [], []
    for v in detail.values():
        if v.get("tts") is None:
            continue
        s, g = np.asarray(v["tts"], float), np.asarray(v["gt_frames"], bool)
        auc = roc_auc(s, g)
        if auc == auc:
            aucs.append(auc)
        inside += list(s[g])
        outside += list(s[~g])
        selected.append(float(np.mean(v["selected"])))
    nan = float("nan")
    return {"tts_auc": float(np.mean(aucs)) if aucs else nan, "tts_videos": len(aucs),
            "tts_inside": float(np.mean(inside)) if inside else nan,
            "tts_outside": float(np.mean(outside)) if outside else nan,
            "selected_share": float(np.mean(selected)) if selected else nan}


def boxes_on_actors(detail: Mapping[str, Mapping[str, Any]], actor_tubes: Mapping[str, np.ndarray],
                    targets: Mapping[str, int]) -> dict[str, float]:
    """Which actor the predicted tube follows, per video: the actor whose boxes have the highest mean
    IoU with the prediction on the frames the prediction covers (``actor_tubes[vid]`` [A, F, 4],
    ``xyxy`` pixels by absolute frame id; ``targets[vid]`` the target's index). Returns
    :func:`~tastvg.experiments.ladder.box_on_target`'s shares plus ``distractor_wins_max``: the
    largest share of videos won by one distractor slot (the k-th distractor of each scene)."""
    preds, actors, tgts = [], [], []
    for vid, v in detail.items():
        boxes = v["prediction"]["boxes"]
        frames = sorted(int(f) for f in boxes)
        if not frames:
            continue
        p = np.asarray([boxes[str(f)] for f in frames], float)
        a = np.asarray(actor_tubes[vid], float)[:, frames]
        preds.append(p), actors.append(a), tgts.append(int(targets[vid]))
    res = box_on_target(preds, actors, tgts)
    slots: dict[int, int] = {}
    for k, t in zip(res.pop("chosen"), tgts):
        if k != t:
            slot = k - (k > t)  # the k-th distractor, target removed
            slots[slot] = slots.get(slot, 0) + 1
    res["distractor_wins_max"] = max(slots.values(), default=0) / max(len(preds), 1)
    res["videos"] = len(preds)
    return res


def when_on_actors(detail: Mapping[str, Mapping[str, Any]], actor_tubes: Mapping[str, np.ndarray],
                   actor_spans: Mapping[str, np.ndarray], targets: Mapping[str, int], side: int) -> dict[str, Any]:
    """Rung 6 on a run: whose time the predicted spans follow (:func:`span_against_actors` on each
    video's sampled frames) and, when the detail kept it (``tattn_last``), the temporal decoder's
    attention on the target's box cells inside and outside its span (:func:`attention_by_span`,
    the target's boxes from ``actor_tubes[vid]`` [A, F, 4] ``xyxy`` px of ``side``-pixel frames).
    ``actor_spans[vid]`` [A, 2]: every actor's inclusive action span (absolute frames)."""
    from tastvg.boxes import box_token_mask, box_xyxy_to_cxcywh

    preds, acts, tgts, maps, cells, in_span = [], [], [], [], [], []
    for vid, v in detail.items():
        f = np.asarray(v["frame_ids"])
        p = v["prediction"]
        spans = np.asarray(actor_spans[vid])
        a = (f[None] >= spans[:, :1]) & (f[None] <= spans[:, 1:])  # [A, F]
        t = int(targets[vid])
        preds.append((f >= p["t_start"]) & (f <= p["t_end"])), acts.append(a), tgts.append(t)
        if v.get("tattn_last") is not None:
            h, w = v["feature_hw"]
            box = box_xyxy_to_cxcywh(torch.as_tensor(np.asarray(actor_tubes[vid], float)[t, f])) / side
            maps.append(np.asarray(v["tattn_last"], float)), cells.append(box_token_mask(box, h, w).numpy())
            in_span.append(a[t])
    out: dict[str, Any] = span_against_actors(preds, acts, tgts)
    if maps:
        by = attention_by_span(np.stack(maps), np.stack(cells), np.stack(in_span))
        out |= {f"tattn_{k}_over_chance": v["ratio"] for k, v in by.items()}
    return out


def control_summary(record: Mapping[str, Any], detail: Mapping[str, Mapping[str, Any]],
                    baselines: Optional[Mapping[str, Mapping[str, Any]]] = None,
                    on_actors: Optional[Mapping[str, float]] = None,
                    when: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Every quantity the thresholds read, from one run (its JSON ``record`` and ``detail``)."""
    m, an = record["metrics"], record.get("analysis") or {}
    chance = an.get("box_cells") or float("nan")
    out: dict[str, Any] = {
        "m_tIoU": m["m_tIoU"], "m_vIoU": m["m_vIoU"], "m_sIoU": m.get("m_sIoU"),
        **tts_auc_from_detail(detail),
        "asa_in_box": an.get("asa_in_box"), "attn_in_box": an.get("attn_in_box_last"), "box_cells": chance,
        "steps": record["train"]["steps"], "train_time_s": record.get("train_time_s"),
        "distractors": (record["setup"].get("knobs") or {}).get("distractors", 3),
        "needs_combination": (record.get("data") or {}).get("needs_combination"),
    }
    out["asa_over_chance"] = (out["asa_in_box"] or float("nan")) / chance
    out["attn_over_chance"] = (out["attn_in_box"] or float("nan")) / chance
    if baselines is not None:
        out["baselines"] = {k: {"m_tIoU": v["m_tIoU"], "m_vIoU": v["m_vIoU"]} for k, v in baselines.items()}
        out["best_blind_m_tIoU"] = max(v["m_tIoU"] for v in baselines.values())
    if on_actors is not None:
        out["on_actors"] = dict(on_actors)
    if when is not None:
        out["when"] = dict(when)
    return out


def check_control(letter: str, s: Mapping[str, Any]) -> list[Check]:
    """The thresholds of control ``letter`` on a :func:`control_summary`."""
    th = THRESHOLDS[letter]
    checks: list[Check] = []
    if letter == "a":
        checks.append(Check("a", "TTS per-video AUC", s["tts_auc"], th["tts_auc"], s["tts_auc"] >= th["tts_auc"]))
        best = s.get("best_blind_m_tIoU", float("nan"))
        checks.append(Check("a", "m_tIoU above the best blind baseline", s["m_tIoU"], best, s["m_tIoU"] > best))
    elif letter == "b":
        checks.append(Check("b", "m_vIoU", s["m_vIoU"], th["m_vIoU"], s["m_vIoU"] >= th["m_vIoU"]))
    else:
        checks.append(Check("c", "distractors", s["distractors"], th["distractors"], s["distractors"] >= th["distractors"]))
        nc = s.get("needs_combination") or float("nan")
        checks.append(Check("c", "scenes needing two or more attributes", nc, th["needs_combination"],
                            nc >= th["needs_combination"]))
        checks.append(Check("c", "m_vIoU", s["m_vIoU"], th["m_vIoU"], s["m_vIoU"] >= th["m_vIoU"]))
        oa = s.get("on_actors") or {}
        tw, dw = oa.get("target_wins", float("nan")), oa.get("distractor_wins_max", float("nan"))
        checks.append(Check("c", "box on the target vs the most-chosen distractor", tw, dw, tw > dw))
        k = th["attention_over_chance"]
        checks.append(Check("c", "ASA map on the box / chance", s["asa_over_chance"], k, s["asa_over_chance"] >= k))
        checks.append(Check("c", "decoder attention on the box / chance", s["attn_over_chance"], k,
                            s["attn_over_chance"] >= k))
        checks.append(Check("c", "TTS selected share (must filter)", s["selected_share"], 1.0, s["selected_share"] < 1.0))
    return checks


# ------------------------------------------------------------------------------------ runs
def scene_targets(records: Sequence[Any], seed: int, knobs: Any) -> dict[str, int]:
    """The target's actor index of every SynthSTVG record (re-drawn from the generator)."""
    from tastvg.data.synth import make_scene
    from tastvg.experiments.details import synth_index

    return {r.item_id: int(make_scene(seed, synth_index(r.video_id), knobs)[0].target) for r in records}


def actor_spans(records: Sequence[Any], seed: int, knobs: Any) -> dict[str, np.ndarray]:
    """Every actor's inclusive action span ``[A, 2]`` (absolute frames) of each SynthSTVG record."""
    from tastvg.data.synth import make_scene
    from tastvg.experiments.details import synth_index

    return {r.item_id: np.array([a.span for a in make_scene(seed, synth_index(r.video_id), knobs)[0].actors])
            for r in records}


def summarise_run(out: Path, name: str, setup: Any, cache: Path, seed: int = 0) -> dict[str, Any]:
    """:func:`control_summary` of a finished run ``OUT/NAME/seedS.json`` (with its detail file):
    blind baselines on the same train / test records, and which actor the predicted tubes follow.
    Written into the record under ``"control"`` and returned."""
    from tastvg.data.config import DataConfig
    from tastvg.data.dataset import build_dataset
    from tastvg.data.synth import SynthKnobs
    from tastvg.experiments.baselines import blind_baselines, synth_actor_tubes
    from tastvg.experiments.runner import detail_path, prepare_data, run_path
    from tastvg.io import write_json_atomic

    path = run_path(out, name, seed)
    record = json.loads(path.read_text())
    detail = json.loads(detail_path(out, name, seed).read_text())
    root = prepare_data(setup, cache)
    data_cfg = DataConfig.for_dataset("synth")
    train = build_dataset("synth", root, "train", data_cfg, train=False).records
    test = build_dataset("synth", root, "test", data_cfg, train=False).records
    knobs = SynthKnobs(**setup.knobs)
    tubes = synth_actor_tubes(test, setup.data_seed, knobs)
    baselines = blind_baselines(train, test, actor_tubes=tubes)
    targets = scene_targets(test, setup.data_seed, knobs)
    on_actors = boxes_on_actors(detail, tubes, targets)
    when = when_on_actors(detail, tubes, actor_spans(test, setup.data_seed, knobs), targets, knobs.size)
    summary = control_summary(record, detail, baselines, on_actors, when)
    record["control"] = summary
    write_json_atomic(path, record)
    return summary


def run_control(letter: str, name: str, setup: Any, out: Path, cache: Path, seed: int = 0,
                overrides: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Train and evaluate one control run through the experiment runner (skipped when finished),
    then add its :func:`summarise_run`; returns the summary. ``out`` is ``results/controls/LETTER``."""
    from tastvg.experiments.runner import is_finished, run_one

    if not is_finished(out, name, seed, setup):  # the EMA weights are kept: OUT/NAME/seedS.pth
        run_one(name, seed, setup, out, cache, overrides=overrides or {}, progress=False, keep_weights=True)
    return summarise_run(out, name, setup, cache, seed)


def load_controls(root: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{letter: {run name: control summary}}`` of every summarised run under ``root``
    (``results/controls``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(Path(root).glob("*/*/seed*.json")):
        if path.name.endswith("_detail.json"):
            continue
        rec = json.loads(path.read_text())
        if "control" in rec:
            out.setdefault(path.parent.parent.name, {})[path.parent.name] = rec["control"]
    return out


def controls_table(controls: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Any:
    """One row per control run (percent where the quantity is a share), its blind baselines beside
    it: a pandas DataFrame for the book."""
    import pandas as pd

    rows = []
    for letter, runs in controls.items():
        for name, s in runs.items():
            base = s.get("baselines") or {}
            oa = s.get("on_actors") or {}
            rows.append({
                "control": letter, "run": name, "steps": s["steps"],
                "m_tIoU": 100 * s["m_tIoU"], "m_vIoU": 100 * s["m_vIoU"], "TTS AUC": s["tts_auc"],
                "selected %": 100 * s["selected_share"],
                "box on target %": 100 * oa["target_wins"] if oa else float("nan"),
                "ASA / chance": s["asa_over_chance"], "attention / chance": s["attn_over_chance"],
                "blind best m_tIoU": 100 * max((b["m_tIoU"] for b in base.values()), default=float("nan")),
                "blind best m_vIoU": 100 * max((b["m_vIoU"] for b in base.values()), default=float("nan")),
            })
    return pd.DataFrame(rows).set_index(["control", "run"])


# groups whose conjunction bounds *which*: what a model reading only them could tell apart
LEGIBLE_SETS: tuple[tuple[str, ...], ...] = (("size", "colour"), ("size", "texture", "colour"),
                                             ("size", "colour", "shape"), ("size", "texture", "colour", "shape"))


def attribute_legibility(backbones: Mapping[str, Mapping[str, Any]], seed: int, videos: int,
                         knobs: Mapping[str, Any], frames_per_video: int = 4) -> dict[str, Any]:
    """Ladder rung 5 for control (c). ``backbones``: name -> ``{"preset": ..., "weights": file of
    its ``backbone2d`` or None (random init under seed 0), "size": frame side (optional)}``. Per
    backbone the held-out per-cell attribute probes among actors
    (:func:`~tastvg.experiments.ladder.backbone_cell_attributes`) on ``videos`` videos of ``seed``;
    and the share of those scenes each set of groups in :data:`LEGIBLE_SETS` can resolve
    (:func:`~tastvg.experiments.ladder.legible_share`)."""
    import torch

    from tastvg.config import load_preset
    from tastvg.data.synth import SynthKnobs
    from tastvg.experiments.ladder import backbone_cell_attributes, legible_share
    from tastvg.models.backbone2d import Backbone2D

    probes = {}
    for name, entry in backbones.items():
        cfg = load_preset(entry["preset"])
        cfg.backbone2d.weights = entry.get("weights")
        torch.manual_seed(0)
        body = Backbone2D(cfg.backbone2d, cfg.model.d_model).body
        k = SynthKnobs(**dict(knobs, **({"size": entry["size"]} if entry.get("size") else {})))
        result = backbone_cell_attributes(body, seed, videos, k, frames_per_video)
        probes[name] = {"preset": entry["preset"], "weights": entry.get("weights"), "frame_px": k.size,
                        **{g: r.as_dict() for g, r in result.items()}}
    k = SynthKnobs(**knobs)
    return {"seed": seed, "videos": videos, "knobs": dict(knobs), "probes": probes,
            "legible_share": {"+".join(groups): legible_share(seed, videos, k, groups) for groups in LEGIBLE_SETS}}


def legibility_table(report: Mapping[str, Any]) -> Any:
    """One row per backbone: each group's held-out probe accuracy among actors (%) beside its
    chance level, from :func:`attribute_legibility`'s report (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for name, probes in report["probes"].items():
        row: dict[str, Any] = {"2D backbone": name, "frame px": probes["frame_px"]}
        for g in ("size", "texture", "colour", "shape"):
            row[f"{g} %"] = 100 * probes[g]["balanced_accuracy"]
            row[f"{g} chance %"] = 100 * probes[g]["chance_balanced"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("2D backbone")
