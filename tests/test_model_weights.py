"""Loading pretrained weights from local files (never the network): ResNet, Kinetics Swin-T with
its temporal patch kernel summed, RoBERTa from a folder, MDETR initialisation."""

from __future__ import annotations

from pathlib import Path

import torch

from tastvg.config import Backbone2DConfig, TextConfig, VideoSwinConfig, load_preset
from tastvg.models.backbone2d import Backbone2D
from tastvg.models.pretrained import load_mdetr_weights
from tastvg.models import build_model
from tastvg.models.text import TextEncoder
from tastvg.models.video_swin import VideoSwin

SWIN = dict(embed_dim=8, depths=[1, 1, 1, 1], heads=[1, 1, 1, 1], drop_path=0.0)


def test_kinetics_swin_kernel_is_summed_over_time(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = VideoSwin(VideoSwinConfig(**SWIN))
    k400 = {}
    for k, v in src.state_dict().items():
        if k.startswith("downsamples."):
            i, rest = k.removeprefix("downsamples.").split(".", 1)
            k = f"layers.{i}.downsample.{rest}"
        if k == "patch_embed.proj.weight":
            v = torch.cat([v * 0.25, v * 0.75], dim=2)  # a (2,4,4) kernel whose temporal sum is v
        if not k.endswith("relative_position_index"):
            k400["backbone." + k] = v
    k400["backbone.norm.weight"] = torch.ones(64)
    k400["cls_head.fc_cls.weight"] = torch.zeros(400, 64)
    torch.save({"state_dict": k400}, tmp_path / "swin.pth")
    loaded = VideoSwin(VideoSwinConfig(**SWIN, weights=str(tmp_path / "swin.pth")))
    for k, v in src.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, msg=k)
    assert not any(p.requires_grad for p in loaded.parameters())


def test_resnet_and_roberta_from_local_files(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = Backbone2DConfig(depths=[1, 1, 1, 1], width=8)
    src = Backbone2D(cfg, 16)
    mdetr_style = {f"backbone.0.body.{k}": v for k, v in src.body.state_dict().items()}
    mdetr_style["transformer.something"] = torch.zeros(3)
    torch.save({"model": mdetr_style}, tmp_path / "resnet.pth")
    cfg.weights = str(tmp_path / "resnet.pth")
    loaded = Backbone2D(cfg, 16)
    for k, v in src.body.state_dict().items():
        assert torch.equal(loaded.body.state_dict()[k], v), k

    tcfg = TextConfig(vocab_size=100, hidden=16, layers=1, heads=2, intermediate=32, max_positions=40)
    text = TextEncoder(tcfg, 8)
    text.roberta.save_pretrained(tmp_path / "roberta")
    tcfg.weights = str(tmp_path / "roberta")
    again = TextEncoder(tcfg, 8)
    for k, v in text.roberta.state_dict().items():
        assert torch.equal(again.roberta.state_dict()[k], v), k


def test_mdetr_initialisation(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(load_preset("tiny"))
    own = model.state_dict()
    mdetr = {
        "backbone.0.body.layer2.0.conv1.weight": torch.ones_like(own["backbone2d.body.layer2.0.conv1.weight"]),
        "transformer.encoder.layers.0.linear1.weight": torch.ones_like(own["encoder.layers.0.linear1.weight"]),
        "transformer.decoder.layers.0.self_attn.in_proj_weight":
            torch.ones_like(own["spatial_decoder.layers.0.self_attn.in_proj_weight"]),
        "transformer.decoder.layers.0.cross_attn_image.in_proj_weight": torch.ones(3, 3),  # no counterpart
        "transformer.decoder.layers.0.linear2.weight": torch.ones(5, 5),  # shape mismatch: skipped
        "bbox_embed.layers.2.bias": torch.ones(4),
    }
    torch.save({"model": mdetr}, tmp_path / "mdetr.pth")
    loaded = load_mdetr_weights(model, tmp_path / "mdetr.pth")
    assert loaded == sorted(["backbone2d.body.layer2.0.conv1.weight", "encoder.layers.0.linear1.weight",
                             "spatial_decoder.layers.0.self_attn.in_proj_weight", "box_head.layers.2.bias"])
    assert bool((model.state_dict()["box_head.layers.2.bias"] == 1).all())
