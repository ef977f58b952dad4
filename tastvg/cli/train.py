"""``tastvg train``: train TA-STVG on a dataset folder, on CPU, one GPU, or many under torchrun.

    tastvg train --config synth --data-root data_samples/synth --out runs/synth
    tastvg train --config paper-hcstvg --data-root data/hc-stvg --tokenizer model_zoo/roberta-base \\
        --out runs/hcstvg optim.epochs=90 train.amp=bf16
    tastvg train --config synth-motion --data-root data/synth --out runs/synth-pre \
        --init backbone2d=results/pretrain/synth_backbone2d.pth --init video_swin=results/pretrain/synth-motion_video_swin.pth
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

from tastvg.config import available_presets
from tastvg.train.setup import RECIPE_FIELDS, init_overrides, launch, resolve_run


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
    parser.add_argument("--init", action="append", default=[], metavar="PART=PTH",
                        help="load a pretrained part before training: backbone2d=PTH (a ResNet state_dict, e.g. "
                             "`tastvg pretrain backbone2d` output), video_swin=PTH, text=DIR; the same as "
                             "PART.weights=PTH, recorded in the run's config; repeatable")
    parser.add_argument("--resume", nargs="?", const="yes", default="no", metavar="auto",
                        help="continue from RUN_DIR/last.pth; `--resume auto`: continue if it exists, else start "
                             "(for torchrun --max-restarts and pre-emptible jobs)")
    parser.add_argument("--device", default="auto", help="auto (GPU if available), cpu, cuda")
    parser.add_argument("overrides", nargs="*", metavar="SECTION.FIELD=VALUE", help="config overrides")


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


def resolve(args: argparse.Namespace):
    """Model config, data config, loop config and dataset name of the parsed arguments."""
    inits = [f"{key}={path}" for key, path in init_overrides(args.init).items()]
    return resolve_run(args.config, args.data_root, [*args.overrides, *inits], args.dataset, args.init_mdetr)


def run(args: argparse.Namespace) -> int:
    mode = resume_mode(args)
    cfg, data_cfg, train_cfg, dataset = resolve(args)
    if mode != "no" and args.out is None:
        raise SystemExit("error: --resume needs --out RUN_DIR (the run folder to continue)")
    run_dir = args.out or Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return launch(cfg, data_cfg, train_cfg, dataset, args.data_root, run_dir, resume=mode,
                  tokenizer_dir=args.tokenizer, init_mdetr=args.init_mdetr, device=args.device)
