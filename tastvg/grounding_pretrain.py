"""Synthetic grounding pretraining: the CPU book's stand-in for MDETR.

The official TA-STVG starts from MDETR (HengLan/TA-STVG @ 904ad0c, ``MODEL.WEIGHT``): a ResNet,
a RoBERTa, an encoder over ``[image tokens ; text tokens]`` and a box decoder that were trained
together to put a box on the object a sentence names in a *still image*. The CPU presets' parts
are too small for those weights, so this stage trains the same parts, with the same code, on
single SynthSTVG frames:

* ``backbone2d`` (its ResNet and input projection), ``text``, ``encoder``: one frame's 2D tokens
  and the sentence go through the multimodal encoder (no 3D tokens: MDETR has none either);
* a *target* head (a linear score per 2D token, trained by cross-entropy towards the token cell
  holding the target's box centre: MDETR's token-level alignment, simplified), whose
  min-max-normalised probabilities pool the frame's tokens into the decoder's content query
  exactly as TA-STVG's :class:`~tastvg.models.queries.TargetAware` pools with ASA's map;
* ``anchor_head``, ``spatial_decoder`` and ``box_head`` on that one-frame "video", trained with
  the recipe's L1 and GIoU weights on every decoder layer.

Frames are drawn fresh at every step (``data_seed``; the held-out frames use ``data_seed + 1``),
from every frame of a video: the target is there before and after the sentence's span too.
The checkpoint holds those parts under TA-STVG's own names; a config loads it with
``model.grounding_weights`` (a departure from the official loader, which can take only MDETR's
standard decoder parts: this stand-in trains the very same spatial decoder, so all of it
transfers). The target head is not saved.

    tastvg pretrain grounding --preset synth-grid4-pretrained --steps 600 \\
        --out results/pretrain/synth-grid4_grounding.pth
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tastvg.boxes import box_centre_cell, box_cxcywh_to_xyxy, box_iou_pairs, box_xyxy_to_cxcywh, generalized_box_iou_pairs

# the TA-STVG parts this stage trains and saves (state-dict prefixes of the assembled model)
PARTS = ("backbone2d", "text", "encoder", "anchor_head", "spatial_decoder", "box_head")


class GroundingModel(nn.Module):
    """Single-frame grounding with TA-STVG's parts; ``forward(frames [B, 3, S, S], text_ids,
    text_mask [B, L])`` -> ``{"boxes": [layers, B, 4] (cx, cy, w, h in 0..1), "target_logits":
    [B, N], "alignment": [B, N, L]}`` (the score of each 2D token against each text token)."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        from tastvg.models.build import build_model

        model = build_model(cfg)
        for name in PARTS + ("temporal_pos",):
            setattr(self, name, getattr(model, name))
        d = cfg.model.d_model
        self.target_head = nn.Linear(d, 1)
        self.align_visual, self.align_text = nn.Linear(d, d), nn.Linear(d, d)  # MDETR-style alignment

    def forward(self, frames: Tensor, text_ids: Tensor, text_mask: Tensor) -> dict[str, Tensor]:
        from tastvg.models.asa import minmax_normalise, pool_query
        from tastvg.models.position import sine_position_2d

        b = frames.shape[0]
        f2d = self.backbone2d(frames)  # [B, d, h, w]
        d, h, w = f2d.shape[1:]
        n = h * w
        text, text_pad = self.text(text_ids, text_mask)  # [B, L, d], [B, L]
        pos = sine_position_2d(h, w, d, device=frames.device).flatten(2).permute(2, 0, 1).expand(n, b, d)
        x = torch.cat([f2d.flatten(2).permute(2, 0, 1), text.transpose(0, 1)])  # [N+L, B, d]
        seq_pos = torch.cat([pos, pos.new_zeros(text.shape[1], b, d)])
        pad = torch.cat([text_pad.new_zeros(b, n), text_pad], dim=1)  # [B, N+L]
        mem = self.encoder(x, seq_pos, pad)  # [N+L, B, d]
        m2d = mem[:n].transpose(0, 1)  # [B, N, d]
        logits = self.target_head(m2d).squeeze(-1)  # [B, N]
        keep = (~pad).to(mem.dtype).transpose(0, 1).unsqueeze(-1)
        frames_cls = (mem * keep).sum(0) / keep.sum(0)  # [B, d]
        anchors = self.anchor_head(frames_cls).sigmoid().unsqueeze(0)  # [1, B, 4]: a one-frame video
        activation = minmax_normalise(logits.softmax(-1).detach())  # [B, N], as ASA's maps
        one = torch.ones(b, 1, dtype=torch.bool, device=frames.device)
        q = pool_query(m2d.unsqueeze(1), activation.unsqueeze(1), one).unsqueeze(0)  # [1, B, d]
        time_code = self.temporal_pos(1).unsqueeze(1).expand(1, b, d)
        boxes = self.spatial_decoder(q, anchors, mem, seq_pos, pad if bool(text_pad.any()) else None, ~one,
                                     time_code, self.box_head)  # [layers, 1, B, 4]
        mtxt = mem[n:].transpose(0, 1)  # [B, L, d]
        alignment = self.align_visual(m2d) @ self.align_text(mtxt).transpose(1, 2) / d ** 0.5  # [B, N, L]
        return {"boxes": boxes[:, 0], "target_logits": logits, "alignment": alignment}

    def parts_state_dict(self) -> dict[str, Tensor]:
        """The trained TA-STVG parts under the assembled model's names (no target head)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items() if k.split(".")[0] in PARTS}


def cell_attributes(scene: Any, xyxy: np.ndarray, t: int, grid: tuple[int, int]) -> np.ndarray:
    """[N, 4] appearance ids (:data:`~tastvg.data.synth_scene.APPEARANCE`; -1 = none or "plain")
    of the actor centred in each token cell at frame ``t`` (the actor drawn last wins a cell)."""
    from tastvg.data.synth_scene import APPEARANCE
    from tastvg.pretrain import APPEARANCE_GROUPS, cell_of

    out = np.full((grid[0] * grid[1], len(APPEARANCE_GROUPS)), -1, np.int64)
    cells = cell_of(xyxy[:, t], scene.size, grid)  # [A]
    for actor, cell in zip(scene.actors, cells):
        out[cell] = [APPEARANCE.index(v) if v in APPEARANCE else -1 for v in map(actor.attribute, APPEARANCE_GROUPS)]
    return out


def word_attributes(texts: list[str], offsets: Tensor) -> Tensor:
    """[F, L] appearance id of the word each text token spells (-1: special, padding or not an
    attribute word); ``offsets`` [F, L, 2] character spans from the tokenizer."""
    from tastvg.data.synth_scene import APPEARANCE

    out = torch.full(offsets.shape[:2], -1, dtype=torch.long)
    for f, text in enumerate(texts):
        for j, (a, b) in enumerate(offsets[f].tolist()):
            word = text[a:b].strip()
            if b > a and word in APPEARANCE:
                out[f, j] = APPEARANCE.index(word)
    return out


def frame_batch(seed: int, videos: range, frames_per_video: int, knobs: Any, tokenizer: Any,
                grid: tuple[int, int]) -> dict[str, Tensor]:
    """``frames_per_video`` random frames of each SynthSTVG video in ``videos`` (of ``seed``), with
    the text the data pipeline gives the model (subject phrase, then caption), the target's box
    ``boxes`` [F, 4] (cx, cy, w, h in 0..1), its centre's token cell ``cells`` [F], which text
    tokens are attribute words ``words`` [F, L] and ``matches`` [F, N, L]: the actor centred in
    cell n has the attribute text token l names."""
    from tastvg.data.synth import make_scene, sentence
    from tastvg.data.synth_scene import render
    from tastvg.pretrain import _normalise, random_frames

    frames, texts, boxes, cells_attr = [], [], [], []
    for i in videos:
        scene, facts = make_scene(seed, i, knobs)
        video, xyxy = render(scene)  # [T, S, S, 3], [A, T, 4] pixels
        subject, caption = sentence(facts)
        picks = random_frames(seed, i, scene.frames, frames_per_video, stream=7)
        for t in picks:
            frames.append(video[t])
            texts.append(f"{subject} {caption}")
            boxes.append(np.clip(xyxy[scene.target, t] / scene.size, 0, 1))
            cells_attr.append(cell_attributes(scene, xyxy, int(t), grid))
    box = box_xyxy_to_cxcywh(torch.tensor(np.stack(boxes), dtype=torch.float32))
    tok = tokenizer(texts, padding=True, return_tensors="pt", return_offsets_mapping=True)
    word = word_attributes(texts, tok["offset_mapping"])  # [F, L]
    cell = torch.from_numpy(np.stack(cells_attr))  # [F, N, 4]
    matches = (cell[:, :, None, :] == word[:, None, :, None]).any(-1) & (word >= 0)[:, None, :]  # [F, N, L]
    return {"frames": _normalise(np.stack(frames)[None])[0], "text_ids": tok["input_ids"],
            "text_mask": tok["attention_mask"], "boxes": box, "cells": box_centre_cell(box, *grid),
            "words": word >= 0, "matches": matches}


def grounding_losses(out: dict[str, Tensor], batch: dict[str, Tensor], bbox: float = 5.0,
                     giou: float = 4.0) -> Tensor:
    """Cross-entropy of the target head towards the target's cell; the alignment's binary
    cross-entropy on (cell, attribute word) pairs (does the actor there have the attribute the
    word names?); ``bbox`` x L1 and ``giou`` x (1 - GIoU) of every decoder layer's box (the
    recipe's weights)."""
    total = F.cross_entropy(out["target_logits"], batch["cells"])
    pairs = batch["words"][:, None, :].expand_as(batch["matches"])
    if bool(pairs.any()):
        total = total + F.binary_cross_entropy_with_logits(out["alignment"][pairs], batch["matches"][pairs].float())
    gt = box_cxcywh_to_xyxy(batch["boxes"])
    for layer in out["boxes"]:  # [B, 4]
        total = total + bbox * F.l1_loss(layer, batch["boxes"])
        total = total + giou * (1 - generalized_box_iou_pairs(box_cxcywh_to_xyxy(layer), gt)).mean()
    return total


@torch.no_grad()
def evaluate_grounding(model: GroundingModel, batch: dict[str, Tensor]) -> dict[str, float]:
    """Held-out frames: the target head's cell accuracy (chance = 1 / actors in view, reported as
    the share a random actor's cell would hit) and the last layer's box IoU with the target."""
    model.eval()
    out = {"boxes": [], "target_logits": []}
    for i in range(0, len(batch["frames"]), 32):
        o = model(batch["frames"][i:i + 32], batch["text_ids"][i:i + 32], batch["text_mask"][i:i + 32])
        out["boxes"].append(o["boxes"][-1])
        out["target_logits"].append(o["target_logits"])
    model.train()
    boxes, logits = torch.cat(out["boxes"]), torch.cat(out["target_logits"])
    iou = box_iou_pairs(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(batch["boxes"]))
    return {"cell_accuracy": float((logits.argmax(-1) == batch["cells"]).float().mean()),
            "box_iou": float(iou.mean()), "box_iou@0.5": float((iou >= 0.5).float().mean()),
            "frames": len(boxes)}


def pretrain_grounding(setup: Any, log: Callable[[str], None] = print) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Train :class:`GroundingModel` from ``setup.preset`` (whose backbone weights it starts from,
    as MDETR starts from ImageNet) on fresh frames; returns the parts' ``state_dict`` and a report
    (losses, held-out accuracy and IoU beside a random actor's, time)."""
    from tastvg.config import load_preset
    from tastvg.data.synth import SynthKnobs
    from tastvg.pretrain import train_report, train_steps
    from tastvg.train.setup import load_tokenizer

    cfg = load_preset(setup.preset)
    cfg.model.grounding_weights = None
    torch.manual_seed(setup.seed)
    model = GroundingModel(cfg)
    tokenizer = load_tokenizer(None, "synth")
    knobs = SynthKnobs(**setup.knobs)
    per_video = max(1, setup.frames_per_video or 4)
    with torch.no_grad():
        grid = tuple(model.backbone2d(torch.zeros(1, 3, knobs.size, knobs.size)).shape[-2:])
    held_out = frame_batch(setup.data_seed + 1, range(setup.eval_videos), per_video, knobs, tokenizer, grid)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=setup.lr, weight_decay=setup.weight_decay)
    before = evaluate_grounding(model, held_out)

    def step_loss(step: int) -> Tensor:
        videos = range(step * setup.batch_size, (step + 1) * setup.batch_size)
        batch = frame_batch(setup.data_seed, videos, per_video, knobs, tokenizer, grid)
        return grounding_losses(model(batch["frames"], batch["text_ids"], batch["text_mask"]), batch)

    losses, train_s = train_steps(step_loss, params, opt, setup, log)
    held = {"grounding": evaluate_grounding(model, held_out), "before_training": before,
            "random_actor_iou": random_actor_iou(setup.data_seed + 1, range(setup.eval_videos), knobs)}
    report = train_report(setup, grid, losses, train_s, held)
    return model.parts_state_dict(), report


def random_actor_iou(seed: int, videos: range, knobs: Any) -> float:
    """The blind baseline: mean IoU with the target of a box on a random actor of the frame
    (every actor equally likely, the target included), over all frames of ``videos``."""
    from tastvg.data.synth import make_scene
    from tastvg.data.synth_scene import render

    ious = []
    for i in videos:
        scene, _ = make_scene(seed, i, knobs)
        _, xyxy = render(scene)
        boxes = torch.tensor(xyxy, dtype=torch.float32)  # [A, T, 4]
        target = boxes[scene.target]
        ious.append(torch.stack([box_iou_pairs(a, target) for a in boxes]).mean())
    return float(torch.stack(ious).mean())
