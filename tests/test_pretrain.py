"""Synthetic pretraining end to end on tiny sizes: labels, a few steps, the report, and loading."""

from __future__ import annotations

import json
import os

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tastvg import pretrain as P  # noqa: E402
from tastvg.config import load_preset  # noqa: E402

TINY = {"size": 32, "frames": 8, "distractors": 1, "clutter": 0.0, "occlusion": 0.0}


def test_dense_targets_mark_the_actors_cells():
    from tastvg.data.synth import SynthKnobs

    t = P.dense_targets(0, 2, SynthKnobs(**TINY), (2, 2))
    assert t["frames"].shape == (8, 32, 32, 3) and t["motion"].shape == (8, 4)
    occupied = (t["colour"] > 0).sum(1)
    assert (occupied >= 1).all() and (occupied <= 2).all()  # two actors, maybe in one cell
    assert ((t["motion"] > 0) <= (t["colour"] > 0)).all()  # motion only where an actor is


def test_cell_of():
    boxes = np.array([[0, 0, 4, 4], [20, 2, 30, 8], [2, 30, 6, 32]], float)
    assert P.cell_of(boxes, 32, (2, 2)).tolist() == [0, 1, 2]


def test_pretrain_both_kinds_save_and_load(tmp_path):
    from tastvg.models.backbone2d import Backbone2D
    from tastvg.models.video_swin import VideoSwin

    cfg = load_preset("tiny")
    for kind in P.KINDS:
        setup = P.PretrainSetup(kind=kind, preset="tiny", steps=2, batch_size=1, eval_videos=2, knobs=TINY)
        state, report = P.pretrain(setup, log=lambda s: None)
        keys = ["motion"] if kind == "video-swin" else list(P.APPEARANCE_GROUPS)
        assert sorted(report["held_out"]) == sorted(keys)
        for r in report["held_out"].values():
            assert 0 <= r["accuracy"] <= 1 and 0 < r["majority"] <= 1
        path = P.save(tmp_path / f"{kind}.pth", state, report, command="tastvg pretrain ...")
        assert json.loads(path.with_suffix(".json").read_text())["command"] == "tastvg pretrain ..."
        if kind == "video-swin":
            cfg.video_swin.weights = str(path)
            loaded = VideoSwin(cfg.video_swin)
            assert not any(p.requires_grad for p in loaded.parameters())  # frozen in STVG training
            own = loaded.state_dict()
        else:
            cfg.backbone2d.weights = str(path)
            own = Backbone2D(cfg.backbone2d, cfg.model.d_model).body.state_dict()
        assert all(torch.equal(own[k], v) for k, v in state.items())


def test_cli_writes_checkpoint_and_report(tmp_path, capsys):
    out = tmp_path / "vs.pth"
    assert P.main(["video-swin", "--preset", "tiny", "--steps", "1", "--batch-size", "1", "--eval-videos", "1",
                   "--out", str(out), "--knob", "size=32", "--knob", "frames=8"]) == 0
    assert out.is_file() and "held-out motion" in capsys.readouterr().out
