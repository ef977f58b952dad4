"""Synthetic pretraining end to end on tiny sizes: labels, a few steps, the report, and loading."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
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


def old_cell_of(boxes: np.ndarray, side: int, grid: tuple[int, int]) -> np.ndarray:
    """``cell_of`` as it was written before it used tastvg.boxes (numpy, the reference)."""
    h, w = grid
    cx, cy = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
    i = np.clip((cy / side * h).astype(int), 0, h - 1)
    j = np.clip((cx / side * w).astype(int), 0, w - 1)
    return i * w + j


@pytest.mark.parametrize("side", [32, 48, 60, 64, 100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell_of_is_box_centre_cell_bit_for_bit(side: int, dtype) -> None:
    rng = np.random.default_rng(side)
    corners = rng.uniform(0, side, (2000, 2, 2))
    boxes = np.concatenate([corners.min(1), corners.max(1)], -1)  # [2000, 4] xyxy
    ints = rng.integers(0, side + 1, (2000, 2, 2)).astype(float)  # integer pixels, as the renderer writes
    boxes = np.concatenate([boxes, np.concatenate([ints.min(1), ints.max(1)], -1)])
    for grid in ((2, 2), (3, 4), (4, 4), (7, 5)):
        h, w = grid  # centres exactly on every cell edge, and on the frame's edges
        edges = [(side * i / h, side * j / w) for i in range(h + 1) for j in range(w + 1)]
        on_edge = np.array([[x - 1, y - 1, x + 1, y + 1] for y, x in edges] + [[x, y, x, y] for y, x in edges])
        b = np.concatenate([boxes, on_edge]).astype(dtype)
        assert np.array_equal(P.cell_of(b, side, grid), old_cell_of(b, side, grid)), (side, grid)
        assert P.cell_of(b.reshape(-1, 2, 4)[:3], side, grid).shape == (3, 2)


def test_pretrain_both_kinds_save_and_load(tmp_path):
    from tastvg.models.backbone2d import Backbone2D
    from tastvg.models.video_swin import VideoSwin

    cfg = load_preset("tiny")
    for kind in ("video-swin", "backbone2d"):
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
    from tastvg.cli import main

    assert main(["pretrain", "video-swin", "--preset", "tiny", "--steps", "1", "--batch-size", "1", "--eval-videos", "1",
                 "--out", str(out), "--knob", "size=32", "--knob", "frames=8"]) == 0
    assert out.is_file() and "held-out motion" in capsys.readouterr().out


def test_frame_difference_switch_is_off_in_paper_presets_and_reads_motion():
    from tastvg.config import available_presets
    from tastvg.models.video_swin import VideoSwin

    for name in available_presets():
        if name.startswith("paper-"):
            assert load_preset(name).video_swin.frame_difference is False
    cfg = load_preset("tiny").video_swin
    cfg.frame_difference = True
    torch.manual_seed(0)
    swin = VideoSwin(cfg)
    assert swin.patch_embed.proj.in_channels == 6
    seen = []
    swin.patch_embed.proj.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        out = swin(clip)
    assert out.shape == (4, swin.out_channels, 1, 1)
    x = seen[0][:, :, :, :32, :32]  # the patch embedding's input: frames, then differences
    assert torch.equal(x[:, :3], clip) and torch.equal(x[:, 3:, 0], torch.zeros_like(x[:, 3:, 0]))
    assert torch.allclose(x[:, 3:, 2], clip[:, :, 2] - clip[:, :, 1])


def test_committed_video_swin_checkpoint_loads_into_its_preset():
    from pathlib import Path

    from tastvg.models.video_swin import VideoSwin

    root = Path(__file__).resolve().parent.parent
    cfg = load_preset("synth-pretrained")
    path = root / cfg.video_swin.weights
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["command"].startswith("tastvg pretrain video-swin") and meta["setup"]["preset"] == "synth-motion"
    assert path.stat().st_size < 4_000_000
    cfg.video_swin.weights = str(path)
    swin = VideoSwin(cfg.video_swin)
    assert swin.frame_difference and not any(p.requires_grad for p in swin.parameters())
    state = torch.load(path, weights_only=True)
    assert all(torch.equal(swin.state_dict()[k], v) for k, v in state.items())


@pytest.mark.parametrize("preset", ["synth-pretrained", "synth-grid4-pretrained", "synth-grid4-pool", "synth-control-c"])
def test_committed_checkpoints_load_into_their_presets(preset):
    """Every weights file a pretrained preset names is committed, small, made by `tastvg pretrain`
    (command in the .json beside it) and loads strictly into the preset's model."""
    from pathlib import Path

    from tastvg.models import build_model

    root = Path(__file__).resolve().parent.parent
    cfg = load_preset(preset)
    for section, kind in (("backbone2d", "backbone2d"), ("video_swin", "video-swin")):
        sub = getattr(cfg, section)
        path = root / sub.weights
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["command"].startswith(f"tastvg pretrain {kind}") and path.stat().st_size < 4_000_000
        assert meta["held_out"], "the report holds its own held-out accuracies"
        sub.weights = str(path)
    if cfg.model.grounding_weights:  # control (c)'s preset also starts from the grounding stand-in
        cfg.model.grounding_weights = str(root / cfg.model.grounding_weights)
        assert cfg.model.tracked_temporal_query, "the departure control (c) needs"
    model = build_model(cfg)
    if cfg.model.grounding_weights:  # loaded last: its tensors (the 2D backbone's among them) win
        state = torch.load(cfg.model.grounding_weights, weights_only=True)
        assert any(k.startswith("backbone2d.") for k in state)
        assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
        return
    state = torch.load(root / load_preset(preset).backbone2d.weights, weights_only=True)
    assert all(torch.equal(model.backbone2d.body.state_dict()[k], v) for k, v in state.items())


def test_output_stride_16_gives_a_4x4_grid_on_64_pixel_frames():
    from tastvg.models.backbone2d import Backbone2D
    from tastvg.models.video_swin import VideoSwin

    cfg = load_preset("synth-grid4")
    assert load_preset("paper-hcstvg").backbone2d.output_stride == 32  # the departure is off in the paper presets
    frames = torch.randn(2, 3, 64, 64)
    assert Backbone2D(cfg.backbone2d, 8)(frames).shape[-2:] == (4, 4)
    assert VideoSwin(cfg.video_swin)(frames.permute(1, 0, 2, 3)[None]).shape[-2:] == (4, 4)  # clip [1, 3, T, H, W]
    assert Backbone2D(load_preset("synth").backbone2d, 8)(frames).shape[-2:] == (2, 2)
    cfg.backbone2d.output_stride = 8
    with pytest.raises(ValueError, match="output_stride"):
        Backbone2D(cfg.backbone2d, 8)


def test_grounding_frames_carry_the_targets_box_cell_and_the_pipelines_text():
    from tastvg.data.synth import SynthKnobs, make_video
    from tastvg.grounding_pretrain import frame_batch
    from tastvg.train.setup import load_tokenizer

    knobs = SynthKnobs(**dict(TINY, distractors=2))
    tok = load_tokenizer(None, "synth")
    b = frame_batch(0, range(3), 2, knobs, tok, (2, 2))
    assert b["frames"].shape == (6, 3, 32, 32) and b["boxes"].shape == (6, 4) and b["cells"].shape == (6,)
    anno = make_video(0, 0, knobs).annotation
    text = tok.decode(b["text_ids"][0][b["text_mask"][0] > 0], skip_special_tokens=True)
    assert text == f"{anno['sub']} {anno['caption']}"  # what STVGDataset gives the model
    s, frames = anno["st_frame"] - 1, len(anno["bbox"])  # the target's annotated boxes agree with ours
    first = np.random.default_rng([0, 0, 7]).choice(8, 2, replace=False)
    for k, t in enumerate(first):
        if s <= t < s + frames:
            x, y, w, h = anno["bbox"][t - s]
            assert torch.allclose(b["boxes"][k], torch.tensor([x + w / 2, y + h / 2, w, h]) / 32, atol=1e-6)
    cx, cy = b["boxes"][:, 0], b["boxes"][:, 1]
    assert torch.equal(b["cells"], (cy * 2).long().clamp(max=1) * 2 + (cx * 2).long().clamp(max=1))


def test_grounding_pretraining_learns_and_its_checkpoint_loads_into_the_model(tmp_path):
    """A few steps lower the loss on a fixed batch; the checkpoint holds only TA-STVG parts, and
    ``model.grounding_weights`` loads every one of them (a missing file is a clean error)."""
    from tastvg.data.synth import SynthKnobs
    from tastvg.grounding_pretrain import PARTS, GroundingModel, frame_batch, grounding_losses
    from tastvg.models.build import build_model
    from tastvg.train.setup import load_tokenizer

    cfg = load_preset("tiny")
    torch.manual_seed(0)
    model = GroundingModel(cfg)
    batch = frame_batch(0, range(2), 2, SynthKnobs(**TINY), load_tokenizer(None, "synth"), (1, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = grounding_losses(model(batch["frames"], batch["text_ids"], batch["text_mask"]), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]

    setup = P.PretrainSetup(kind="grounding", preset="tiny", steps=2, batch_size=1, eval_videos=2, knobs=TINY,
                            frames_per_video=2)
    state, report = P.pretrain(setup, log=lambda s: None)
    g = report["held_out"]
    assert 0 <= g["grounding"]["box_iou"] <= 1 and 0 < g["random_actor_iou"] <= 1
    assert {k.split(".")[0] for k in state} == set(PARTS)
    path = P.save(tmp_path / "g.pth", state, report, command="tastvg pretrain grounding ...")
    cfg.model.grounding_weights = str(path)
    own = build_model(cfg).state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())
    cfg.model.grounding_weights = str(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="model.grounding_weights"):
        build_model(cfg)


def test_train_norm_thaws_batch_norm_and_writes_it_back_as_frozen_statistics(tmp_path):
    from tastvg.models.backbone2d import Backbone2D, FrozenBatchNorm2d

    cfg = load_preset("tiny")
    torch.manual_seed(0)
    body = Backbone2D(cfg.backbone2d, cfg.model.d_model).body
    x = torch.randn(2, 3, 32, 32)
    before = body(x)
    P.thaw_batch_norm(body)
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in body.modules())
    body.eval()  # running statistics: the same numbers as the frozen layers
    assert torch.allclose(body(x), before, atol=1e-6)
    setup = P.PretrainSetup(kind="backbone2d", preset="tiny", steps=2, batch_size=1, eval_videos=2, knobs=TINY,
                            train_norm=True)
    state, report = P.pretrain(setup, log=lambda s: None)
    assert not any(k.endswith("num_batches_tracked") for k in state)
    moved = [k for k in state if k.endswith("running_mean") and bool(state[k].abs().sum() > 0)]
    assert moved, "batch norm statistics were trained"
    path = P.save(tmp_path / "bn.pth", state, report)
    cfg.backbone2d.weights = str(path)
    own = Backbone2D(cfg.backbone2d, cfg.model.d_model).body.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())


def test_maxpool_downsampling_keeps_the_resnets_parameters_and_grid_and_is_off_in_paper_presets():
    from tastvg.models.backbone2d import Backbone2D

    conv, pool = load_preset("synth-grid4").backbone2d, load_preset("synth-grid4-pool").backbone2d
    assert (conv.downsample, pool.downsample) == ("conv", "maxpool")
    assert all(load_preset(p).backbone2d.downsample == "conv" for p in ("paper-hcstvg", "paper-hcstvg2", "paper-vidstg"))
    pool.weights = None
    a, b = Backbone2D(conv, 8), Backbone2D(pool, 8)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
    b.load_state_dict(a.state_dict())  # the same weights run either way
    frames = torch.randn(2, 3, 64, 64)
    out_a, out_b = a(frames), b(frames)
    assert out_a.shape == out_b.shape == (2, 8, 4, 4) and not torch.allclose(out_a, out_b)
    pool.output_stride = 32
    with pytest.raises(ValueError, match="downsample"):
        Backbone2D(pool, 8)


def test_backbone2d_pretraining_draws_frames_per_video_with_their_own_labels():
    from tastvg.data.synth import SynthKnobs

    setup = P.PretrainSetup(kind="backbone2d", knobs={"distractors": 3}, frames_per_video=5)
    frames, labels = P._batch(setup, 3, range(2), (4, 4))
    assert frames.shape == (2, 5, 3, 64, 64) and labels["shape"].shape == (2, 5, 16)
    full = P.dense_targets(3, 1, SynthKnobs(distractors=3), (4, 4))
    t = [i for i in range(len(full["frames"])) if torch.equal(P._normalise(full["frames"][i][None, None])[0, 0], frames[1, 0])]
    assert t and all(torch.equal(labels[g][1, 0], torch.from_numpy(full[g][t[0]])) for g in P.APPEARANCE_GROUPS)
    setup.frames_per_video = None
    assert P._batch(setup, 3, range(1), (4, 4))[0].shape[1] == 32  # default: every frame, as before


def test_balanced_motion_loss_weights_the_rare_moving_cells() -> None:
    y = torch.zeros(1, 4, 5)
    y[0, 0, 0] = 1  # one moving cell among 20
    logits = {"motion": torch.zeros(1, 4, 5)}  # every cell at p = 0.5: loss log 2 per cell, unweighted
    plain = P._losses(logits, {"motion": y})
    balanced = P._losses(logits, {"motion": y}, balanced=True)
    assert plain.item() == pytest.approx(np.log(2))
    assert balanced.item() == pytest.approx(np.log(2) * (19 + 19) / 20)  # the positive counts 19 times


def test_committed_balanced_video_swin_loads_into_the_pool_preset_and_reports_its_held_out_motion():
    """`synth-grid4_video_swin_balanced.pth` is not named by a preset yet: it must still load strictly."""
    from pathlib import Path

    from tastvg.models.video_swin import VideoSwin

    root = Path(__file__).resolve().parent.parent
    path = root / "results/pretrain/synth-grid4_video_swin_balanced.pth"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["command"].startswith("tastvg pretrain video-swin") and "--balanced" in meta["command"]
    assert meta["setup"]["balanced"] and path.stat().st_size < 4_000_000
    motion = meta["held_out"]["motion"]
    assert motion["balanced_accuracy"] > motion["chance_balanced"]
    cfg = load_preset("synth-grid4-pool")
    cfg.video_swin.weights = str(path)
    swin = VideoSwin(cfg.video_swin)
    state = torch.load(path, weights_only=True)
    assert all(torch.equal(swin.state_dict()[k], v) for k, v in state.items())


@pytest.mark.parametrize("name", ["synth-grid4-pool_grounding-2400", "synth-grid4-pool_grounding-4800"])
def test_committed_grounding_stand_ins_load_into_the_pool_preset_and_beat_a_random_actor(name):
    """The MDETR stand-ins the (c) runs name through ``model.grounding_weights`` load into every
    part they hold, are small, carry their command, and their held-out box beats a random actor's."""
    from pathlib import Path

    from tastvg.models.build import build_model

    root = Path(__file__).resolve().parent.parent
    path = root / f"results/pretrain/{name}.pth"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["command"].startswith("tastvg pretrain grounding --preset synth-grid4-pool")
    assert path.stat().st_size < 6_000_000
    held = meta["held_out"]
    assert held["grounding"]["box_iou"] > held["random_actor_iou"] > held["before_training"]["box_iou"]
    cfg = load_preset("synth-grid4-pool")
    cfg.model.grounding_weights = str(path)
    own = build_model(cfg).state_dict()
    state = torch.load(path, weights_only=True)
    assert all(torch.equal(own[k], v) for k, v in state.items())


def test_a_trained_model_rebuilds_without_its_initialisation_files(tmp_path):
    """``without_initial_weights`` drops the pretraining paths (the original config is untouched);
    the model built from it takes a trained state dict strictly, with every tensor equal."""
    from tastvg.models.build import build_model, without_initial_weights

    cfg = load_preset("tiny")
    torch.manual_seed(0)
    trained = build_model(cfg).state_dict()
    cfg.model.grounding_weights = cfg.video_swin.weights = str(tmp_path / "gone.pth")
    with pytest.raises(FileNotFoundError):
        build_model(cfg)
    bare = without_initial_weights(cfg)
    assert cfg.model.grounding_weights and not bare.model.grounding_weights and not bare.video_swin.weights
    assert bare.backbone2d.weights is None and bare.to_dict()["model"]["dec_layers"] == cfg.model.dec_layers
    model = build_model(bare)
    model.load_state_dict(trained, strict=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.items())


def test_control_c_preset_is_the_pool_preset_plus_its_two_named_changes():
    """`synth-control-c` repeats `synth-grid4-pool` (presets are whole files): only the stand-in and
    the departure differ, so the two cannot drift apart unnoticed."""
    from tastvg.experiments.grids import resolve_variant

    named = {"model.grounding_weights": "results/pretrain/synth-grid4-pool_grounding-4800.pth",
             "model.tracked_temporal_query": True}
    expected = resolve_variant("synth-grid4-pool", named).to_dict() | {"name": "synth-control-c"}
    assert load_preset("synth-control-c").to_dict() == expected
