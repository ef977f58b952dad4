"""TA-STVG forward pass: output shapes for every preset, batching with padding, NaN safety."""

from __future__ import annotations

import pytest
import torch

from tastvg.config import available_presets, load_config, load_preset, save_config
from tastvg.models import build_model
from tastvg.models.asa import minmax_normalise


def make_inputs(lengths: list[int], text_lengths: list[int], size: tuple[int, int] = (64, 64), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    b, t, l = len(lengths), max(lengths), max(text_lengths)
    frames = torch.randn(b, t, 3, *size, generator=g)
    pad = torch.arange(t)[None, :] >= torch.tensor(lengths)[:, None]
    frames[pad] = 0
    ids = torch.randint(3, 200, (b, l), generator=g)
    mask = (torch.arange(l)[None, :] < torch.tensor(text_lengths)[:, None]).long()
    ids[:, 0] = 0
    for i, n in enumerate(text_lengths):
        ids[i, n - 1] = 2
        ids[i, n:] = 1  # RoBERTa pad id
    return frames, pad, ids, mask


def test_presets_round_trip(tmp_path) -> None:
    assert {"paper-hcstvg", "paper-hcstvg2", "paper-vidstg", "tiny", "synth"} <= set(available_presets())
    for name in available_presets():
        cfg = load_preset(name)
        save_config(cfg, tmp_path / f"{name}.yaml")
        assert load_config(tmp_path / f"{name}.yaml") == cfg
    hc, hc2, vid = load_preset("paper-hcstvg"), load_preset("paper-hcstvg2"), load_preset("paper-vidstg")
    assert hc.model == hc2.model and hc.loss.sted == 12 and hc2.loss.sted == 10
    assert (vid.model.app_num, vid.model.mot_num, vid.model.tts_threshold) == (20, 34, 0.45)
    assert (hc.model.app_num, hc.model.mot_num, hc.model.tts_threshold) == (15, 60, 0.7)
    with pytest.raises(ValueError, match="unknown field 'bogus'"):
        from tastvg.config import config_from_dict

        config_from_dict({"model": {"bogus": 1}})
    with pytest.raises(ValueError, match="query_init"):
        config_from_dict({"model": {"query_init": "random"}})
    with pytest.raises(ValueError, match=r"config\.model\.tts_threshold: expected float"):
        config_from_dict({"model": {"tts_threshold": "high"}})
    assert config_from_dict({"loss": {"sted": 10}}).loss.sted == 10.0
    assert config_from_dict({"optim": {"lr_base": "2e-4"}}).optim.lr_base == 2e-4  # YAML 1.1 leaves "2e-4" a string
    with pytest.raises(ValueError, match="tts_threshold: expected float"):
        config_from_dict({"model": {"tts_threshold": "nan"}})


@pytest.mark.parametrize("preset", ["tiny", "synth"])
def test_small_preset_shapes(preset: str) -> None:
    torch.manual_seed(0)
    model = build_model(preset)
    cfg = model.cfg.model
    frames, pad, ids, mask = make_inputs([5, 3], [7, 4], size=(64, 96))
    for train in (True, False):
        model.train(train)
        with torch.set_grad_enabled(train):
            out = model(frames, pad, ids, mask)
        assert out["pred_boxes"].shape == (2, 5, 4)
        assert out["pred_sted"].shape == (2, 5, 2)
        assert out["pred_actioness"].shape == (2, 5)
        assert out["logits_f_a"].shape == out["logits_f_m"].shape == out["att_sequences"].shape == (2, 5)
        assert out["logits_r_a"].shape == (2, cfg.app_num) and out["logits_r_m"].shape == (2, cfg.mot_num)
        assert out["map_app"].shape == (2, 5, 2 * 3) and out["feature_hw"] == (2, 3)
        assert len(out["aux_outputs"]) == cfg.dec_layers - 1
        assert out["aux_outputs"][0]["pred_boxes"].shape == (2, 5, 4)
        assert ((out["pred_boxes"] >= 0) & (out["pred_boxes"] <= 1)).all()
        assert not out["selected"][1, 3:].any() and out["selected"].any(1).all()


@pytest.mark.parametrize("preset,app,mot", [("paper-hcstvg", 15, 60), ("paper-vidstg", 20, 34)])
def test_paper_preset_shapes(preset: str, app: int, mot: int) -> None:
    torch.manual_seed(0)
    model = build_model(preset).eval()
    frames, pad, ids, mask = make_inputs([2], [6])
    with torch.no_grad():
        out = model(frames, pad, ids, mask)
    assert out["pred_boxes"].shape == (1, 2, 4) and out["pred_sted"].shape == (1, 2, 2)
    assert out["logits_r_a"].shape == (1, app) and out["logits_r_m"].shape == (1, mot)
    assert len(out["aux_outputs"]) == 5 and out["feature_hw"] == (2, 2)
    assert all(torch.isfinite(v).all() for v in out.values() if torch.is_tensor(v) and v.is_floating_point())


def test_batch_of_two_matches_single_videos() -> None:
    """B = 2 with padded frames and padded text gives each video's B = 1 numbers (eval mode)."""
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    frames, pad, ids, mask = make_inputs([6, 4], [8, 5])
    with torch.no_grad():
        # thresholds at the medians of video 0, so that both selections (TTS, then actioness in
        # the second pass) keep some frames and drop others
        model.cfg.model.two_pass = False
        first = model(frames, pad, ids, mask)
        model.tts.threshold = float(first["att_sequences"][0, :6].median())
        first = model(frames, pad, ids, mask)
        assert 0 < int(first["selected"][0].sum()) < 6
        model.cfg.model.action_threshold = float(first["pred_actioness"][0, :6].sigmoid().median())
        model.cfg.model.two_pass = True
        both = model(frames, pad, ids, mask)
        for i, (t, l) in enumerate([(6, 8), (4, 5)]):
            one = model(frames[i:i + 1, :t], pad[i:i + 1, :t], ids[i:i + 1, :l], mask[i:i + 1, :l])
            for key in ("pred_boxes", "pred_sted", "pred_actioness", "logits_f_a", "logits_f_m", "map_app", "map_mot"):
                torch.testing.assert_close(both[key][i, :t], one[key][0], atol=2e-5, rtol=1e-4, msg=key)
            for key in ("logits_r_a", "logits_r_m"):
                torch.testing.assert_close(both[key][i], one[key][0], atol=2e-5, rtol=1e-4, msg=key)
            assert torch.equal(both["selected"][i, :t], one["selected"][0])
        assert 0 < int(both["selected"][0].sum()) < 6


def test_activation_normalisation_is_nan_safe() -> None:
    s = torch.tensor([[0.7, 0.7, 0.7], [0.2, 0.6, 0.4]], requires_grad=True)
    a = minmax_normalise(s)
    assert torch.equal(a[0], torch.ones(3))
    torch.testing.assert_close(a[1], torch.tensor([0.0, 1.0, 0.5]))
    a.sum().backward()
    assert torch.isfinite(s.grad).all()
    # a 32x32 frame gives a 1x1 map: the official code returns NaN boxes here
    model = build_model("tiny").eval()
    frames, pad, ids, mask = make_inputs([3], [5], size=(32, 32))
    with torch.no_grad():
        out = model(frames, pad, ids, mask)
    assert out["feature_hw"] == (1, 1)
    assert torch.isfinite(out["pred_boxes"]).all() and torch.isfinite(out["pred_sted"]).all()


@pytest.mark.parametrize("query_init", ["target_aware", "oracle"])
def test_spatially_padded_batch_matches_single_videos(query_init: str) -> None:
    """Videos of different frame sizes in one batch (``image_pad``) keep their B = 1 numbers."""
    torch.manual_seed(0)
    cfg = load_preset("tiny")
    cfg.model.query_init = query_init  # the strategy is chosen when the model is built
    model = build_model(cfg).eval()
    frames, pad, ids, mask = make_inputs([5, 3], [7, 4], size=(64, 96))
    image_pad = torch.zeros(2, 64, 96, dtype=torch.bool)
    image_pad[1, 40:, :] = True  # video 1 is 40 x 40: a 2 x 2 feature map inside the 2 x 3 grid
    image_pad[1, :, 40:] = True
    frames[image_pad[:, None, None].expand_as(frames)] = 0
    g = torch.Generator().manual_seed(3)
    targets = {"boxes": torch.rand(2, 5, 4, generator=g) * 0.3 + 0.35, "actioness": torch.ones(2, 5)}
    with torch.no_grad():
        both = model(frames, pad, ids, mask, targets, image_pad=image_pad)
        for i, (t, l, hh, ww) in enumerate([(5, 7, 64, 96), (3, 4, 40, 40)]):
            one = model(frames[i:i + 1, :t, :, :hh, :ww], pad[i:i + 1, :t], ids[i:i + 1, :l], mask[i:i + 1, :l],
                        {k: v[i:i + 1, :t] for k, v in targets.items()})
            for key in ("pred_boxes", "pred_sted", "pred_actioness", "logits_f_a"):
                torch.testing.assert_close(both[key][i, :t], one[key][0], atol=2e-5, rtol=1e-4, msg=key)
            torch.testing.assert_close(both["logits_r_a"][i], one["logits_r_a"][0], atol=2e-5, rtol=1e-4)
            h1, w1 = one["feature_hw"]
            assert both["feature_sizes"][i] == (h1, w1)
            h, w = both["feature_hw"]
            grid = both["map_app"][i, :t].unflatten(-1, (h, w))
            torch.testing.assert_close(grid[..., :h1, :w1].flatten(-2), one["map_app"][0], atol=2e-5, rtol=1e-4)
            assert float(grid.sum()) == pytest.approx(float(grid[..., :h1, :w1].sum()))  # padding maps to 0
    assert both["feature_sizes"] == [(2, 3), (2, 2)]


def test_tiny_model_takes_the_shipped_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Token ids from data_samples/tokenizer (RoBERTa format) fit the tiny/synth text encoders."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "data_samples" / "tokenizer"
    if not (folder / "tokenizer.json").exists():
        pytest.skip("data_samples/tokenizer not present")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    enc = tok(["a big red square moves left", "the blue circle"], padding=True, return_tensors="pt")
    assert int(enc["input_ids"].max()) < load_preset("tiny").text.vocab_size
    assert tok.pad_token_id == load_preset("tiny").text.pad_token_id
    model = build_model("tiny").eval()
    frames, pad, _, _ = make_inputs([3, 2], [2, 2])
    with torch.no_grad():
        out = model(frames, pad, enc["input_ids"], enc["attention_mask"])
    assert torch.isfinite(out["pred_boxes"]).all()


@pytest.mark.parametrize("depths, width", [([1, 1, 1, 1], 16), ([3, 4, 23, 3], 64)])
def test_random_resnet_keeps_the_activation_scale(depths, width) -> None:
    """With frozen identity batch norm, the from-scratch init must neither vanish nor explode."""
    from tastvg.models.backbone2d import ResNetBody

    torch.manual_seed(0)
    with torch.no_grad():
        out = ResNetBody(depths, width, 1e-5)(torch.randn(2, 3, 64, 64))
    assert 0.3 < float(out.std()) < 3.0
