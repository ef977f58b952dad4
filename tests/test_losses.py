"""Loss terms of the official training (HengLan/TA-STVG @ 904ad0c) on hand-made cases."""

from __future__ import annotations

import math

import torch

from tastvg.config import load_preset
from tastvg.boxes import generalized_box_iou_pairs
from tastvg.losses import TASTVGLoss, sted_loss


def outputs(t: int, boxes: torch.Tensor, sted: torch.Tensor, act: torch.Tensor, pad: torch.Tensor | None = None,
            aux: int = 0) -> dict:
    b = boxes.shape[0]
    out = {"pred_boxes": boxes, "pred_sted": sted, "pred_actioness": act,
           "frame_pad": pad if pad is not None else torch.zeros(b, t, dtype=torch.bool), "feature_hw": (2, 2)}
    out["aux_outputs"] = [{"pred_boxes": boxes, "pred_sted": sted, "pred_actioness": act} for _ in range(aux)]
    return out


def test_giou_hand_values() -> None:
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0]])
    # iou 1/7, hull 9, union 7 -> 1/7 - 2/9 ; disjoint: 0 - (3 - 2)/3
    torch.testing.assert_close(generalized_box_iou_pairs(a, b), torch.tensor([1 / 7 - 2 / 9, -1 / 3]))


def test_sted_is_kl_over_frames() -> None:
    t, sigma = 5, 2.0
    logits = torch.randn(1, t, 2)
    gt = torch.tensor([[False, True, True, True, False]])
    pos = torch.arange(t, dtype=torch.float32)
    expected = 0.0
    for col, centre in ((0, 1.0), (1, 3.0)):
        q = torch.exp(-((pos - centre) ** 2) / (2 * sigma**2)) + 1e-6
        q = q / q.sum()
        p = logits[0, :, col].softmax(0)
        expected += float((p * ((p + 1e-6) / q).log()).sum())
    got = sted_loss(logits, gt, torch.ones(1, t, dtype=torch.bool), sigma)
    assert math.isclose(float(got), expected / t, rel_tol=1e-5)


def test_perfect_prediction_and_weights() -> None:
    cfg = load_preset("paper-hcstvg")
    crit = TASTVGLoss(cfg.loss, cfg.model)
    t = 4
    gt_boxes = torch.tensor([[0.5, 0.5, 0.2, 0.4]]).repeat(1, t, 1)
    act = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    targets = {"boxes": gt_boxes, "actioness": act}
    out = outputs(t, gt_boxes.clone(), torch.zeros(1, t, 2), torch.zeros(1, t), aux=2)
    terms = crit(out, targets)
    assert float(terms["loss_bbox"]) == 0.0 and abs(float(terms["loss_giou"])) < 1e-6
    # actioness: BCE(0, y) = log 2 everywhere; weights 1 (in span) and 0.3 (outside), mean over T
    assert math.isclose(float(terms["loss_actioness"]), math.log(2) * (2 + 2 * 0.3) / 4, rel_tol=1e-6)
    assert "loss_sted_0" in terms and "loss_sted_1" in terms and "loss_sted_2" not in terms
    total = sum(float(terms[k]) * w for k, w in (("loss_bbox", 5), ("loss_giou", 4), ("loss_sted", 12),
                                                  ("loss_actioness", 2)))
    assert math.isclose(float(terms["loss"]), 3 * total, rel_tol=1e-5)  # last layer + 2 aux layers

    shifted = outputs(t, gt_boxes + torch.tensor([0.1, 0.0, 0.0, 0.0]), torch.zeros(1, t, 2), torch.zeros(1, t))
    terms = crit(shifted, targets)
    assert math.isclose(float(terms["loss_bbox"]), 0.1 * 2 / 2, rel_tol=1e-5)  # Σ over 2 GT frames / 2 boxes
    terms = crit(shifted, targets, num_boxes=4)
    assert math.isclose(float(terms["loss_bbox"]), 0.1 * 2 / 4, rel_tol=1e-5)


def test_tts_and_asa_terms() -> None:
    cfg = load_preset("tiny")
    crit = TASTVGLoss(cfg.loss, cfg.model)
    t = 3
    out = outputs(t, torch.full((1, t, 4), 0.5), torch.zeros(1, t, 2), torch.zeros(1, t))
    out.update({"logits_f_a": torch.zeros(1, t), "logits_f_m": torch.tensor([[-20.0, 20.0, -20.0]]),
                "logits_r_a": torch.zeros(1, 6), "logits_r_m": torch.zeros(1, 8)})
    targets = {"boxes": torch.full((1, t, 4), 0.5), "actioness": torch.tensor([[0.0, 1.0, 0.0]]),
               "attr_app": torch.zeros(1, 6), "attr_mot": torch.ones(1, 8)}
    terms = crit(out, targets)
    assert math.isclose(float(terms["logits_f_a"]), math.log(2), rel_tol=1e-6)
    assert float(terms["logits_f_m"]) < 1e-6
    assert math.isclose(float(terms["logits_r_a"]), math.log(2), rel_tol=1e-6)
    assert math.isclose(float(terms["logits_r_m"]), math.log(2), rel_tol=1e-6)


def test_padded_batch_equals_single() -> None:
    cfg = load_preset("paper-hcstvg")
    crit = TASTVGLoss(cfg.loss, cfg.model)
    g = torch.Generator().manual_seed(0)
    boxes = torch.rand(2, 6, 4, generator=g) * 0.4 + 0.3
    sted, act = torch.randn(2, 6, 2, generator=g), torch.randn(2, 6, generator=g)
    gt_boxes = torch.rand(2, 6, 4, generator=g) * 0.4 + 0.3
    labels = torch.tensor([[0, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.float32)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    both = crit(outputs(6, boxes, sted, act, pad), {"boxes": gt_boxes, "actioness": labels})
    singles = [crit(outputs(n, boxes[i:i + 1, :n], sted[i:i + 1, :n], act[i:i + 1, :n]),
                    {"boxes": gt_boxes[i:i + 1, :n], "actioness": labels[i:i + 1, :n]}) for i, n in ((0, 6), (1, 4))]
    for key in ("loss_sted", "loss_actioness"):
        torch.testing.assert_close(both[key], (singles[0][key] + singles[1][key]) / 2)
    # box terms: summed over all GT boxes of the batch, divided by their total number (3 + 2)
    torch.testing.assert_close(both["loss_bbox"], (singles[0]["loss_bbox"] * 3 + singles[1]["loss_bbox"] * 2) / 5)


def test_sted_loss_ignores_the_last_start_end_bias() -> None:
    """Softmax over frames is shift-invariant: the start/end head's last bias gets no gradient (§10.13)."""
    from tastvg.models.decoder import MLP

    torch.manual_seed(0)
    head = MLP(16, 16, 2, 2)
    logits = head(torch.randn(2, 7, 16))
    gt = torch.zeros(2, 7, dtype=torch.bool)
    gt[0, 2:5] = gt[1, 0:3] = True
    valid = torch.ones(2, 7, dtype=torch.bool)
    valid[1, 5:] = False
    sted_loss(logits, gt, valid, 2.0).backward()
    assert head.layers[1].bias.grad.abs().max() < 1e-6
    assert head.layers[1].weight.grad.abs().max() > 1e-4


def test_sted_loss_is_finite_and_equal_for_half_precision_logits():
    """fp16 autocast hands the loss fp16 logits: the KL must not overflow (it did: inf at step 1)."""
    from tastvg.losses import sted_loss

    torch.manual_seed(0)
    logits = torch.randn(2, 48, 2) * 3
    gt = torch.zeros(2, 48, dtype=torch.bool)
    gt[0, 5:9] = True
    gt[1, 30:44] = True
    valid = torch.ones(2, 48, dtype=torch.bool)
    full = sted_loss(logits, gt, valid, sigma=1.0)
    half = sted_loss(logits.half(), gt, valid, sigma=1.0)
    assert torch.isfinite(half) and half.dtype == torch.float32
    torch.testing.assert_close(half, full, atol=5e-3, rtol=5e-3)


def test_asa_terms_alone_equal_those_of_the_full_loss() -> None:
    import dataclasses

    cfg = load_preset("tiny")
    g = torch.Generator().manual_seed(1)
    b, t, h, w = 2, 5, 2, 3
    pad = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    targets = {"boxes": torch.rand(b, t, 4, generator=g) * 0.4 + 0.3,
               "actioness": torch.tensor([[0.0, 1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0]]),
               "attr_app": (torch.rand(b, 6, generator=g) > 0.5).float(), "attr_mot": torch.zeros(b, 8)}
    asa = {"frame_pad": pad, "feature_hw": (h, w), "feature_sizes": [(h, w), (2, 2)],
           "map_app": torch.rand(b, t, h * w, generator=g), "map_mot": torch.rand(b, t, h * w, generator=g),
           "logits_r_a": torch.randn(b, 6, generator=g), "logits_r_m": torch.randn(b, 8, generator=g)}
    full = outputs(t, torch.rand(b, t, 4, generator=g) * 0.4 + 0.3, torch.randn(b, t, 2, generator=g),
                   torch.randn(b, t, generator=g), pad) | asa
    for activation in ("attribute", "instance"):
        crit = TASTVGLoss(cfg.loss, dataclasses.replace(cfg.model, activation=activation))
        alone, terms = crit.asa_terms(asa, targets), crit(full, targets)
        assert sorted(alone) == ["logits_r_a", "logits_r_m"]
        assert all(torch.equal(alone[k], terms[k]) for k in alone), activation
    no_motion = {k: v for k, v in asa.items() if k not in ("map_mot", "logits_r_m")}
    assert list(crit.asa_terms(no_motion, targets)) == ["logits_r_a"]
