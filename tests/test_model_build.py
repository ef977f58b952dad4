"""build_model wires injected parts from registries; a new encoder is one class and one registry line."""

from __future__ import annotations

import re

import pytest
import torch
from test_model_golden import make_batch
from torch import Tensor, nn

import tastvg
import tastvg.models
import tastvg.models.build
import tastvg.models.tastvg
from tastvg.config import TextConfig, config_from_dict, load_preset
from tastvg.models import BACKBONE2D, BACKBONE3D, PARAM_GROUP_PREFIXES, PARAM_GROUPS, TASTVG, TEXT_ENCODERS, build_model

PARTS = ("backbone2d", "video_swin", "video_proj", "text", "encoder", "tts", "asa", "anchor_head", "spatial_decoder",
         "temporal_decoder", "box_head", "sted_head", "actioness_head", "query_init")


def tiny(**sections) -> dict:
    data = load_preset("tiny").to_dict()
    for section, values in sections.items():
        data[section].update(values)
    return data


def test_build_model_is_reexported() -> None:
    build = tastvg.models.build.build_model
    assert tastvg.models.build_model is build and tastvg.models.tastvg.build_model is build
    assert tastvg.build_model is build
    assert PARAM_GROUPS[0] == "base" and ("backbone2d.body.", "vision") in PARAM_GROUP_PREFIXES
    assert set(BACKBONE2D) == {"resnet"} and set(BACKBONE3D) == {"video_swin"} and set(TEXT_ENCODERS) == {"roberta"}


@pytest.mark.parametrize("section, kinds", [("backbone2d", "['resnet']"), ("video_swin", "['video_swin']"),
                                            ("text", "['roberta']")])
def test_unknown_kind_names_the_field(section: str, kinds: str) -> None:
    cfg = config_from_dict(tiny(**{section: {"kind": "x"}}))
    with pytest.raises(ValueError, match=re.escape(f"{section}.kind: 'x' is not one of {kinds}")):
        build_model(cfg)


def test_model_receives_its_parts() -> None:
    """TASTVG(cfg, **parts) wired by hand is the model build_model makes (same keys, same numbers)."""
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    again = TASTVG(model.cfg, **{name: getattr(model, name) for name in PARTS}).eval()
    assert list(again.state_dict()) == list(model.state_dict())
    b = make_batch(image_pad=False)
    with torch.no_grad():
        one = model(b["frames"], b["frame_pad"], b["text_ids"], b["text_mask"])
        two = again(b["frames"], b["frame_pad"], b["text_ids"], b["text_mask"])
    assert torch.equal(one["pred_boxes"], two["pred_boxes"]) and torch.equal(one["pred_sted"], two["pred_sted"])
    assert {name for name, _ in model.named_children()} == set(PARTS) | {"temporal_pos"}


class BagOfWords(nn.Module):
    """A text encoder for the test: one embedding per token id, no context."""

    def __init__(self, cfg: TextConfig, d_model: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, d_model)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        return self.embed(input_ids), attention_mask == 0


def test_a_new_text_encoder_is_one_class_and_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TEXT_ENCODERS, "bag_of_words", BagOfWords)
    torch.manual_seed(0)
    model = build_model(config_from_dict(tiny(text={"kind": "bag_of_words"}))).eval()
    assert isinstance(model.text, BagOfWords)
    assert any(k.startswith("text.embed.") for k in model.state_dict())
    assert all(p in model.param_groups()["text"] for p in model.text.parameters())  # prefix "text." -> text group
    b = make_batch(image_pad=False)
    with torch.no_grad():
        out = model(b["frames"], b["frame_pad"], b["text_ids"], b["text_mask"])
    assert out["pred_boxes"].shape == (2, 6, 4) and torch.isfinite(out["pred_boxes"]).all()


def test_build_makes_every_part_the_config_names() -> None:
    cfg = load_preset("tiny")
    model = build_model(cfg)
    assert model.cfg is cfg
    assert type(model.backbone2d) is BACKBONE2D["resnet"] and type(model.video_swin) is BACKBONE3D["video_swin"]
    assert type(model.text) is TEXT_ENCODERS["roberta"]
    assert len(model.spatial_decoder.layers) == len(model.temporal_decoder.layers) == cfg.model.dec_layers
