"""The ``synth`` preset overfits one fabricated clip (a box sliding left to right): the total loss
falls by at least 10x within a CPU minute."""

from __future__ import annotations

import time

import torch

from tastvg.losses import TASTVGLoss
from tastvg.models import build_model


def moving_box_clip(t: int = 8, h: int = 64, w: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frames [T, 3, H, W] of a red box moving right; boxes [T, 4] (cx, cy, w, h); actioness [T]."""
    frames = torch.full((t, 3, h, w), -1.0)
    boxes = torch.zeros(t, 4)
    for i in range(t):
        cx, cy, bw, bh = 0.2 + 0.6 * i / (t - 1), 0.5, 0.25, 0.3
        frames[i, 0, int((cy - bh / 2) * h):int((cy + bh / 2) * h), int((cx - bw / 2) * w):int((cx + bw / 2) * w)] = 2.0
        boxes[i] = torch.tensor([cx, cy, bw, bh])
    act = torch.zeros(t)
    act[2:6] = 1
    return frames, boxes, act


def test_synth_overfits_one_clip() -> None:
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = build_model("synth").train()
        crit = TASTVGLoss.from_config("synth")
        frames, boxes, act = moving_box_clip()
        ids = torch.tensor([[0, 11, 12, 13, 2]])
        targets = {"boxes": boxes[None], "actioness": act[None],
                   "attr_app": torch.eye(16)[3:4], "attr_mot": torch.eye(16)[5:6]}
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        history: list[float] = []
        start = time.time()
        while time.time() - start < 60 and len(history) < 400:
            out = model(frames[None], torch.zeros(1, 8, dtype=torch.bool), ids, torch.ones_like(ids))
            loss = crit(out, targets)["loss"]
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            history.append(loss.item())
            if len(history) >= 5 and sum(history[-5:]) / 5 < history[0] / 10:
                break
        assert sum(history[-5:]) / 5 < history[0] / 10, (history[0], history[-5:], len(history))
    finally:
        torch.set_num_threads(threads)
