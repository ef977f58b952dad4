"""A training run from a config: resolve the configs, the tokenizer and the MDETR start, then launch.

What ``tastvg train`` (:mod:`tastvg.cli.train`) does, as library functions:

    cfg, data_cfg, train_cfg, dataset = resolve_run("tiny", data_root, ["optim.epochs=1"])
    launch(cfg, data_cfg, train_cfg, dataset, data_root, run_dir="runs/tiny")

Overrides are ``SECTION.FIELD=VALUE`` (VALUE parsed as YAML): sections ``model``, ``loss``,
``optim``, ``backbone2d``, ``video_swin``, ``text`` (the model preset), ``data`` (the data pipeline)
and ``train`` (batch size, AMP, logging, evaluation and checkpoint periods, ...). Every error is
one ``error: ...`` line (``SystemExit``) that names the argument to fix.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from tastvg.config import (SECTIONS, OptimConfig, TASTVGConfig, apply_overrides, parse_overrides, replace_fields,
                           resolve_config)
from tastvg.io import write_text_atomic

PRESET_DATASET = {"paper-hcstvg": "hcstvg", "paper-hcstvg2": "hcstvg2", "paper-vidstg": "vidstg",
                  "synth": "synth", "tiny": "synth"}


def preset_dataset(name: str) -> str | None:
    """The dataset a preset is made for: :data:`PRESET_DATASET`, and SynthSTVG for every ``synth-*``
    preset (``synth-motion``, ``synth-pretrained``, ``synth-grid4``, ...); None when unknown."""
    return PRESET_DATASET.get(name) or ("synth" if name.startswith("synth-") else None)
# train.* names that are not the run's to set: the recipe (OptimConfig, the model config's `optim`
# section; "lrs" was TrainConfig's name for its rates) and the parameter-group rules (the model's)
RECIPE_FIELDS = {"recipe", "group_rules", "lrs", *(f.name for f in dataclasses.fields(OptimConfig))}


# `tastvg train --init PART=PTH`: which config field loads a pretrained part (synthetic pretraining
# writes these files: `tastvg pretrain backbone2d|video-swin`; or torchvision / Kinetics weights)
INIT_PARTS = {"backbone2d": "backbone2d.weights", "video_swin": "video_swin.weights", "text": "text.weights"}


def init_overrides(items: Sequence[str]) -> dict[str, str]:
    """``["backbone2d=results/pretrain/synth_backbone2d.pth", ...]`` -> ``{"backbone2d.weights": path}``,
    each part known and each file (a folder for ``text``) present, or one clear exit. The paths go
    into the run's config, so ``config.yaml`` records where the run started."""
    out: dict[str, str] = {}
    for item in items:
        part, sep, path = item.partition("=")
        if not sep or part not in INIT_PARTS:
            raise SystemExit(f"error: --init {item!r}: expected PART=PATH with PART one of {', '.join(INIT_PARTS)}")
        exists = Path(path).is_dir() if part == "text" else Path(path).is_file()
        if not exists:
            raise SystemExit(f"error: --init {part}={path}: no such {'folder' if part == 'text' else 'file'} "
                             f"(`tastvg pretrain` writes backbone checkpoints)")
        out[INIT_PARTS[part]] = path
    return out


def resolve_run(config: str | Path, data_root: Path, overrides: Sequence[str] | Mapping[str, Any],
                dataset: str | None = None, init_mdetr: Path | None = None) -> tuple[TASTVGConfig, Any, Any, str]:
    """Model config, data config, loop config and dataset name, or a clear exit.

    ``config`` is a preset or a YAML file; ``overrides`` the ``SECTION.FIELD=VALUE`` strings (or
    their parsed ``{"SECTION.FIELD": value}``): model sections go through
    :func:`tastvg.config.apply_overrides`, ``data.*`` and ``train.*`` through
    :func:`tastvg.config.replace_fields`. ``data_root`` and ``init_mdetr`` are checked to exist."""
    from tastvg.data.config import DataConfig
    from tastvg.train.engine import TrainConfig

    if not Path(data_root).is_dir():
        raise SystemExit(f"error: --data-root {data_root} is not a folder (it needs annos/train.json, "
                         "annos/test.json and the videos; `tastvg synth --out DIR` makes one)")
    if init_mdetr is not None and not Path(init_mdetr).is_file():
        raise SystemExit(f"error: --init-mdetr {init_mdetr} is not a file (MDETR's pretrained_resnet101_checkpoint.pth)")
    try:
        cfg = resolve_config(config)
    except (ValueError, FileNotFoundError, KeyError) as err:
        raise SystemExit(f"error: --config {config}: {err}") from None
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    known = sorted({*SECTIONS, "data", "train"})
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if section not in known:
            raise SystemExit(f"error: unknown override section {section!r}; use one of {', '.join(known)}")
        by_section.setdefault(section, {})[name] = value
    cfg = apply_overrides(cfg, {k: v for k, v in overrides.items() if k.partition(".")[0] in SECTIONS})
    dataset = dataset or preset_dataset(cfg.name)
    if dataset is None:
        raise SystemExit(f"error: cannot tell the dataset of config {cfg.name!r}: pass --dataset")
    data_cfg = replace_fields(DataConfig.for_dataset(dataset), {"app_num": cfg.model.app_num,
                              "mot_num": cfg.model.mot_num, **by_section.get("data", {})}, "data")
    run_overrides = by_section.get("train", {})
    recipe = sorted(set(run_overrides) & RECIPE_FIELDS)
    if recipe:
        raise SystemExit(f"error: train.{recipe[0]} is part of the recipe: override optim.* instead")
    train_cfg = replace_fields(TrainConfig(recipe=cfg.optim), run_overrides, "train")
    return cfg, data_cfg, train_cfg, dataset


def load_tokenizer(path: Path | None, preset: str):
    """A local tokenizer (never downloaded): ``--tokenizer`` or, for small presets, the shipped one."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    if path is None:
        if preset_dataset(preset) != "synth":  # the small presets read the shipped SynthSTVG tokenizer
            raise SystemExit(f"error: preset {preset!r} needs --tokenizer DIR (a local roberta-base folder)")
        from tastvg.paths import data_samples_dir

        path = data_samples_dir() / "tokenizer"
    if not Path(path).is_dir():
        raise SystemExit(f"error: --tokenizer {path} is not a folder")
    return AutoTokenizer.from_pretrained(str(path))


def init_from_mdetr(model, path: Path) -> list[str]:
    """Load the MDETR tensors that map onto ``model``; a clear exit if the file is missing or none map."""
    from tastvg.models.pretrained import load_mdetr_weights

    try:
        keys = load_mdetr_weights(model, path)
    except Exception as err:  # a corrupt or foreign file
        from tastvg.train.checkpoint import first_line

        raise SystemExit(f"error: --init-mdetr {path}: cannot read it as a checkpoint ({first_line(err)})") from None
    if not keys:
        raise SystemExit(f"error: --init-mdetr {path}: no tensor maps onto this model (is it an MDETR checkpoint "
                         "of the same sizes as the config?)")
    return keys


def initialised_from(run_dir: Path, init_mdetr: Path | None, resuming: bool) -> str:
    """The MDETR file a run started from; a resumed run keeps what its config.yaml recorded."""
    if resuming:
        old = Path(run_dir) / "config.yaml"
        if old.is_file():
            return str((yaml.safe_load(old.read_text()) or {}).get("init_mdetr", ""))
    return str(init_mdetr or "")


def launch(cfg: TASTVGConfig, data_cfg: Any, train_cfg: Any, dataset: str, data_root: Path, run_dir: Path,
           resume: str = "no", tokenizer_dir: Path | None = None, init_mdetr: Path | None = None,
           device: str = "auto") -> int:
    """Train ``cfg`` on ``data_root`` into ``run_dir`` (on every rank under ``torchrun``).

    ``resume`` is ``no``, ``yes`` or ``auto`` (:func:`tastvg.train.run_folder.resume_source`); a
    resumed run is checked against the configuration its checkpoint recorded before anything is
    written. Prints the run folder, then the final evaluation table; returns 0."""
    import torch

    from tastvg.data.collate import Collator
    from tastvg.data.dataset import build_dataset
    from tastvg.losses import TASTVGLoss
    from tastvg.models.tastvg import build_model
    from tastvg.evaluation import format_table
    from tastvg.train.checkpoint import load_checkpoint, remove_partial_writes
    from tastvg.train.distributed import all_gather_objects, cleanup, init_distributed
    from tastvg.train.engine import Trainer
    from tastvg.train.run_folder import check_ranks_agree, check_resume_config, resume_source
    from tastvg.models import PARAM_GROUP_PREFIXES
    from tastvg.train.task import GroundingTask

    train_cfg = dataclasses.replace(train_cfg, group_rules=list(PARAM_GROUP_PREFIXES))
    resume_from = resume_source(run_dir, resume)

    dist = init_distributed(device)
    if dist.distributed:  # every rank decided alone (a per-node folder, a stale network file system)
        check_ranks_agree(all_gather_objects(str(resume_from) if resume_from else None))
    if dist.is_main:
        remove_partial_writes(run_dir)  # a .tmp left by a kill during a checkpoint write
    torch.manual_seed(train_cfg.seed + dist.rank)
    tokenizer = load_tokenizer(tokenizer_dir, cfg.name)
    train_set = build_dataset(dataset, data_root, "train", data_cfg, seed=train_cfg.seed)
    test_set = build_dataset(dataset, data_root, "test", data_cfg, seed=train_cfg.seed)
    model = build_model(cfg)
    init_keys = init_from_mdetr(model, init_mdetr) if init_mdetr and resume_from is None else []
    task = GroundingTask(TASTVGLoss(cfg.loss, cfg.model), dist.device, split_test=data_cfg.split_test_clip)
    resolved = {"model": cfg.to_dict(), "data": data_cfg.to_dict(), "dataset": dataset,
                "data_root": str(data_root), "tokenizer": str(tokenizer_dir or ""),
                "init_mdetr": initialised_from(run_dir, init_mdetr, resume_from is not None),
                "train": {k: v for k, v in dataclasses.asdict(train_cfg).items() if k not in ("group_rules",)}}
    state = None
    if resume_from is not None:  # validate before anything of the run folder is rewritten
        state = load_checkpoint(resume_from, map_location=dist.device)
        check_resume_config(state.get("config") or {}, resolved, resume_from)
    trainer = Trainer(model, task, train_set, test_set, Collator(tokenizer), train_cfg, run_dir, dist,
                      config_dict=resolved)
    if state is not None:
        trainer.resume(state, path=resume_from)
    if dist.is_main:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(run_dir) / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
        print(f"run folder: {run_dir}  ({len(train_set)} train / {len(test_set)} test samples, "
              f"{trainer.total_steps} optimiser steps, device {dist.device}, world size {dist.world_size})")
        if init_keys:
            print(f"initialised {len(init_keys)} tensors from MDETR ({init_mdetr})")
        if resume_from is not None:
            print(f"resumed from {resume_from} at step {trainer.step}")
    result = trainer.fit()
    if dist.is_main and result:
        print(format_table(result))
    cleanup()
    return 0
