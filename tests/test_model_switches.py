"""Each model switch changes what it should (and the TTS scores, computed before it, stay put)."""

from __future__ import annotations

import copy

import pytest
import torch

from tastvg.config import TASTVGConfig, VideoSwinConfig, load_preset
from tastvg.losses import TASTVGLoss
from tastvg.models import build_model
from tastvg.models.tastvg import TASTVG
from tastvg.models.video_swin import VideoSwin


def make_inputs(t: int = 6, size: tuple[int, int] = (64, 96)):
    g = torch.Generator().manual_seed(1)
    frames = torch.randn(1, t, 3, *size, generator=g)
    pad = torch.zeros(1, t, dtype=torch.bool)
    ids = torch.tensor([[0, 17, 45, 99, 120, 2]])
    act = torch.zeros(1, t)
    act[0, 2:5] = 1
    boxes = torch.tensor([0.4, 0.5, 0.3, 0.6]).repeat(1, t, 1)
    return frames, pad, ids, torch.ones_like(ids), {"boxes": boxes, "actioness": act}


@pytest.fixture(scope="module")
def base() -> tuple[TASTVG, dict]:
    torch.manual_seed(0)
    cfg = load_preset("tiny")
    cfg.model.two_pass = False
    model = build_model(cfg).eval()
    frames, pad, ids, mask, targets = make_inputs()
    with torch.no_grad():
        scores = model(frames, pad, ids, mask)["att_sequences"][0]
    cfg.model.tts_threshold = float(scores.median())  # a selection that keeps some frames only
    model = variant(model, {})
    with torch.no_grad():
        out = model(frames, pad, ids, mask, targets)
    assert 0 < int(out["selected"].sum()) < 6
    return model, out


def variant(model: TASTVG, changes: dict) -> TASTVG:
    cfg: TASTVGConfig = copy.deepcopy(model.cfg)
    for k, v in changes.items():
        setattr(cfg.model, k, v)
    new = build_model(cfg)
    new.load_state_dict(model.state_dict())
    return new.eval()


def run(model: TASTVG) -> dict:
    frames, pad, ids, mask, targets = make_inputs()
    with torch.no_grad():
        return model(frames, pad, ids, mask, targets)


def differs(a: torch.Tensor, b: torch.Tensor) -> bool:
    return not torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("change", [{"query_init": "zero"}, {"query_init": "oracle"}, {"use_asa": False},
                                    {"use_tts": False}, {"tts_threshold": 0.0}, {"two_pass": True}])
def test_switch_changes_predictions_not_tts(base, change) -> None:
    model, ref = base
    out = run(variant(model, change))
    assert differs(out["pred_boxes"], ref["pred_boxes"]) and differs(out["pred_actioness"], ref["pred_actioness"])
    if change.get("use_tts", True):
        torch.testing.assert_close(out["logits_f_a"], ref["logits_f_a"])
        torch.testing.assert_close(out["att_sequences"], ref["att_sequences"])
    else:
        assert "logits_f_a" not in out and out["selected"].all()
    if change.get("use_asa", True):
        torch.testing.assert_close(out["map_app"], ref["map_app"])
    else:
        assert "logits_r_a" not in out and "map_app" not in out


def test_threshold_and_delta(base) -> None:
    model, ref = base
    assert run(variant(model, {"tts_threshold": 0.0}))["selected"].all()
    none = run(variant(model, {"tts_threshold": 1.0}))  # nothing passes θ: fall back to all frames
    assert none["selected"].all()
    out = run(variant(model, {"tts_appearance_weight": 0.9}))
    expected = 0.9 * ref["logits_f_a"].sigmoid() + 0.1 * ref["logits_f_m"].sigmoid()
    torch.testing.assert_close(out["att_sequences"], expected)
    torch.testing.assert_close(out["logits_f_a"], ref["logits_f_a"])


def test_two_pass_reselects_by_actioness(base) -> None:
    model, ref = base
    m = variant(model, {"two_pass": True, "action_threshold": float(ref["pred_actioness"].sigmoid().median())})
    out = run(m)
    assert torch.equal(out["selected"], ref["pred_actioness"].sigmoid() > m.cfg.model.action_threshold)
    m.train()  # training never runs the second pass: selection stays the TTS one
    frames, pad, ids, mask, targets = make_inputs()
    with torch.no_grad():
        train_out = m(frames, pad, ids, mask)
    tts_sel = train_out["att_sequences"] > m.cfg.model.tts_threshold
    assert torch.equal(train_out["selected"], tts_sel if tts_sel.any() else torch.ones_like(tts_sel))


def test_oracle_needs_targets(base) -> None:
    model, _ = base
    frames, pad, ids, mask, _ = make_inputs()
    with pytest.raises(ValueError, match="oracle"):
        variant(model, {"query_init": "oracle"})(frames, pad, ids, mask)


def test_instance_activation_supervises_the_map(base) -> None:
    model, _ = base
    m = variant(model, {"activation": "instance"}).train()
    frames, pad, ids, mask, targets = make_inputs()
    out = m(frames, pad, ids, mask, targets)
    terms = TASTVGLoss(m.cfg.loss, m.cfg.model)(out, targets)  # no attribute labels needed
    terms["logits_r_a"].backward()
    assert m.asa.appearance.layer_ca[1].attention.self.key.weight.grad.abs().sum() > 0
    assert m.asa.appearance.head.decoder.weight.grad is None  # attribute head unused
    with pytest.raises(ValueError, match="attr_app"):
        TASTVGLoss(model.cfg.loss, model.cfg.model)(out, targets)


@pytest.mark.parametrize("kept,gone", [("motion", "appearance"), ("appearance", "motion")])
def test_one_branch_removes_its_modules_and_outputs(base, kept, gone) -> None:
    model, ref = base
    cfg = copy.deepcopy(model.cfg)
    cfg.model.branches = [kept]
    m = build_model(cfg).eval()
    missing, unexpected = m.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all(k.split(".")[1] == gone for k in unexpected)
    assert {k.split(".")[0] for k in unexpected} == {"tts", "asa"}  # gone from both modules
    out = run(m)
    k, g = kept[:3], gone[:3]
    # relevance = the kept branch's sigmoid, with the same logits as the two-branch model
    torch.testing.assert_close(out[f"logits_f_{kept[0]}"], ref[f"logits_f_{kept[0]}"])
    torch.testing.assert_close(out["att_sequences"], ref[f"logits_f_{kept[0]}"].sigmoid())
    torch.testing.assert_close(out[f"map_{k}"], ref[f"map_{k}"])
    assert f"logits_f_{gone[0]}" not in out and f"map_{g}" not in out and f"logits_r_{gone[0]}" not in out
    assert differs(out["pred_boxes"], ref["pred_boxes"])
    m.train()
    frames, pad, ids, mask, targets = make_inputs()
    targets = targets | {"attr_app": torch.ones(1, cfg.model.app_num), "attr_mot": torch.ones(1, cfg.model.mot_num)}
    for activation in ("attribute", "instance"):
        m.cfg.model.activation = activation
        terms = TASTVGLoss(m.cfg.loss, m.cfg.model)(m(frames, pad, ids, mask), targets)
        assert f"logits_r_{kept[0]}" in terms and f"logits_r_{gone[0]}" not in terms
        assert f"logits_f_{gone[0]}" not in terms and torch.isfinite(terms["loss"])


@pytest.mark.parametrize("model, field", [({"branches": []}, "model.branches"),
                                          ({"branches": ["appearance", "appearance"]}, "model.branches"),
                                          ({"branches": ["colour"]}, "model.branches"),
                                          ({"branches": ["motion"], "tts_appearance_weight": 0.25}, "δ")])
def test_bad_branches_are_rejected(model, field) -> None:
    from tastvg.config import config_from_dict

    with pytest.raises(ValueError, match=field):
        config_from_dict({"model": model})


def test_video_swin_relative_position_quirk() -> None:
    """Official slicing equals the recomputed index when only T shrinks, differs when h/w do."""
    torch.manual_seed(0)
    cfg = VideoSwinConfig(embed_dim=8, depths=[1, 2, 1, 1], heads=[1, 1, 1, 1], drop_path=0.0)
    quirk = VideoSwin(cfg).eval()
    exact = VideoSwin(VideoSwinConfig(**{**cfg.__dict__, "slice_relative_position": False})).eval()
    exact.load_state_dict(quirk.state_dict())
    with torch.no_grad():
        big = torch.randn(1, 3, 3, 224, 224)  # maps 56, 28, 14, 7: only the 8-frame window shrinks
        torch.testing.assert_close(quirk(big), exact(big))
        small = torch.randn(1, 3, 3, 64, 64)  # maps 16, 8, 4, 2: spatial windows shrink too
        assert differs(quirk(small), exact(small))
