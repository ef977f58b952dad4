"""Where a trained TA-STVG looks, in numbers: the probes behind the paper's analysis figures.

Used by :mod:`tastvg.experiments.runner` on every ablation run (and by chapter 8): TTS relevance inside
and outside the ground-truth span, the share of the ASA map on the ground-truth box, and the share
of the spatial decoder's cross-attention on the box, each against chance.
"""

from __future__ import annotations

from typing import Any, Optional


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
      cells, on ground-truth frames; ``box_cells``: the share of cells the box covers (chance).
    With ``keep_detail`` also per-video arrays (TTS scores, ASA maps, attention, prediction).
    """
    import torch
    from torch.utils.data import DataLoader

    from tastvg.models.asa import box_token_mask_grid
    from tastvg.train.task import to_device

    model.eval()
    captured: dict[str, torch.Tensor] = {}

    def hook(name):
        def fn(module, inputs, output):
            q, k, _, pad = inputs
            sq, n, dq = q.shape
            h = module.heads
            qq = q.reshape(sq, n * h, dq // h).transpose(0, 1) * (dq // h) ** -0.5
            kk = k.reshape(k.shape[0], n * h, dq // h).transpose(0, 1)
            a = qq @ kk.transpose(1, 2)
            if pad is not None:
                a = a.view(n, h, sq, -1).masked_fill(pad[:, None, None, :], float("-inf")).view(n * h, sq, -1)
            captured[name] = a.softmax(-1).view(n, h, -1).mean(1)  # [B*T, S] (last call = final pass)
        return fn

    layers = model.spatial_decoder.layers
    handles = [layers[0].cross_attn.register_forward_hook(hook("first")),
               layers[-1].cross_attn.register_forward_hook(hook("last"))]
    sums: dict[str, list[float]] = {k: [] for k in ("tts_in_span", "tts_out_span", "asa_in_box",
                                                     "attn_in_box_first", "attn_in_box_last", "box_cells")}
    detail: dict[str, Any] = {}
    oracle = model.cfg.model.query_init == "oracle"
    try:
        with torch.no_grad():
            for batch in DataLoader(test_set, batch_size=4, collate_fn=collate):
                batch = to_device(batch, task.device)
                tg = batch["targets"]
                out = model(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"],
                            tg if oracle else None, image_pad=batch["image_pad"])
                b, t = batch["frame_pad"].shape
                (hh, ww), n = out["feature_hw"], out["feature_hw"][0] * out["feature_hw"][1]
                cells = box_token_mask_grid(tg["boxes"].float(), out["feature_sizes"], hh, ww)  # [B, T, N]
                gt = (tg["actioness"] > 0.5) & ~batch["frame_pad"]
                att = {k: captured[k][:, :n].reshape(b, t, n) for k in ("first", "last")}
                for i in range(b):
                    g, valid = gt[i], ~batch["frame_pad"][i]
                    inbox = {k: ((a[i] * cells[i]).sum(-1) / a[i].sum(-1).clamp(min=1e-9)) for k, a in att.items()}
                    sums["attn_in_box_first"].append(float(inbox["first"][g].mean()))
                    sums["attn_in_box_last"].append(float(inbox["last"][g].mean()))
                    sums["box_cells"].append(float(cells[i][g].mean()))
                    if "att_sequences" in out:
                        s = out["att_sequences"][i]
                        sums["tts_in_span"].append(float(s[g].mean()))
                        if bool((valid & ~g).any()):
                            sums["tts_out_span"].append(float(s[valid & ~g].mean()))
                    if "map_app" in out or "map_mot" in out:  # the appearance map, else the motion map
                        m = out.get("map_app", out.get("map_mot"))[i]
                        sums["asa_in_box"].append(float(((m * cells[i]).sum(-1) / m.sum(-1).clamp(min=1e-9))[g].mean()))
                    if keep_detail:
                        vid = str(batch["item_ids"][i])
                        detail[vid] = {
                            "sentence": batch["texts"][i], "frame_ids": [int(f) for f in tg["frame_ids"][i][valid].tolist()],
                            "gt_frames": [bool(x) for x in g[valid].tolist()],
                            "tts": _r(out["att_sequences"][i][valid]) if "att_sequences" in out else None,
                            "selected": [bool(x) for x in out["selected"][i][valid].tolist()],
                            "map_app": _r(out["map_app"][i][valid]) if "map_app" in out else None,
                            "map_mot": _r(out["map_mot"][i][valid]) if "map_mot" in out else None,
                            "attn_last": _r(att["last"][i][valid]), "feature_hw": [hh, ww],
                            "prediction": {"t_start": predictions[vid]["t_start"], "t_end": predictions[vid]["t_end"],
                                           "boxes": {str(f): _r(bx, 1) for f, bx in predictions[vid]["boxes"].items()}},
                        }
    finally:
        for hd in handles:
            hd.remove()
    summary = {k: (round(sum(v) / len(v), 4) if v else None) for k, v in sums.items()}
    return summary, (detail if keep_detail else None)
