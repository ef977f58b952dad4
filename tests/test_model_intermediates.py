"""forward(..., return_intermediates=True): what readers and probes need, without hooks, and free otherwise."""

from __future__ import annotations

import pytest
import torch
from test_model_golden import flatten, make_batch, make_config
from torch import nn

from helpers import recomputed_cross_attention
from tastvg.models import Intermediates, build_model
from tastvg.models.asa import masked_frame_mean
from tastvg.models.attention import keeping_attention
from tastvg.models.tts import fallback_to_valid


def forward(model, batch, intermediates: bool) -> dict:
    return model(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"], batch["targets"],
                 image_pad=batch["image_pad"], return_intermediates=intermediates)


def attention_modules(model) -> list[nn.Module]:
    return ([layer.cross_attn for layer in model.spatial_decoder.layers]
            + [layer.cross_attn_image for layer in model.temporal_decoder.layers])


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model(make_config("tiny", {})).eval()


@pytest.mark.parametrize("image_pad", [False, True])
def test_intermediates_change_no_output(tiny, image_pad: bool) -> None:
    batch = make_batch(image_pad)
    for module in attention_modules(tiny):
        module.attn = None
    with torch.no_grad():
        plain = forward(tiny, batch, False)
        assert all(m.attn is None for m in attention_modules(tiny))  # a plain forward stores nothing
        rich = forward(tiny, batch, True)
    assert isinstance(rich.pop("intermediates"), Intermediates)
    a, b = flatten(plain), flatten(rich)
    assert sorted(a) == sorted(b)
    assert all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)
    assert not any(m.keep_attention for m in attention_modules(tiny))  # flags back off
    tiny.train()
    try:
        torch.manual_seed(3)
        plain = flatten(forward(tiny, batch, False))
        torch.manual_seed(3)
        rich = forward(tiny, batch, True)
        assert len(rich.pop("intermediates").passes) == 1  # training decodes once
        rich = flatten(rich)
        assert all(torch.equal(plain[k], rich[k]) for k in plain if torch.is_tensor(plain[k]))
    finally:
        tiny.eval()


def test_intermediates_fields(tiny) -> None:
    batch = make_batch(image_pad=False)
    m = tiny.cfg.model
    with torch.no_grad():
        out = forward(tiny, batch, True)
    inter: Intermediates = out["intermediates"]
    enc, pad = inter.encoder, batch["frame_pad"]
    b, t = pad.shape
    n, l, layers = enc.tokens_per_frame, enc.text_length, m.dec_layers
    assert len(inter.passes) == 2 and inter.pass2 is inter.final
    # pass 1: the TTS selection; pass 2: actioness of pass 1 above the threshold
    tts_sel = fallback_to_valid((inter.att_sequences > m.tts_threshold) & ~pad, pad)
    assert torch.equal(inter.selected_pass1, tts_sel)
    again = fallback_to_valid((inter.pass1.actioness[-1].sigmoid() > m.action_threshold) & ~pad, pad)
    assert torch.equal(inter.selected_pass2, again) and torch.equal(inter.selected_pass2, out["selected"])
    assert not torch.equal(inter.selected_pass1, inter.selected_pass2)  # the golden thresholds make them differ
    for key in ("att_sequences", "logits_f_a", "logits_f_m", "map_app", "map_mot"):
        assert torch.equal(getattr(inter, key), out[key]), key
    assert inter.frame_logits_app.shape == (b, t, m.app_num)
    # queries of each pass are the strategy's on that pass's frames
    asa = {"map_app": inter.map_app, "map_mot": inter.map_mot}
    for p in inter.passes:
        q = tiny.query_init(enc, asa, p.selected, None)
        assert torch.equal(p.q_s0, q.q_s0) and torch.equal(p.q_t0, q.q_t0)
        assert torch.equal(p.logits_r_a, masked_frame_mean(inter.frame_logits_app, p.selected))
        assert p.boxes.shape == (layers, b, t, 4) and p.sted.shape == (layers, b, t, 2)
        assert p.actioness.shape == (layers, b, t)
        assert p.spatial_attention.shape == (layers, b, t, n + l)
        assert p.temporal_attention.shape == (layers, b, t, l + n)
        for attn in (p.spatial_attention, p.temporal_attention):
            torch.testing.assert_close(attn.sum(-1), torch.ones(layers, b, t))
    # text padding is masked: video 1 has 5 of 8 text tokens
    assert not inter.final.spatial_attention[:, 1, :, n + 5:].any()
    assert not inter.final.temporal_attention[:, 1, :, 5:l].any()
    final = inter.final
    assert torch.equal(final.boxes[-1], out["pred_boxes"]) and torch.equal(final.actioness[-1], out["pred_actioness"])
    assert all(torch.equal(final.boxes[i], aux["pred_boxes"]) for i, aux in enumerate(out["aux_outputs"]))
    assert torch.equal(final.logits_r_a, out["logits_r_a"]) and torch.equal(final.logits_r_m, out["logits_r_m"])
    with torch.no_grad():
        anchors = tiny.anchor_head(enc.frames_cls).sigmoid()
    assert torch.equal(inter.anchors, anchors) and inter.anchors.shape == (b, t, 4)


def test_switched_off_modules_leave_fields_empty() -> None:
    torch.manual_seed(0)
    model = build_model(make_config("tiny", {"use_tts": False, "use_asa": False, "query_init": "zero"})).eval()
    with torch.no_grad():
        inter = forward(model, make_batch(image_pad=False), True)["intermediates"]
    assert inter.att_sequences is None and inter.map_app is None and inter.pass1.logits_r_a is None
    assert inter.pass2 is None and inter.selected_pass2 is None
    assert torch.equal(inter.selected_pass1, ~make_batch(image_pad=False)["frame_pad"])


def analysis_hook(captured: list):
    """The spatial cross-attention as the probes recomputed it in a forward hook (heads averaged)."""

    def fn(module, inputs, output):
        captured.append(recomputed_cross_attention(module, inputs))  # [B*T, S]
    return fn


@pytest.mark.parametrize("image_pad", [False, True])
def test_stored_spatial_attention_equals_the_hook_recomputation(tiny, image_pad: bool) -> None:
    batch = make_batch(image_pad)
    layers = tiny.spatial_decoder.layers
    captured: dict[int, list] = {0: [], len(layers) - 1: []}
    handles = [layers[i].cross_attn.register_forward_hook(analysis_hook(c)) for i, c in captured.items()]
    try:
        with torch.no_grad():
            inter = forward(tiny, batch, True)["intermediates"]
    finally:
        for hd in handles:
            hd.remove()
    b, t = batch["frame_pad"].shape
    for i, calls in captured.items():
        assert len(calls) == len(inter.passes)  # one call per pass; the last is the final pass
        for p, hooked in zip(inter.passes, calls):
            assert torch.equal(p.spatial_attention[i], hooked.view(b, t, -1)), (i, image_pad)


def test_stored_temporal_attention_equals_nn_multihead_attention(tiny) -> None:
    batch = make_batch(image_pad=True)
    layers = tiny.temporal_decoder.layers
    captured: list = []

    def hook(module, args, kwargs, output):  # the plain nn.MultiheadAttention on the same inputs
        captured.append(nn.MultiheadAttention.forward(module, *args, **kwargs)[1])

    handles = [layer.cross_attn_image.register_forward_hook(hook, with_kwargs=True) for layer in layers]
    try:
        with torch.no_grad():
            inter = forward(tiny, batch, True)["intermediates"]
    finally:
        for hd in handles:
            hd.remove()
    b, t = batch["frame_pad"].shape
    expected = torch.stack([w[:, 0] for w in captured]).view(len(inter.passes), len(layers), b, t, -1)
    for p, want in zip(inter.passes, expected):
        torch.testing.assert_close(p.temporal_attention, want, rtol=0, atol=1e-7)


def test_attention_modules_keep_weights_labml_style(tiny) -> None:
    """Without return_intermediates: switch one module's flag and read ``self.attn``."""
    batch = make_batch(image_pad=False)
    module = tiny.spatial_decoder.layers[0].cross_attn
    with keeping_attention([module]), torch.no_grad():
        forward(tiny, batch, False)
    b, t = batch["frame_pad"].shape
    assert not module.keep_attention
    assert module.attn is not None and module.attn.shape[:3] == (b * t, tiny.cfg.model.heads, 1)
    module.attn = None
    with torch.no_grad():
        forward(tiny, batch, False)
    assert module.attn is None  # the flag is off: nothing stored
