"""Synthetic pretraining of the CPU backbones: the small book's stand-in for MDETR and Kinetics.

The paper never trains TA-STVG from random backbones: its ResNet starts from MDETR, its Video Swin
from Kinetics-400 (TA-STVG paper, arXiv 2502.11168; official code HengLan/TA-STVG @ 904ad0c). The CPU presets'
backbones are too small for those weights, so they are pretrained once on the dense supervision
that SynthSTVG gives for free, per stage-4 token cell:

* ``video-swin``: the motion state — does an actor centred in this cell change (move, turn,
  grow, blink, ...) in this frame? (binary, one logit per cell and frame);
* ``backbone2d``: the appearance of the actor centred in the cell — size, texture, colour and
  shape (one softmax per group, class 0 = no actor);
* ``grounding``: the MDETR stand-in, single-frame sentence grounding with TA-STVG's own 2D
  branch, text encoder, encoder and spatial decoder (:mod:`tastvg.grounding_pretrain`).

Every step draws fresh videos (``data_seed``; the held-out videos use ``data_seed + 1``), so
the stage cannot overfit a fixed set. It reports held-out per-cell accuracies beside the
majority-class rate and writes the backbone's ``state_dict`` (loadable through
``video_swin.weights`` / ``backbone2d.weights`` of a config) plus a JSON report with the command::

    tastvg pretrain video-swin --preset synth-motion --steps 300 --out results/pretrain/synth-motion_video_swin.pth
    tastvg pretrain backbone2d --preset synth --steps 400 --out results/pretrain/synth_backbone2d.pth

From RGB alone the synth preset's Video Swin learned no per-frame motion state in this budget (a
linear probe at the majority rate after 400 steps); with ``video_swin.frame_difference`` (preset
``synth-motion``, a departure from the official model) 300 steps (~11 min on one shared core) give
the committed ``results/pretrain/synth-motion_video_swin.pth`` that preset ``synth-pretrained`` loads.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor, nn

from tastvg.boxes import box_centre_cell, box_xyxy_to_cxcywh

KINDS = ("video-swin", "backbone2d", "grounding")  # grounding: tastvg.grounding_pretrain
APPEARANCE_GROUPS = ("size", "texture", "colour", "shape")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # the data pipeline's normalisation


@dataclass
class PretrainSetup:
    kind: str = "video-swin"
    preset: str = "synth"
    steps: int = 400
    batch_size: int = 4  # videos per step
    lr: float = 1e-3
    weight_decay: float = 1e-4
    clip_norm: float = 1.0
    data_seed: int = 1  # the ablation runner's datasets use seed 0: pretraining videos differ
    eval_videos: int = 24
    knobs: dict[str, Any] = field(default_factory=lambda: {"distractors": 1})
    seed: int = 0
    # backbone2d: weight each appearance class by its inverse frequency in the batch (the empty
    # class fills most cells and otherwise drowns the rare shapes and textures); video-swin: weight
    # the moving cells by the batch's still / moving ratio
    balanced: bool = False
    # backbone2d: train with ordinary batch norm (statistics and affine), written back into the
    # frozen batch norm's buffers, as an ImageNet ResNet's are before MDETR / TA-STVG freeze them
    train_norm: bool = False
    # frames drawn per video (a step has batch_size videos); None: grounding 4, backbone2d all of them
    frames_per_video: Optional[int] = None


def cell_of(boxes: np.ndarray, side: int, grid: tuple[int, int]) -> np.ndarray:
    """Grid cell (row-major index) holding each box centre; ``boxes`` [..., 4] ``xyxy`` px of a
    ``side x side`` frame -> [...] int (:func:`tastvg.boxes.box_centre_cell` of the centre,
    which is computed before dividing by ``side``)."""
    centre = box_xyxy_to_cxcywh(torch.from_numpy(np.asarray(boxes))) / side
    return box_centre_cell(centre, *grid).numpy()


def dense_targets(seed: int, index: int, knobs: Any, grid: tuple[int, int]) -> dict[str, np.ndarray]:
    """Frames and per-cell labels of SynthSTVG video ``index``: ``frames`` [T, S, S, 3] uint8,
    ``motion`` [T, N] float (an actor centred in the cell changes in this frame) and, per
    appearance group, [T, N] int (1 + the value of the actor centred in the cell, 0 = none;
    the actor drawn last wins a shared cell, as in the rendering)."""
    from tastvg.data.synth import GROUP_VALUES, make_scene
    from tastvg.data.synth_scene import render
    from tastvg.experiments.scene_labels import scene_labels

    scene, _ = make_scene(seed, index, knobs)
    frames, boxes = render(scene)
    lab = scene_labels(seed, index, knobs, grid)
    t, n = scene.frames, grid[0] * grid[1]
    cells = cell_of(boxes, scene.size, grid)  # [A, T]
    out: dict[str, np.ndarray] = {"frames": frames, "motion": np.zeros((t, n), np.float32)}
    for g in APPEARANCE_GROUPS:
        out[g] = np.zeros((t, n), np.int64)
    rows = np.arange(t)
    for a, actor in enumerate(scene.actors):
        out["motion"][rows, cells[a]] = np.maximum(out["motion"][rows, cells[a]], lab["changing"][a])
        for g in APPEARANCE_GROUPS:
            out[g][rows, cells[a]] = 1 + GROUP_VALUES[g].index(actor.attribute(g))
    return out


def random_frames(seed: int, index: int, total: int, count: int, stream: int) -> np.ndarray:
    """``min(count, total)`` distinct frame indices of video ``index``, drawn reproducibly from
    ``(seed, index, stream)`` (each pretraining kind keeps its own ``stream``), in draw order."""
    return np.random.default_rng([seed, index, stream]).choice(total, min(count, total), replace=False)


def _normalise(frames: np.ndarray) -> Tensor:
    """uint8 [B, T, S, S, 3] -> float [B, T, 3, S, S], normalised as the data pipeline does."""
    x = torch.from_numpy(frames).float().div(255).permute(0, 1, 4, 2, 3)
    return (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


class PretrainModel(nn.Module):
    """A backbone of ``cfg`` with linear per-cell heads; ``forward(frames [B, T, 3, S, S])`` ->
    ``{"motion": [B, T, N]}`` or ``{group: [B, T, N, classes]}``."""

    def __init__(self, kind: str, cfg: Any, train_norm: bool = False) -> None:
        super().__init__()
        from tastvg.data.synth import GROUP_VALUES
        from tastvg.models.backbone2d import Backbone2D
        from tastvg.models.video_swin import VideoSwin

        self.kind = kind
        if kind == "video-swin":
            self.backbone: nn.Module = VideoSwin(cfg.video_swin)
            self.backbone.requires_grad_(True)  # frozen in STVG training, trained here
            self.heads = nn.ModuleDict({"motion": nn.Linear(self.backbone.out_channels, 1)})
        elif kind == "backbone2d":
            self.backbone = Backbone2D(cfg.backbone2d, cfg.model.d_model).body
            self.backbone.requires_grad_(True)
            if train_norm:
                thaw_batch_norm(self.backbone)
            self.heads = nn.ModuleDict({g: nn.Linear(self.backbone.out_channels, 1 + len(GROUP_VALUES[g]))
                                        for g in APPEARANCE_GROUPS})
        else:
            raise ValueError(f"unknown pretraining kind {kind!r} (known: {', '.join(KINDS)})")

    def forward(self, frames: Tensor) -> dict[str, Tensor]:
        b, t = frames.shape[:2]
        if self.kind == "video-swin":
            feats = torch.stack([self.backbone(frames[i].transpose(0, 1).unsqueeze(0)) for i in range(b)])
        else:
            feats = self.backbone(frames.flatten(0, 1)).unflatten(0, (b, t))  # [B, T, C, h, w]
        cells = feats.flatten(3).transpose(2, 3)  # [B, T, N, C]
        if self.kind == "video-swin":
            return {"motion": self.heads["motion"](cells).squeeze(-1)}
        return {g: head(cells) for g, head in self.heads.items()}


def thaw_batch_norm(module: nn.Module) -> None:
    """Replace every :class:`~tastvg.models.backbone2d.FrozenBatchNorm2d` under ``module`` by a
    trainable ``nn.BatchNorm2d`` holding the same four tensors. The names are the same, so the
    trained state dict (without ``num_batches_tracked``) loads back into frozen batch norm."""
    from tastvg.models.backbone2d import FrozenBatchNorm2d

    for name, child in module.named_children():
        if isinstance(child, FrozenBatchNorm2d):
            bn = nn.BatchNorm2d(child.weight.numel(), eps=child.eps)
            with torch.no_grad():
                for k in ("weight", "bias", "running_mean", "running_var"):
                    getattr(bn, k).copy_(getattr(child, k))
            setattr(module, name, bn)
        else:
            thaw_batch_norm(child)


def _batch(setup: PretrainSetup, seed: int, indices: range, grid: tuple[int, int]) -> tuple[Tensor, dict[str, Tensor]]:
    from tastvg.data.synth import SynthKnobs

    knobs = SynthKnobs(**setup.knobs)
    items = [dense_targets(seed, i, knobs, grid) for i in indices]
    if setup.kind == "backbone2d" and setup.frames_per_video:  # random frames: more videos per step
        for i, it in zip(indices, items):
            picks = np.sort(random_frames(seed, i, len(it["frames"]), setup.frames_per_video, stream=11))
            it.update({k: v[picks] for k, v in it.items()})
    frames = _normalise(np.stack([it["frames"] for it in items]))
    keys = ["motion"] if setup.kind == "video-swin" else list(APPEARANCE_GROUPS)
    return frames, {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in keys}


def _losses(out: dict[str, Tensor], labels: dict[str, Tensor], balanced: bool = False) -> Tensor:
    total = torch.zeros(())
    for k, logits in out.items():
        if k == "motion":  # balanced: positives weighted by the batch's negative / positive ratio
            y = labels[k].float()
            pos = y.sum().clamp(min=1)
            pos_weight = (y.numel() - pos) / pos if balanced else None
            total = total + nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
            continue
        y, classes = labels[k].flatten(), logits.shape[-1]
        weight = None
        if balanced:  # inverse frequency of each class in this batch (absent classes: weight 0)
            counts = torch.bincount(y, minlength=classes).float()
            weight = torch.where(counts > 0, counts.sum() / (classes * counts.clamp(min=1)), torch.zeros(()))
        total = total + nn.functional.cross_entropy(logits.flatten(0, 2), y, weight=weight)
    return total


def feature_grid(model: PretrainModel, frames: Tensor) -> tuple[int, int]:
    with torch.no_grad():
        out = next(iter(model(frames[:1, :2] if model.kind == "backbone2d" else frames[:1]).values()))
    n = out.shape[2]
    side = int(round(n ** 0.5))
    if side * side != n:
        raise ValueError(f"pretraining needs a square token grid, got {n} cells")
    return side, side


def evaluate(model: PretrainModel, setup: PretrainSetup, grid: tuple[int, int]) -> dict[str, dict[str, float]]:
    """Held-out per-cell accuracy of each head beside the majority-class rate (of the held-out
    labels themselves: a generous baseline), on ``eval_videos`` videos of ``data_seed + 1``."""
    model.eval()
    frames, labels = _batch(setup, setup.data_seed + 1, range(setup.eval_videos), grid)
    with torch.no_grad():
        out = {k: [] for k in labels}
        for i in range(0, len(frames), 4):
            for k, v in model(frames[i:i + 4]).items():
                out[k].append(v)
    report = {}
    for k, chunks in out.items():
        logits, y = torch.cat(chunks), labels[k]
        pred = (logits > 0).long() if k == "motion" else logits.argmax(-1)
        y = y.long()
        counts = torch.bincount(y.flatten())
        classes = torch.unique(y)
        bal = torch.stack([(pred[y == c] == c).float().mean() for c in classes]).mean()
        report[k] = {"accuracy": float((pred == y).float().mean()), "majority": float(counts.max() / counts.sum()),
                     "balanced_accuracy": float(bal), "chance_balanced": 1.0 / len(classes)}
    model.train()
    return report


def train_steps(step_loss: Callable[[int], Tensor], params: list[nn.Parameter], opt: torch.optim.Optimizer,
                setup: PretrainSetup, log: Callable[[str], None]) -> tuple[list[float], float]:
    """``setup.steps`` optimiser steps on ``step_loss(step)`` (gradient norm clipped to
    ``setup.clip_norm``), logging every 50; returns the losses and the seconds taken."""
    start, losses = time.perf_counter(), []
    for step in range(setup.steps):
        loss = step_loss(step)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, setup.clip_norm)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == setup.steps - 1:
            log(f"step {step}: loss {np.mean(losses[-50:]):.4f} ({time.perf_counter() - start:.0f} s)")
    return losses, time.perf_counter() - start


def train_report(setup: PretrainSetup, grid: tuple[int, int], losses: list[float], train_s: float,
                 held_out: dict[str, Any]) -> dict[str, Any]:
    """The report every pretraining kind writes: setup, grid, first / last losses, time, held-out."""
    return {"setup": asdict(setup), "grid": list(grid), "loss_first": float(np.mean(losses[:20])),
            "loss_last": float(np.mean(losses[-20:])), "train_s": round(train_s, 1),
            "s_per_step": round(train_s / max(setup.steps, 1), 3), "held_out": held_out}


def pretrain(setup: PretrainSetup, log: Callable[[str], None] = print) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Train the backbone of ``setup.kind`` on dense synthetic labels; returns its ``state_dict``
    (the names its config's ``weights`` loads) and a report (losses, held-out accuracies, time)."""
    from tastvg.config import load_preset

    if setup.kind == "grounding":
        from tastvg.grounding_pretrain import pretrain_grounding

        return pretrain_grounding(setup, log)
    cfg = load_preset(setup.preset)
    # pretraining starts from random weights even when the preset names pretrained ones
    cfg.backbone2d.weights = cfg.video_swin.weights = None
    torch.manual_seed(setup.seed)
    model = PretrainModel(setup.kind, cfg, train_norm=setup.train_norm)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=setup.lr, weight_decay=setup.weight_decay)
    probe_frames, _ = _batch(setup, setup.data_seed + 1, range(1), (1, 1))
    grid = feature_grid(model, probe_frames)
    def step_loss(step: int) -> Tensor:
        videos = range(step * setup.batch_size, (step + 1) * setup.batch_size)
        frames, labels = _batch(setup, setup.data_seed, videos, grid)
        return _losses(model(frames), labels, setup.balanced)

    losses, train_s = train_steps(step_loss, params, opt, setup, log)
    report = train_report(setup, grid, losses, train_s, evaluate(model, setup, grid))
    # the relative-position index buffers are deterministic (VideoSwin rebuilds them on load): not saved
    state = {k: v.detach().clone() for k, v in model.backbone.state_dict().items()
             if not k.endswith(("relative_position_index", "num_batches_tracked"))}
    return state, report


def save(path: str | Path, state: dict[str, Tensor], report: dict[str, Any], command: Optional[str] = None) -> Path:
    """Write ``state`` to ``path`` and the report (plus the command that made it) beside it as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    meta = dict(report, command=command, checkpoint=path.name)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return path
