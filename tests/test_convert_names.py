"""Our parameter names back to the official ones (PREFIX_MAP read backwards), checked against the
forward renaming that ``convert-official`` applies."""

from __future__ import annotations

import pytest
import torch

from tastvg.config import load_preset
from tastvg.convert import PREFIX_MAP, _rename, to_official_name
from tastvg.models import build_model


def test_examples() -> None:
    assert to_official_name("backbone2d.input_proj.weight") == "input_proj.weight"
    assert to_official_name("video_proj.bias") == "input_proj2.bias"
    assert to_official_name("text.roberta.embeddings.word_embeddings.weight") == \
        "text_encoder.body.embeddings.word_embeddings.weight"
    assert to_official_name("spatial_decoder.layers.0.cross_attn.in_proj_weight") == \
        "ground_decoder.decoder.layers.0.cross_attn.in_proj_weight"
    with pytest.raises(KeyError, match="none of our prefixes"):
        to_official_name("not_a_module.weight")


def test_every_parameter_of_a_model_round_trips() -> None:
    cfg = load_preset("tiny")
    cfg.backbone2d.weights = cfg.video_swin.weights = cfg.text.weights = None
    with torch.device("meta"):
        names = list(build_model(cfg).state_dict())
    assert names and all(_rename(to_official_name(n)) == n for n in names)
    for official, ours in PREFIX_MAP:  # each prefix, both ways
        assert to_official_name(ours + "x") == official + "x" and _rename(official + "x") == ours + "x"
