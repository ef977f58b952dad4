"""Gradient flow: TTS learns only from its own loss, ASA from its loss and (through the activation
maps) from the decoder losses, Video Swin from nothing."""

from __future__ import annotations

import pytest
import torch

from tastvg.losses import TASTVGLoss
from tastvg.models import build_model


def grads(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


@pytest.fixture()
def setup():
    torch.manual_seed(0)
    model = build_model("tiny").train()
    crit = TASTVGLoss.from_config("tiny")
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(2, 5, 3, 64, 64, generator=g)
    pad = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    ids = torch.tensor([[0, 10, 11, 12, 2], [0, 13, 2, 1, 1]])
    mask = (ids != 1).long()
    act = torch.tensor([[0, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=torch.float32)
    targets = {"boxes": torch.rand(2, 5, 4) * 0.5 + 0.25, "actioness": act,
               "attr_app": torch.eye(16)[:2], "attr_mot": torch.eye(16)[:2]}
    terms = crit(model(frames, pad, ids, mask), targets)
    return model, terms


def test_decoder_losses_do_not_reach_tts_or_video_swin(setup) -> None:
    model, terms = setup
    decoder_terms = [v for k, v in terms.items() if k.startswith("loss_")]
    assert len(decoder_terms) == 4 * model.cfg.model.dec_layers
    torch.stack(decoder_terms).sum().backward()
    assert grads(model.tts) == 0.0
    assert all(p.grad is None for p in model.video_swin.parameters())
    assert grads(model.encoder) > 0 and grads(model.text) > 0 and grads(model.video_proj) > 0
    assert grads(model.backbone2d.body.layer4) > 0
    assert all(p.grad is None for p in model.backbone2d.body.layer1.parameters())  # frozen
    # ASA maps are not detached: decoder losses train its attention layers (not its attribute head)
    assert grads(model.asa.appearance.layer_ca) > 0 and grads(model.asa.motion.layer_ca) > 0
    assert model.asa.appearance.head.decoder.weight.grad is None


def test_tts_loss_reaches_only_tts(setup) -> None:
    model, terms = setup
    (terms["logits_f_a"] + terms["logits_f_m"]).backward()
    assert grads(model.tts.appearance) > 0 and grads(model.tts.motion) > 0
    for name, module in model.named_children():
        if name != "tts":
            assert grads(module) == 0.0, name


def test_asa_loss_reaches_only_asa(setup) -> None:
    model, terms = setup
    (terms["logits_r_a"] + terms["logits_r_m"]).backward()
    assert grads(model.asa.appearance.head) > 0 and grads(model.asa.motion.layer_ca) > 0
    for name, module in model.named_children():
        if name != "asa":
            assert grads(module) == 0.0, name
