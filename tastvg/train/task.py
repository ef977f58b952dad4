"""What the training engine needs to know about TA-STVG: loss, prediction, ground truth.

Batches are those of :func:`tastvg.data.collate.collate_stvg` with a tokenizer (``text_ids``,
``text_mask``). At test time each video's 2x-dense clip is split into its two interleaved
sub-clips (even and odd positions), both go through the model as separate rows, and
:func:`tastvg.postprocess.postprocess` merges them into one tube per video.

A model whose query initialisation reads the ground truth (``needs_targets``: the oracle
queries) gets the batch's targets at prediction time too (:func:`needs_targets`); every caller of
:meth:`GroundingTask.predict` (the trainer's evaluation, the ablation runner, checkpoint
prediction) thus handles it through this one path.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from tastvg.data.sampling import split_interleaved
from tastvg.losses import TASTVGLoss
from tastvg.postprocess import metas_from_batch, postprocess
from tastvg.train.distributed import all_reduce_mean
from tastvg.train.ema import unwrap

LOGGED_TERMS = ("loss_bbox", "loss_giou", "loss_sted", "loss_actioness",
                "logits_f_m", "logits_f_a", "logits_r_a", "logits_r_m")


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move every tensor of a (nested) batch dict to ``device``."""
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Tensor):
            out[key] = value.to(device, non_blocking=True)
        elif isinstance(value, dict):
            out[key] = to_device(value, device)
        else:
            out[key] = value
    return out


def needs_targets(model: nn.Module) -> bool:
    """Whether ``model``'s query initialisation reads ground-truth targets at every forward
    (``model.query_init.needs_targets``: the oracle queries), looking through a DDP or EMA wrapper."""
    return bool(getattr(getattr(unwrap(model), "query_init", None), "needs_targets", False))


def split_batch_interleaved(batch: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``[B, T]`` dense test clips -> ``[2B, ceil(T/2)]`` sub-clips (even positions, then odd).

    Returns the new model inputs and one ``meta`` per row for ``postprocess`` (``video_id``,
    original ``frame_ids`` of the valid frames, original ``width`` / ``height``). The inputs
    hold the sub-clips' ``targets`` too (``boxes`` [2B, T', 4], ``actioness`` [2B, T'], zero on
    padding), for a model that reads them (:func:`needs_targets`).
    """
    frames, pad = batch["frames"], batch["frame_pad"]
    b, t = pad.shape
    half = (t + 1) // 2
    new_frames = frames.new_zeros((2 * b, half, *frames.shape[2:]))
    new_pad = torch.ones(2 * b, half, dtype=torch.bool, device=pad.device)
    boxes = batch["targets"]["boxes"].new_zeros((2 * b, half, 4)) if "boxes" in batch["targets"] else None
    actioness = batch["targets"]["actioness"].new_zeros((2 * b, half)) if "actioness" in batch["targets"] else None
    metas: list[dict[str, Any]] = []
    rows = []
    for i in range(b):
        valid = int((~pad[i]).sum())
        ids = batch["targets"]["frame_ids"][i, :valid].tolist()
        h, w = batch["targets"]["orig_sizes"][i].tolist()
        for positions in split_interleaved(range(valid)):
            if not positions:  # a one-frame clip has no odd half: reuse the even one
                positions = [0]
            r = len(rows)
            new_frames[r, : len(positions)] = frames[i, positions]
            new_pad[r, : len(positions)] = False
            if boxes is not None:
                boxes[r, : len(positions)] = batch["targets"]["boxes"][i, positions]
            if actioness is not None:
                actioness[r, : len(positions)] = batch["targets"]["actioness"][i, positions]
            rows.append(i)
            metas.append({"video_id": batch["item_ids"][i], "frame_ids": [ids[p] for p in positions],
                          "width": w, "height": h})
    index = torch.tensor(rows, device=pad.device)
    inputs = {"frames": new_frames, "frame_pad": new_pad,
              "text_ids": batch["text_ids"].index_select(0, index),
              "text_mask": batch["text_mask"].index_select(0, index),
              "image_pad": batch["image_pad"].index_select(0, index),
              "targets": {k: v for k, v in (("boxes", boxes), ("actioness", actioness)) if v is not None}}
    return inputs, metas


class GroundingTask:
    """Loss and predictions of a TA-STVG model on collated STVG batches."""

    def __init__(self, criterion: TASTVGLoss, device: torch.device, split_test: bool = True) -> None:
        self.criterion = criterion
        self.device = device
        self.split_test = split_test

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[Tensor, dict[str, float]]:
        batch = to_device(batch, self.device)
        targets = batch["targets"]
        out = model(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"], targets,
                    image_pad=batch["image_pad"])
        # the box losses are normalised by the ground-truth boxes of all processes / world size
        n_box = float((targets["actioness"] > 0.5).logical_and(~batch["frame_pad"]).sum())
        num_boxes = max(all_reduce_mean({"n": n_box}, self.device)["n"], 1.0)
        terms = self.criterion(out, targets, num_boxes=num_boxes)
        logs = {k: float(terms[k].detach()) for k in LOGGED_TERMS if k in terms}
        logs["loss"] = float(terms["loss"].detach())
        return terms["loss"], logs

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, dict]:
        """``{video_id: tube}`` of a batch; the targets go in only when :func:`needs_targets`."""
        batch = to_device(batch, self.device)
        if self.split_test:
            inputs, metas = split_batch_interleaved(batch)
        else:
            inputs = {k: batch[k] for k in ("frames", "frame_pad", "text_ids", "text_mask", "image_pad", "targets")}
            metas = metas_from_batch(batch)
        targets = inputs["targets"] if needs_targets(model) else None
        out = model(inputs["frames"], inputs["frame_pad"], inputs["text_ids"], inputs["text_mask"], targets,
                    image_pad=inputs["image_pad"])
        out = {k: (v.float() if isinstance(v, Tensor) and v.is_floating_point() else v) for k, v in out.items()}
        return postprocess(out, metas)

    def ground_truth(self, dataset: Dataset) -> dict[str, dict]:
        from tastvg.data.annotations import ground_truth

        return ground_truth(dataset.records)  # type: ignore[attr-defined]

    def sample_ids(self, batch: dict[str, Any]) -> list[str]:
        return list(batch["item_ids"])
