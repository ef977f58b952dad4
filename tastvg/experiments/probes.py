"""Where a trained TA-STVG looks, in numbers: the probes behind the paper's analysis figures.

:func:`analyse` is used by :mod:`tastvg.experiments.runner` on every ablation run (and by
chapter 8): TTS relevance inside and outside the ground-truth span, the share of the ASA map on the
ground-truth box, and the share of the spatial decoder's cross-attention on the box, each against
chance. :func:`theta_sweep` says what TTS's threshold θ keeps (chapter 4).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from torch import Tensor


def _r(x, nd: int = 3):
    """Round a tensor / list of floats for JSON."""
    import torch

    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().tolist()
    if isinstance(x, list):
        return [_r(v, nd) for v in x]
    return round(float(x), nd)


def analyse(model, test_set, collate, predictions: dict, task, keep_detail: bool) -> tuple[dict, Optional[dict]]:
    """Where the trained model looks, on the test split (the paper's analysis figures, in numbers).

    - ``tts_in_span`` / ``tts_out_span``: mean TTS relevance a_t on ground-truth / other frames;
    - ``asa_in_box``: share of the appearance activation map on the grid cells of the GT box (the
      motion map's in a variant without the appearance branch);
    - ``attn_in_box_first`` / ``attn_in_box_last``: share of the spatial decoder's cross-attention
      over visual tokens (first / last layer, final decoding pass, heads averaged) on the GT box's
      cells, on ground-truth frames; ``box_cells``: the share of cells the box covers (chance);
    - ``tattn_in_box_last``: the same share for the temporal decoder's last-layer cross-attention
      over the 3D tokens (renormalised over them), on ground-truth frames;
    With ``keep_detail`` also per-video arrays (TTS scores, ASA maps, attention, prediction).

    Everything is read from ``forward(..., return_intermediates=True)``; a model whose query
    initialisation needs the ground truth (oracle) gets the targets, as in
    :meth:`tastvg.train.task.GroundingTask.predict`.
    """
    import torch
    from torch.utils.data import DataLoader

    from tastvg.boxes import box_token_mask_grid
    from tastvg.train.task import needs_targets, to_device

    model.eval()
    sums: dict[str, list[float]] = {k: [] for k in ("tts_in_span", "tts_out_span", "asa_in_box",
                                                     "attn_in_box_first", "attn_in_box_last", "tattn_in_box_last",
                                                     "box_cells")}
    detail: dict[str, Any] = {}
    oracle = needs_targets(model)
    with torch.no_grad():
        for batch in DataLoader(test_set, batch_size=4, collate_fn=collate):
            batch = to_device(batch, task.device)
            tg = batch["targets"]
            out = model(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"],
                        tg if oracle else None, image_pad=batch["image_pad"], return_intermediates=True)
            inter = out["intermediates"]
            (hh, ww), n = inter.encoder.hw, inter.encoder.tokens_per_frame
            cells = box_token_mask_grid(tg["boxes"].float(), inter.encoder.maps, hh, ww)  # [B, T, N]
            gt = (tg["actioness"] > 0.5) & ~batch["frame_pad"]
            spatial = inter.final.spatial_attention  # [layers, B, T, N + L]
            att = {"first": spatial[0, ..., :n], "last": spatial[-1, ..., :n]}  # [B, T, N] each
            att["temporal"] = inter.final.temporal_attention[-1, ..., -n:]  # [B, T, N]: over [text ; 3D tokens]
            tts = inter.att_sequences  # [B, T] or None
            asa_map = inter.map_app if inter.map_app is not None else inter.map_mot  # [B, T, N] or None
            for i in range(batch["frame_pad"].shape[0]):
                g, valid = gt[i], ~batch["frame_pad"][i]
                inbox = {k: ((a[i] * cells[i]).sum(-1) / a[i].sum(-1).clamp(min=1e-9)) for k, a in att.items()}
                sums["attn_in_box_first"].append(float(inbox["first"][g].mean()))
                sums["attn_in_box_last"].append(float(inbox["last"][g].mean()))
                sums["tattn_in_box_last"].append(float(inbox["temporal"][g].mean()))
                sums["box_cells"].append(float(cells[i][g].mean()))
                if tts is not None:
                    sums["tts_in_span"].append(float(tts[i][g].mean()))
                    if bool((valid & ~g).any()):
                        sums["tts_out_span"].append(float(tts[i][valid & ~g].mean()))
                if asa_map is not None:  # the appearance map, else the motion map
                    m = asa_map[i]
                    sums["asa_in_box"].append(float(((m * cells[i]).sum(-1) / m.sum(-1).clamp(min=1e-9))[g].mean()))
                if keep_detail:
                    vid = str(batch["item_ids"][i])
                    detail[vid] = _video_detail(batch, i, inter, att["last"], att["temporal"], predictions[vid])
    summary = {k: (round(sum(v) / len(v), 4) if v else None) for k, v in sums.items()}
    return summary, (detail if keep_detail else None)


def _video_detail(batch: dict, i: int, inter, attn_last, tattn_last, prediction: dict) -> dict[str, Any]:
    """Per-video arrays of :func:`analyse` (valid frames only), rounded for JSON."""
    tg, valid = batch["targets"], ~batch["frame_pad"][i]
    g = (tg["actioness"][i] > 0.5) & valid
    return {
        "sentence": batch["texts"][i], "frame_ids": [int(f) for f in tg["frame_ids"][i][valid].tolist()],
        "gt_frames": [bool(x) for x in g[valid].tolist()],
        "tts": _r(inter.att_sequences[i][valid]) if inter.att_sequences is not None else None,
        "selected": [bool(x) for x in inter.final.selected[i][valid].tolist()],
        "map_app": _r(inter.map_app[i][valid]) if inter.map_app is not None else None,
        "map_mot": _r(inter.map_mot[i][valid]) if inter.map_mot is not None else None,
        "attn_last": _r(attn_last[i][valid]), "tattn_last": _r(tattn_last[i][valid]), "feature_hw": list(inter.encoder.hw),
        "prediction": {"t_start": prediction["t_start"], "t_end": prediction["t_end"],
                       "boxes": {str(f): _r(bx, 1) for f, bx in prediction["boxes"].items()}},
    }


def theta_sweep(relevance: Tensor, in_span: Tensor, frame_pad: Tensor, thetas: Iterable[float]) -> list[dict[str, float]]:
    """What TTS's threshold θ selects, pooled over the frames of ``V`` videos.

    ``relevance`` a_t [V, T], ``in_span`` [V, T] bool (ground-truth frames), ``frame_pad`` [V, T]
    bool (True = padded, never counted). For each θ the selection is ``a_t > θ`` on valid frames,
    every valid frame when none passes (:func:`tastvg.models.tts.fallback_to_valid`, as the
    model does). One row per θ: ``theta``; ``precision``, the share of selected frames inside the
    span; ``recall``, the share of span frames selected; ``fallback``, the share of videos with no
    frame above θ; ``frames_kept``, selected frames per video.
    """
    from tastvg.models.tts import fallback_to_valid

    span = in_span & ~frame_pad
    rows = []
    for theta in thetas:
        passed = (relevance > theta) & ~frame_pad
        selected = fallback_to_valid(passed, frame_pad)
        hit = (selected & span).sum().item()
        rows.append({"theta": float(theta), "precision": hit / selected.sum().item(),
                     "recall": hit / span.sum().item(), "fallback": (~passed.any(dim=1)).float().mean().item(),
                     "frames_kept": selected.sum().item() / relevance.shape[0]})
    return rows
