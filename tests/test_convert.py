"""Parity with the official parameters: a state_dict fabricated from the manifest converts and loads
strictly into our paper presets; our parameter count is the official one minus the dead tensors."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
import torch

from tastvg.convert import convert_official_checkpoint, is_dead
from tastvg.models import build_model

# the manifests (public facts about the official model: names, shapes, dtypes), shipped with the tests
MANIFESTS = Path(__file__).resolve().parent / "data" / "official_state_dict"

# numel of the official trainable tensors that never get a gradient (manifest README): 135 tensors
DEAD_NUMEL = 10_034_432
OFFICIAL_TOTAL = {"hcstvg": 239_748_870, "hcstvg2": 239_748_870, "vidstg": 239_743_473}

pytestmark = pytest.mark.skipif(not MANIFESTS.exists(), reason="official manifest not available")


def fabricate(manifest: dict, random_keys: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Zeros of the listed shapes (cheap), random values for ``random_keys``; aliases share tensors."""
    sd: dict[str, torch.Tensor] = {}
    for e in manifest["state_dict"]:
        if "alias_of" in e:
            continue
        dtype = getattr(torch, e["dtype"].removeprefix("torch."))
        sd[e["name"]] = torch.randn(e["shape"]) if e["name"] in random_keys else torch.zeros(e["shape"], dtype=dtype)
    for e in manifest["state_dict"]:
        if "alias_of" in e:
            sd[e["name"]] = sd[e["alias_of"]]
    return {e["name"]: sd[e["name"]] for e in manifest["state_dict"]}  # manifest (state_dict) order


@pytest.mark.parametrize("manifest_file,preset,key", [
    ("hcstvg.json", "paper-hcstvg", "hcstvg"),
    ("hcstvg2.json", "paper-hcstvg2", "hcstvg2"),
    ("vidstg.json", "paper-vidstg", "vidstg"),
    ("variants/hcstvg_transformers-5.24.0.json", "paper-hcstvg", "hcstvg"),
])
def test_official_state_dict_loads_strictly(manifest_file: str, preset: str, key: str) -> None:
    torch.manual_seed(0)
    manifest = json.loads((MANIFESTS / manifest_file).read_text())
    probes = ("s_spatial_clas.head.decoder.weight", "vid.patch_embed.proj.weight",
              "ground_decoder.decoder.layers.0.ca_qpos_proj.weight", "text_encoder.resizer.fc.weight")
    official = fabricate(manifest, probes)
    assert manifest["header"]["counts"]["total_params"] == OFFICIAL_TOTAL[key]
    dead = [e for e in manifest["state_dict"] if is_dead(e["name"]) and e["kind"] == "param"]
    assert sum(e["numel"] for e in dead) == DEAD_NUMEL and len(dead) == 135

    ours = convert_official_checkpoint(official, preset)
    model = build_model(preset)
    model.load_state_dict(ours, strict=True)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == OFFICIAL_TOTAL[key] - DEAD_NUMEL  # 229,714,438 (HC) / 229,709,041 (VidSTG)
    sd = model.state_dict()
    assert torch.equal(sd["asa.appearance.head.decoder.weight"], official["s_spatial_clas.head.decoder.weight"])
    assert torch.equal(sd["video_swin.patch_embed.proj.weight"], official["vid.patch_embed.proj.weight"])
    assert torch.equal(sd["spatial_decoder.layers.0.ca_qpos_proj.weight"],
                       official["ground_decoder.decoder.layers.0.ca_qpos_proj.weight"])
    # frozen/trainable split follows the official one, minus the dead tensors (all trainable)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert frozen == manifest["header"]["counts"]["frozen_params"]
    # optimiser groups: the official group sizes minus the dead tensors each group held
    index = {g["name"]: g["index"] for g in manifest["header"]["optimizer_param_groups"]}
    official_groups = {g["index"]: g["numel"] for g in manifest["header"]["optimizer_param_groups"]}
    for e in dead:
        official_groups[index[e["optimizer_group"]]] -= e["numel"]
    ours_groups = {k: sum(p.numel() for p in v) for k, v in model.param_groups().items()}
    assert [ours_groups[k] for k in ("base", "vision", "text", "temporal_decoder", "tts_asa")] == \
        [official_groups[i] for i in range(5)]
    del model, ours, official
    gc.collect()


def _small_official() -> dict[str, torch.Tensor]:
    manifest = json.loads((MANIFESTS / "hcstvg.json").read_text())
    return fabricate(manifest)


def test_errors_name_the_keys() -> None:
    official = _small_official()
    bad = dict(official)
    bad["something.unexpected"] = torch.zeros(1)
    with pytest.raises(ValueError, match="something.unexpected"):
        convert_official_checkpoint(bad, "paper-hcstvg")
    bad = dict(official)
    del bad["ground_encoder.encoder.norm.weight"]
    with pytest.raises(ValueError, match="encoder.norm.weight"):
        convert_official_checkpoint(bad, "paper-hcstvg")
    with pytest.raises(ValueError, match="shape mismatch.*asa.appearance.head.bias"):
        convert_official_checkpoint(official, "paper-vidstg")  # 15 vs 20 attributes
    bad = dict(official)
    bad["bbox_embed.layers.0.bias"] = torch.ones(256)  # alias copy now differs from its owner
    with pytest.raises(ValueError, match="alias"):
        convert_official_checkpoint(bad, "paper-hcstvg")


def test_cli_convert_official(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI hook on a small fabricated checkpoint: the tiny preset's own weights renamed back to
    official names, wrapped in {model, model_ema}."""
    from tastvg.convert import PREFIX_MAP

    model = build_model("tiny")
    inverse = [(new, old) for old, new in PREFIX_MAP]
    official = {}
    for k, v in model.state_dict().items():
        old = next(o + k[len(n):] for n, o in inverse if k.startswith(n))
        official[old] = v
    official["text_encoder.body.embeddings.position_ids"] = torch.arange(4)[None]
    official["ground_decoder.time_fc.2.weight"] = torch.zeros(2, 2)  # a dead tensor: dropped
    src, dst = tmp_path / "official.pth", tmp_path / "ours.pth"
    torch.save({"model": official, "model_ema": official, "iteration": 3}, src)
    from tastvg.cli import main

    assert main(["convert-official", str(src), str(dst), "--preset", "tiny"]) == 0
    assert "converted" in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)
    fresh = build_model("tiny")
    fresh.load_state_dict(saved["model"], strict=True)
    assert saved["config"]["model"]["name"] == "tiny" and saved["format"] == "converted-official"
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    # the reproduction path: converted weights -> `tastvg evaluate --checkpoint` on a dataset folder
    from tastvg.paths import data_samples_dir

    pred = tmp_path / "pred.json"
    assert main(["evaluate", "--checkpoint", str(dst), "--data-root", str(data_samples_dir() / "synth"),
                 "--pred-out", str(pred)]) == 0
    assert "m_vIoU" in capsys.readouterr().out and pred.exists()
    import tastvg

    assert tastvg.convert_official_checkpoint is convert_official_checkpoint
    assert tastvg.build_model("tiny").cfg.name == "tiny"
