"""Activation checkpointing changes memory, not numbers."""

from __future__ import annotations

import torch

from tastvg.losses import TASTVGLoss
from tastvg.models.checkpointing import enable_activation_checkpointing
from tastvg.models.tastvg import build_model


def grads(checkpointed: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model("tiny").train()
    if checkpointed:
        names = enable_activation_checkpointing(model, ("backbone2d", "encoder", "decoders"))
        assert "encoder.layers.0" in names and any(n.startswith("backbone2d.body.layer") for n in names)
    g = torch.Generator().manual_seed(1)
    frames = torch.randn(1, 4, 3, 64, 64, generator=g)
    pad = torch.zeros(1, 4, dtype=torch.bool)
    ids = torch.randint(3, 100, (1, 7), generator=g)
    mask = torch.ones(1, 7, dtype=torch.long)
    targets = {"boxes": torch.tensor([0.5, 0.5, 0.3, 0.3]).expand(1, 4, 4).clone(),
               "actioness": torch.tensor([[0.0, 1.0, 1.0, 0.0]]),
               "attr_app": torch.zeros(1, model.cfg.model.app_num), "attr_mot": torch.zeros(1, model.cfg.model.mot_num)}
    torch.manual_seed(2)  # same dropout masks in both runs
    loss = TASTVGLoss.from_config("tiny")(model(frames, pad, ids, mask, targets), targets)["loss"]
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_checkpointing_gives_the_same_gradients():
    plain, ckpt = grads(False), grads(True)
    assert plain.keys() == ckpt.keys()
    for name in plain:
        torch.testing.assert_close(plain[name], ckpt[name], rtol=1e-5, atol=1e-6, msg=name)


def test_efficient_attention_matches_the_explicit_attention():
    outs = []
    for efficient in (False, True):
        torch.manual_seed(0)
        cfg = build_model("tiny").cfg
        cfg.model.efficient_attention = efficient
        cfg.model.two_pass = False
        torch.manual_seed(0)
        model = build_model(cfg).eval()
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            outs.append(model(torch.randn(1, 4, 3, 64, 64, generator=g), torch.zeros(1, 4, dtype=torch.bool),
                              torch.randint(3, 100, (1, 6), generator=g), torch.ones(1, 6, dtype=torch.long)))
    for key in ("pred_boxes", "pred_sted", "pred_actioness"):
        torch.testing.assert_close(outs[0][key], outs[1][key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_deep_copy_of_a_checkpointed_model_uses_its_own_weights():
    from tastvg.train.ema import ModelEMA

    torch.manual_seed(0)
    model = build_model("tiny")
    enable_activation_checkpointing(model, ("backbone2d", "encoder", "decoders"))
    ema = ModelEMA(model, decay=0.5)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)  # the live model moves; the EMA copy must not follow
    layer, copy = model.encoder.layers[0], ema.module.encoder.layers[0]
    x, pos = torch.randn(5, 2, layer.linear1.in_features), torch.zeros(5, 2, layer.linear1.in_features)
    copy.eval()
    layer.eval()
    assert not torch.allclose(layer(x, pos, None), copy(x, pos, None))
    assert copy.forward.__self__ is copy
