"""``tastvg train``: train TA-STVG on a dataset folder, on CPU, one GPU, or many under torchrun.

    tastvg train --config synth --data-root data_samples/synth --out runs/synth
    tastvg train --config paper-hcstvg --data-root data/hc-stvg --tokenizer model_zoo/roberta-base \\
        --out runs/hcstvg optim.epochs=90 train.amp=bf16
    torchrun --nproc_per_node 8 --max-restarts 3 -m tastvg.train --config paper-hcstvg \
        --data-root data/hc-stvg ... --resume auto

Overrides are ``SECTION.FIELD=VALUE`` (VALUE parsed as YAML), before or after the options:
sections ``model``, ``loss``, ``optim``, ``backbone2d``, ``video_swin``, ``text`` (the model
preset), ``data`` (the data pipeline) and ``train`` (batch size, AMP, logging, evaluation and
checkpoint periods, ...).

``--resume`` continues RUN_DIR/last.pth (it must exist); ``--resume auto`` continues it if it
exists and starts a new run otherwise: the form for ``torchrun --max-restarts``, whose restarted
workers get the same command. Ctrl-C or SIGTERM (pre-emption) saves last.pth at the current step
and exits; the same command with ``--resume auto`` continues bit for bit.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import yaml

from tastvg.config import TASTVGConfig, available_presets, config_from_dict, resolve_config
from tastvg.io import write_text_atomic

PRESET_DATASET = {"paper-hcstvg": "hcstvg", "paper-hcstvg2": "hcstvg2", "paper-vidstg": "vidstg",
                  "synth": "synth", "tiny": "synth"}
RECIPE_FIELDS = {"lrs", "group_rules", "weight_decay", "clip_norm", "schedule", "drop_epochs",
                 "warmup_fraction", "ema_decay", "epochs"}  # come from the preset's `optim` section


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tastvg.train.engine import TrainConfig

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    run_fields = [f for f in dataclasses.fields(TrainConfig) if f.name not in RECIPE_FIELDS]
    parser.epilog = __doc__ + "\ntrain.* fields (default):\n" + "\n".join(
        f"  train.{f.name} ({f.default})" for f in run_fields) + (
        "\n\nmodel.*, loss.*, optim.*, backbone2d.*, video_swin.*, text.*: the fields of tastvg/config.py;"
        "\ndata.*: the fields of tastvg/data/config.py (DataConfig).")
    parser.add_argument("--config", required=True, metavar="PRESET_OR_YAML",
                        help=f"a preset ({', '.join(available_presets())}) or a YAML config file")
    parser.add_argument("--data-root", required=True, type=Path, metavar="DIR",
                        help="dataset folder with annos/{train,test}.json and the videos (spec layout)")
    parser.add_argument("--dataset", choices=["hcstvg", "hcstvg2", "vidstg", "synth"], default=None,
                        help="annotation format and sampling defaults (default: from the preset)")
    parser.add_argument("--tokenizer", type=Path, default=None, metavar="DIR",
                        help="a local tokenizer folder (roberta-base for the paper presets; default for "
                             "synth/tiny: the repository's data_samples/tokenizer)")
    parser.add_argument("--out", type=Path, default=None, metavar="RUN_DIR",
                        help="run folder for checkpoints, logs and predictions (default: runs/PRESET-TIME)")
    parser.add_argument("--init-mdetr", type=Path, default=None, metavar="PTH",
                        help="initialise from MDETR's pre-training (pretrained_resnet101_checkpoint.pth, a local "
                             "file) as the official training does: ResNet, RoBERTa, resizer, input_proj, encoder, "
                             "box head and the matching spatial-decoder parts; ignored with --resume")
    parser.add_argument("--resume", nargs="?", const="yes", default="no", metavar="auto",
                        help="continue from RUN_DIR/last.pth; `--resume auto`: continue if it exists, else start "
                             "(for torchrun --max-restarts and pre-emptible jobs)")
    parser.add_argument("--device", default="auto", help="auto (GPU if available), cpu, cuda")
    parser.add_argument("overrides", nargs="*", metavar="SECTION.FIELD=VALUE", help="config overrides")


# ------------------------------------------------------------------------------------------------
def resume_mode(args: argparse.Namespace) -> str:
    """``no``, ``yes`` or ``auto`` from ``--resume``; an override that ``--resume`` swallowed
    (``--resume train.max_steps=3``) goes back to the overrides."""
    value = args.resume
    if value in ("no", "yes", "auto"):
        return value
    if "=" in value:
        args.overrides = [*args.overrides, value]
        args.resume = "yes"
        return "yes"
    raise SystemExit(f"error: --resume takes no value or `auto`, got {value!r}")


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["model.tts_threshold=0.6", ...]`` -> ``{"model": {"tts_threshold": 0.6}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise SystemExit(f"error: override {item!r} is not SECTION.FIELD=VALUE (e.g. model.tts_threshold=0.6)")
        try:
            out.setdefault(section, {})[name] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise SystemExit(f"error: override {key}: {value!r} is not a valid YAML value ({problem}); "
                             "quote lists and strings for the shell, e.g. 'model.branches=[motion]'") from None
    return out


def _apply(obj: Any, values: dict[str, Any], where: str) -> Any:
    """``obj`` with ``values`` replaced, each checked against its field's name and type."""
    from tastvg.config import check_field

    fields = {f.name: f for f in dataclasses.fields(obj)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise SystemExit(f"error: unknown override {where}.{unknown[0]}; known fields of {where}: {', '.join(sorted(fields))}")
    try:
        checked = {k: check_field(fields[k], v, f"{where}.{k}") for k, v in values.items()}
        return dataclasses.replace(obj, **checked)
    except ValueError as err:
        raise SystemExit(f"error: override {err}") from None


def resolve_run(args: argparse.Namespace):
    """Model config, data config, loop config and dataset name from the arguments, or a clear exit."""
    from tastvg.data.config import DataConfig
    from tastvg.train.engine import TrainConfig

    if not args.data_root.is_dir():
        raise SystemExit(f"error: --data-root {args.data_root} is not a folder (it needs annos/train.json, "
                         "annos/test.json and the videos; `tastvg synth --out DIR` makes one)")
    init = getattr(args, "init_mdetr", None)
    if init is not None and not Path(init).is_file():
        raise SystemExit(f"error: --init-mdetr {init} is not a file (MDETR's pretrained_resnet101_checkpoint.pth)")
    try:
        cfg = resolve_config(args.config)
    except (ValueError, FileNotFoundError, KeyError) as err:
        raise SystemExit(f"error: --config {args.config}: {err}") from None
    overrides = parse_overrides(args.overrides)
    model_sections = {f.name for f in dataclasses.fields(TASTVGConfig)} - {"name"}
    known = sorted(model_sections | {"data", "train"})
    for section in overrides:
        if section not in known:
            raise SystemExit(f"error: unknown override section {section!r}; use one of {', '.join(known)}")
    tree = cfg.to_dict()
    for section in model_sections & set(overrides):
        _apply(getattr(cfg, section), overrides[section], section)  # validates the names
        tree[section].update(overrides[section])
    cfg = config_from_dict(tree, where="overrides")
    dataset = args.dataset or PRESET_DATASET.get(cfg.name)
    if dataset is None:
        raise SystemExit(f"error: cannot tell the dataset of config {cfg.name!r}: pass --dataset")
    data_cfg = DataConfig.for_dataset(dataset)
    data_cfg = _apply(data_cfg, {"app_num": cfg.model.app_num, "mot_num": cfg.model.mot_num,
                                 **overrides.get("data", {})}, "data")
    o = cfg.optim
    train_cfg = TrainConfig(
        epochs=o.epochs, weight_decay=o.weight_decay, clip_norm=o.clip_norm, schedule=o.schedule,
        drop_epochs=list(o.drop_epochs), warmup_fraction=o.warmup_fraction, ema_decay=o.ema_decay,
        lrs={"base": o.lr_base, "vision": o.lr_vision, "text": o.lr_text,
             "temporal_decoder": o.lr_temporal_decoder, "tts_asa": o.lr_tts_asa})
    run_overrides = overrides.get("train", {})
    recipe = sorted(set(run_overrides) & RECIPE_FIELDS)
    if recipe:
        raise SystemExit(f"error: train.{recipe[0]} is part of the recipe: override optim.* instead")
    train_cfg = _apply(train_cfg, run_overrides, "train")
    return cfg, data_cfg, train_cfg, dataset


def load_tokenizer(path: Path | None, preset: str):
    """A local tokenizer (never downloaded): ``--tokenizer`` or, for small presets, the shipped one."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    if path is None:
        if preset not in ("synth", "tiny"):
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


def run(args: argparse.Namespace) -> int:
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
    from tastvg.train.task import PARAM_GROUP_RULES, GroundingTask

    mode = resume_mode(args)
    cfg, data_cfg, train_cfg, dataset = resolve_run(args)
    train_cfg = dataclasses.replace(train_cfg, group_rules=PARAM_GROUP_RULES)
    if mode != "no" and args.out is None:
        raise SystemExit("error: --resume needs --out RUN_DIR (the run folder to continue)")
    run_dir = args.out or Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    resume_from = resume_source(run_dir, mode)

    dist = init_distributed(args.device)
    if dist.distributed:  # every rank decided alone (a per-node folder, a stale network file system)
        check_ranks_agree(all_gather_objects(str(resume_from) if resume_from else None))
    if dist.is_main:
        remove_partial_writes(run_dir)  # a .tmp left by a kill during a checkpoint write
    torch.manual_seed(train_cfg.seed + dist.rank)
    tokenizer = load_tokenizer(args.tokenizer, cfg.name)
    train_set = build_dataset(dataset, args.data_root, "train", data_cfg, seed=train_cfg.seed)
    test_set = build_dataset(dataset, args.data_root, "test", data_cfg, seed=train_cfg.seed)
    model = build_model(cfg)
    init_keys = init_from_mdetr(model, args.init_mdetr) if args.init_mdetr and resume_from is None else []
    task = GroundingTask(TASTVGLoss(cfg.loss, cfg.model), dist.device, split_test=data_cfg.split_test_clip)
    resolved = {"model": cfg.to_dict(), "data": data_cfg.to_dict(), "dataset": dataset,
                "data_root": str(args.data_root), "tokenizer": str(args.tokenizer or ""),
                "init_mdetr": initialised_from(run_dir, args.init_mdetr, resume_from is not None),
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
            print(f"initialised {len(init_keys)} tensors from MDETR ({args.init_mdetr})")
        if resume_from is not None:
            print(f"resumed from {resume_from} at step {trainer.step}")
    result = trainer.fit()
    if dist.is_main and result:
        print(format_table(result))
    cleanup()
    return 0
