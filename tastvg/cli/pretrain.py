"""Synthetic pretraining of the CPU backbones on dense SynthSTVG labels: ``tastvg pretrain``.

    tastvg pretrain video-swin --preset synth-motion --steps 300 --out results/pretrain/synth-motion_video_swin.pth
    tastvg pretrain backbone2d --preset synth --steps 400 --out results/pretrain/synth_backbone2d.pth
    tastvg pretrain grounding --preset synth-grid4-pretrained --out results/pretrain/synth-grid4_grounding.pth

Writes the backbone's ``state_dict`` (loadable through ``video_swin.weights`` / ``backbone2d.weights``)
and a JSON report beside it. The stage itself is :mod:`tastvg.pretrain`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import torch

from tastvg.pretrain import KINDS, PretrainSetup, pretrain, save


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = PretrainSetup()
    parser.add_argument("kind", choices=KINDS, help="which part to pretrain (grounding: the MDETR stand-in)")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint path (.pth); the report goes beside it (.json)")
    parser.add_argument("--preset", default=d.preset)
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--data-seed", type=int, default=d.data_seed)
    parser.add_argument("--eval-videos", type=int, default=d.eval_videos)
    parser.add_argument("--distractors", type=int, default=d.knobs["distractors"])
    parser.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                        help="another SynthKnobs field (e.g. size=32); repeatable")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--balanced", action="store_true",
                        help="backbone2d: weight each appearance class by its inverse frequency in the batch; "
                             "video-swin: weight moving cells by the still / moving ratio")
    parser.add_argument("--train-norm", action="store_true",
                        help="backbone2d: train batch norm (written back as frozen statistics)")
    parser.add_argument("--frames-per-video", type=int, default=d.frames_per_video,
                        help="frames drawn per video (a step has --batch-size videos; default: grounding 4, backbone2d all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


def run(args: argparse.Namespace) -> int:
    import yaml

    torch.set_num_threads(args.threads)
    knobs: dict[str, Any] = {"distractors": args.distractors}
    for item in args.knob:
        k, sep, v = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --knob {item!r}: expected NAME=VALUE")
        knobs[k] = yaml.safe_load(v)
    setup = PretrainSetup(kind=args.kind, preset=args.preset, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                          data_seed=args.data_seed, eval_videos=args.eval_videos, knobs=knobs, seed=args.seed,
                          frames_per_video=args.frames_per_video, balanced=args.balanced,
                          train_norm=args.train_norm)
    state, report = pretrain(setup, log=lambda s: print(s, flush=True))
    command = "tastvg pretrain " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["pretrain"] else None
    save(args.out, state, report, command=command or "tastvg pretrain " + args.kind + " ...")
    if args.kind == "grounding":
        g = report["held_out"]["grounding"]
        print(f"held-out frames: target cell {g['cell_accuracy']:.3f}, box IoU {g['box_iou']:.3f} "
              f"(a random actor's box: {report['held_out']['random_actor_iou']:.3f})")
    for k, r in report["held_out"].items():
        if not isinstance(r, dict) or "accuracy" not in r:
            continue
        print(f"held-out {k}: accuracy {r['accuracy']:.3f} (majority {r['majority']:.3f}), "
              f"balanced {r['balanced_accuracy']:.3f} (chance {r['chance_balanced']:.3f})")
    print(f"wrote {args.out} ({report['train_s']:.0f} s, {report['s_per_step']:.2f} s/step)")
    return 0
