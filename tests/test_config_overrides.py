"""One config path: dotted overrides (train CLI and ablation grids), the recipe object, the one
optimiser-group definition, and records written before them (run folders, ablation results)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tastvg.config import (SECTIONS, OptimConfig, apply_overrides, config_from_dict, load_preset,  # noqa: E402
                           lr_field, parse_overrides, replace_fields)

ROOT = Path(__file__).resolve().parent.parent
ABLATIONS = ROOT / "results" / "ablations"


def test_apply_overrides_checks_every_key_by_name_and_type():
    cfg = load_preset("tiny")
    new = apply_overrides(cfg, {"model.query_init": "zero", "optim.lr_base": 1, "optim.drop_epochs": (3,),
                                "text.weights": None})
    assert new.model.query_init == "zero" and new.optim.lr_base == 1.0 and isinstance(new.optim.lr_base, float)
    assert new.optim.drop_epochs == [3] and cfg.model.query_init == "target_aware"  # a new config
    assert apply_overrides(cfg, {}) == cfg
    for overrides, message in (({"model.nope": 1}, "model.nope"), ({"decoder.layers": 2}, "'decoder'"),
                               ({"model": 1}, "SECTION.FIELD"), ({"model.tts_threshold": "high"},
                                                                 "model.tts_threshold: expected float"),
                               ({"model.use_tts": 1}, "model.use_tts: expected bool"),
                               ({"model.query_init": "random"}, "not one of"),
                               ({"model.branches": ["motion"], "model.tts_appearance_weight": 0.3}, "δ")):
        with pytest.raises(ValueError, match=message):
            apply_overrides(cfg, overrides)
    assert set(SECTIONS) == {"backbone2d", "video_swin", "text", "model", "loss", "optim"}


def test_parse_overrides_reads_yaml_values_and_names_a_bad_item():
    assert parse_overrides(["model.tts_threshold=0.6", "model.branches=[motion]", "text.weights=null"]) == {
        "model.tts_threshold": 0.6, "model.branches": ["motion"], "text.weights": None}
    with pytest.raises(ValueError, match="SECTION.FIELD=VALUE"):
        parse_overrides(["model.tts_threshold"])
    with pytest.raises(ValueError, match="not a valid YAML value"):
        parse_overrides(["model.branches=[motion"])


def test_replace_fields_serves_the_run_and_data_sections():
    from tastvg.data.config import DataConfig
    from tastvg.train.engine import TrainConfig

    assert replace_fields(TrainConfig(), {"max_steps": 3}, "train").max_steps == 3
    with pytest.raises(ValueError, match="train.max_steps: expected int, got 'abc'"):
        replace_fields(TrainConfig(), {"max_steps": "abc"}, "train")
    with pytest.raises(ValueError, match="unknown override data.nope"):
        replace_fields(DataConfig.for_dataset("synth"), {"nope": 1}, "data")


def test_grid_variants_resolve_as_before():
    """``resolve_variant`` (now :func:`apply_overrides`) gives what updating the preset's tree did."""
    from tastvg.experiments.grids import VARIANTS, resolve_variant

    for name, overrides in VARIANTS.items():
        tree = load_preset("synth").to_dict()
        for key, value in overrides.items():
            section, _, field = key.partition(".")
            tree[section][field] = value
        assert resolve_variant("synth", overrides) == config_from_dict(tree), name


def test_one_recipe_object_and_one_group_definition():
    from tastvg import models
    from tastvg.train import schedule
    from tastvg.train.engine import TrainConfig

    o = load_preset("paper-hcstvg").optim
    assert o.lrs() == {"base": o.lr_base, "vision": o.lr_vision, "text": o.lr_text,
                       "temporal_decoder": o.lr_temporal_decoder, "tts_asa": o.lr_tts_asa}
    assert list(o.lrs()) == list(models.PARAM_GROUPS) and schedule.GROUPS is models.PARAM_GROUPS
    assert {g for _, g in models.PARAM_GROUP_PREFIXES} <= set(models.PARAM_GROUPS)
    recipe_names = {f.name for f in dataclasses.fields(OptimConfig)}
    assert not recipe_names & {f.name for f in dataclasses.fields(TrainConfig)}  # nothing repeated
    assert TrainConfig().recipe == OptimConfig()


def _old_shape(resolved: dict) -> dict:
    """``resolved`` as a run folder recorded it before the recipe object and the encoders' kinds."""
    old = json.loads(json.dumps(resolved))
    train = old["train"]
    recipe = train.pop("recipe")
    lrs = {g: recipe.pop(lr_field(g)) for g in OptimConfig().lrs()}
    old["train"] = {"epochs": recipe.pop("epochs"), "batch_size": train.pop("batch_size"),
                    "accum": train.pop("accum"), "lrs": lrs, **recipe, **train}
    for section in ("backbone2d", "video_swin", "text"):
        old["model"][section].pop("kind")
    return old


def test_a_run_folder_written_before_the_recipe_object_still_resumes(tmp_path, capsys):
    import torch

    from tastvg.cli import main
    from tastvg.paths import data_samples_dir
    from tastvg.train.checkpoint import load_checkpoint
    from tastvg.train.run_folder import check_resume_config, upgrade_run_config

    synth = str(data_samples_dir() / "synth")
    run = tmp_path / "run"
    argv = ["train", "--config", "tiny", "--data-root", synth, "--out", str(run), "optim.epochs=1",
            "train.batch_size=2", "train.progress=false"]
    assert main([*argv, "train.max_steps=1"]) == 0
    state = load_checkpoint(run / "last.pth")
    new = state["config"]
    assert "recipe" in new["train"] and "lrs" not in new["train"]
    old = _old_shape(new)
    assert upgrade_run_config(old) == new and upgrade_run_config(new) == new
    state["config"] = old
    torch.save(state, run / "last.pth")
    assert main([*argv, "train.max_steps=2", "--resume"]) == 0
    assert load_checkpoint(run / "last.pth")["step"] == 2 and "resumed from" in capsys.readouterr().out
    changed = json.loads(json.dumps(old))
    changed["train"]["lrs"]["text"] *= 2
    with pytest.raises(ValueError, match=r"train\.recipe\.lr_text: checkpoint"):
        check_resume_config(changed, new, run / "last.pth")


def _committed_records() -> list[Path]:
    return sorted(p for p in ABLATIONS.glob("*/seed*.json") if not p.name.endswith("_detail.json"))


@pytest.mark.skipif(not _committed_records(), reason="no committed ablation results")
def test_committed_ablation_results_still_count_as_finished(tmp_path):
    import tastvg.experiments as ex

    records = _committed_records()
    for path in records:
        rec = json.loads(path.read_text())
        setup = ex.Setup(**rec["setup"])
        assert ex.is_finished(ABLATIONS, rec["variant"], rec["seed"], setup), path
    # a config field added since with its default (the encoders' kind) does not make a record stale
    rec = json.loads(records[0].read_text())
    assert "kind" in config_from_dict(rec["config"]).to_dict()["text"]
    stale = tmp_path / rec["variant"] / records[0].name
    stale.parent.mkdir()
    rec["config"]["optim"]["lr_base"] *= 2
    stale.write_text(json.dumps(rec))
    assert not ex.is_finished(tmp_path, rec["variant"], rec["seed"], ex.Setup(**rec["setup"]))
