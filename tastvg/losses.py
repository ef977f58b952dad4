"""TA-STVG training losses (official code: HengLan/TA-STVG @ 904ad0c). No matching: frame t's query answers for frame t.

Targets (batched, B videos, T frames, padded frames are ignored everywhere)::

    boxes      [B, T, 4]  normalised (cx, cy, w, h); read only on ground-truth frames
    actioness  [B, T]     1 for sampled frames inside the ground-truth span, else 0
    attr_app   [B, APP]   multi-hot appearance attributes   (activation = "attribute")
    attr_mot   [B, MOT]   multi-hot motion attributes

Per decoder layer (last layer + each auxiliary layer, keys suffixed ``_0`` .. ``_{L-2}``):
``loss_bbox`` (L1 summed over GT frames and coordinates / n_box), ``loss_giou`` (Σ 1 - GIoU / n_box),
``loss_sted`` (start and end KL to Gaussian targets, averaged over frames: KL / T) and
``loss_actioness`` (BCE, weight 1 inside the span and ``eos_coef`` outside, mean over frames).
Once: ``logits_f_m``, ``logits_f_a`` (TTS BCE against actioness) and ``logits_r_a``, ``logits_r_m``
(ASA multi-label BCE, or the map-vs-box-mask BCE of ``activation = "instance"``).
Per-video means are averaged over videos, so B = 1 gives the official numbers.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tastvg.boxes import box_cxcywh_to_xyxy, box_token_mask_grid, generalized_box_iou_pairs
from tastvg.config import LossConfig, ModelConfig, TASTVGConfig, resolve_config


def _masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    """Mean over frames per video, then over videos. ``x``, ``valid`` [B, T]."""
    v = valid.to(x.dtype)
    return ((x * v).sum(1) / v.sum(1).clamp(min=1)).mean()


def sted_loss(sted: Tensor, gt: Tensor, valid: Tensor, sigma: float) -> Tensor:
    """Start/end KL to Gaussian targets around the first/last GT frame, averaged over frames.

    ``sted`` [B, T, 2] logits, ``gt`` / ``valid`` [B, T] bool. Computed in float32 whatever the
    logits' dtype: in fp16, ``(p + 1e-6) / q`` overflows to inf for the small ``q`` far from the
    ground truth (a no-op for float32 logits, so the official numbers are unchanged).
    """
    sted = sted.float()
    b, t, _ = sted.shape
    pos = torch.arange(t, device=sted.device, dtype=sted.dtype).expand(b, t)
    idx = torch.where(gt, pos, torch.full_like(pos, float("inf")))
    ts = idx.min(1, keepdim=True).values
    te = torch.where(gt, pos, torch.full_like(pos, -1.0)).max(1, keepdim=True).values
    has_gt = gt.any(1)
    ts, te = torch.where(has_gt[:, None], ts, 0.0), torch.where(has_gt[:, None], te, 0.0)
    vf = valid.to(sted.dtype)
    total = sted.new_zeros(b, t)
    for col, centre in ((0, ts), (1, te)):
        q = torch.exp(-((pos - centre) ** 2) / (2 * sigma**2)) * vf
        q = F.normalize(q + 1e-6 * vf, p=1, dim=1)
        p = sted[..., col].masked_fill(~valid, float("-inf")).softmax(1)
        term = p * ((p + 1e-6) / torch.where(valid, q, torch.ones_like(q))).log()
        total = total + torch.where(valid, term, torch.zeros_like(term))
    per_video = total.sum(1) / vf.sum(1).clamp(min=1)
    return (per_video * has_gt).sum() / has_gt.sum().clamp(min=1)


class TASTVGLoss(nn.Module):
    def __init__(self, loss_cfg: LossConfig, model_cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg, self.model_cfg = loss_cfg, model_cfg
        c = loss_cfg
        self.layer_weights = {"loss_bbox": c.bbox, "loss_giou": c.giou, "loss_sted": c.sted,
                              "loss_actioness": c.actioness}
        self.once_weights = {"logits_f_m": c.tts_motion, "logits_f_a": c.tts_appearance,
                             "logits_r_a": c.asa_appearance, "logits_r_m": c.asa_motion}

    @classmethod
    def from_config(cls, config: "str | TASTVGConfig") -> "TASTVGLoss":
        cfg = resolve_config(config)
        return cls(cfg.loss, cfg.model)

    def layer_losses(self, out: dict[str, Tensor], targets: dict[str, Tensor], valid: Tensor,
                     num_boxes: Tensor) -> dict[str, Tensor]:
        gt = (targets["actioness"] > 0.5) & valid
        pred, tgt = out["pred_boxes"][gt], targets["boxes"].to(out["pred_boxes"].dtype)[gt]
        l1 = F.l1_loss(pred, tgt, reduction="none").sum() / num_boxes
        giou = (1 - generalized_box_iou_pairs(box_cxcywh_to_xyxy(pred), box_cxcywh_to_xyxy(tgt))).sum() / num_boxes
        act_t = gt.to(out["pred_actioness"].dtype)
        weight = torch.where(gt, 1.0, self.cfg.eos_coef).to(act_t.dtype)
        bce = F.binary_cross_entropy_with_logits(out["pred_actioness"], act_t, weight=weight, reduction="none")
        return {"loss_bbox": l1, "loss_giou": giou, "loss_sted": sted_loss(out["pred_sted"], gt, valid, self.cfg.sigma),
                "loss_actioness": _masked_mean(bce, valid)}

    def asa_terms(self, outputs: dict[str, Any], targets: dict[str, Tensor]) -> dict[str, Tensor]:
        """The two ASA terms ``logits_r_a`` / ``logits_r_m`` alone (unweighted), e.g. for an ASA
        module trained on its own. ``outputs["frame_pad"]`` [B, T] and, for ``activation =
        "attribute"``, ``logits_r_a`` [B, APP] / ``logits_r_m`` [B, MOT] (BCE against ``attr_app``
        / ``attr_mot``); for ``"instance"``, ``map_app`` / ``map_mot`` [B, T, N], ``feature_hw``
        and ``feature_sizes`` (BCE against the GT box's token mask, on ground-truth frames). A key
        that is absent (a branch switched off) gives no term."""
        terms: dict[str, Tensor] = {}
        if self.model_cfg.activation == "attribute":
            for key, tkey in (("logits_r_a", "attr_app"), ("logits_r_m", "attr_mot")):
                if key in outputs:
                    if tkey not in targets:
                        raise ValueError(f"targets need '{tkey}' (multi-hot [B, V]) for the ASA loss '{key}'")
                    terms[key] = F.binary_cross_entropy_with_logits(outputs[key], targets[tkey].to(outputs[key].dtype))
        elif "map_app" in outputs or "map_mot" in outputs:
            valid = ~outputs["frame_pad"]
            gt = (targets["actioness"] > 0.5) & valid
            h, w = outputs["feature_hw"]
            sizes = outputs.get("feature_sizes") or [(h, w)] * valid.shape[0]
            dtype = outputs.get("map_app", outputs.get("map_mot")).dtype
            mask = box_token_mask_grid(targets["boxes"].to(dtype), sizes, h, w)  # [B, T, N]
            cells = mask.new_zeros(len(sizes), h, w)  # each video's valid tokens
            for i, (hi, wi) in enumerate(sizes):
                cells[i, :hi, :wi] = 1
            cells = cells.flatten(1)
            for key, mkey in (("logits_r_a", "map_app"), ("logits_r_m", "map_mot")):
                if mkey not in outputs:
                    continue
                bce = F.binary_cross_entropy(outputs[mkey].clamp(1e-6, 1 - 1e-6), mask, reduction="none")
                bce = (bce * cells[:, None]).sum(-1) / cells.sum(-1)[:, None]  # mean over valid tokens
                terms[key] = _masked_mean(bce, gt)
        return terms

    def forward(self, outputs: dict[str, Any], targets: dict[str, Tensor],
                num_boxes: float | Tensor | None = None) -> dict[str, Tensor]:
        """Unweighted terms plus their weighted sum ``loss``. ``num_boxes``: GT boxes over all ranks / world size
        (defaults to this batch's count, at least 1)."""
        valid = ~outputs["frame_pad"]
        gt = (targets["actioness"] > 0.5) & valid
        if num_boxes is None:
            num_boxes = gt.sum()
        n_box = torch.as_tensor(num_boxes, dtype=torch.float32, device=valid.device).clamp(min=1)
        terms: dict[str, Tensor] = dict(self.layer_losses(outputs, targets, valid, n_box))
        if self.cfg.aux:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                for k, v in self.layer_losses(aux, targets, valid, n_box).items():
                    terms[f"{k}_{i}"] = v
        act = gt.to(torch.float32)
        for key in ("logits_f_m", "logits_f_a"):
            if key in outputs:
                bce = F.binary_cross_entropy_with_logits(outputs[key], act.to(outputs[key].dtype), reduction="none")
                terms[key] = _masked_mean(bce, valid)
        terms.update(self.asa_terms(outputs, targets))
        total = terms["loss_bbox"].new_zeros(())
        for k, v in terms.items():
            base = k.rsplit("_", 1)[0] if k[-1].isdigit() else k
            total = total + v * self.layer_weights.get(base, self.once_weights.get(base, 0.0))
        terms["loss"] = total
        return terms
