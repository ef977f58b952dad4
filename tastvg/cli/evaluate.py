"""Score predicted tubes against ground truth, from files or from a trained model.

    tastvg evaluate --gt GT.json --pred PRED.json [--protocol official|inclusive] [--json OUT]
    tastvg evaluate --checkpoint RUN/best.pth --data-root DIR [--split test] [--pred-out PRED.json]

In the first mode both JSON files map a video id to ``{"t_start", "t_end", "boxes": {frame_id:
[x1, y1, x2, y2]}}`` (inclusive frame ids, pixel boxes; ground truth may add ``"qtype"``). In the
second the model of a ``tastvg train`` checkpoint (its EMA weights, as the official code) predicts
the split (:mod:`tastvg.train.predict`), the predictions are written, and they are scored. See
``tastvg.evaluation``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tastvg.evaluation import PROTOCOLS, evaluate, format_table
from tastvg.io import write_json_atomic
from tastvg.train.predict import predict_from_checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    files = parser.add_argument_group("mode 1: score a prediction file")
    files.add_argument("--gt", type=Path, metavar="GT.json",
                       help="ground-truth tubes: {video_id: {t_start, t_end, boxes, [qtype]}}")
    files.add_argument("--pred", type=Path, metavar="PRED.json",
                       help="predicted tubes in the same format (one entry per ground-truth video)")
    model = parser.add_argument_group("mode 2: run a trained model on a dataset split")
    model.add_argument("--checkpoint", type=Path, metavar="CKPT.pth", help="a checkpoint written by `tastvg train`")
    model.add_argument("--data-root", type=Path, metavar="DIR", help="dataset folder (annos/ + videos)")
    model.add_argument("--split", default="test", help="annotation split to evaluate (default: %(default)s)")
    model.add_argument("--dataset", choices=["hcstvg", "hcstvg2", "vidstg", "synth"], default=None,
                       help="annotation format (default: the one recorded in the checkpoint)")
    model.add_argument("--tokenizer", type=Path, default=None, metavar="DIR",
                       help="tokenizer folder (default: the one recorded in the checkpoint, or the shipped one)")
    model.add_argument("--weights", choices=["ema", "model"], default="ema",
                       help="which weights of the checkpoint to use (default: %(default)s, as the official test)")
    model.add_argument("--device", default="auto", help="auto, cpu or cuda")
    model.add_argument("--batch-size", type=int, default=1, metavar="B",
                       help="videos per forward pass (default 1, as the official code; padded batches "
                            "give each video its B = 1 numbers)")
    model.add_argument("--workers", type=int, default=0, metavar="N",
                       help="data-loader processes that decode videos in parallel (default 0)")
    model.add_argument("--pred-out", type=Path, default=None, metavar="PRED.json",
                       help="where to write the predictions (default: next to the checkpoint)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="official",
                        help="official: bit-exact with the official TA-STVG evaluator (half-open spans, "
                             "the last GT frame is dropped); inclusive: both spans inclusive "
                             "(default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT.json",
                        help="also write the full result (aggregates, per-video scores) to this file")


def load_json(path: Path, what: str) -> Any:
    """Read a JSON file, turning every failure into one clear message naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit(f"error: {what} file not found: {path}") from None
    except json.JSONDecodeError as err:
        raise SystemExit(f"error: {what} file {path} is not valid JSON ({err})") from None


def run(args: argparse.Namespace) -> int:
    file_mode = args.gt is not None or args.pred is not None
    model_mode = args.checkpoint is not None or args.data_root is not None
    if file_mode == model_mode:
        raise SystemExit("error: give either --gt and --pred (score files) or --checkpoint and --data-root "
                         "(run a trained model)")
    if file_mode:
        if args.gt is None or args.pred is None:
            raise SystemExit("error: --gt and --pred go together")
        gt = load_json(args.gt, "ground-truth")
        pred = load_json(args.pred, "prediction")
    else:
        if args.checkpoint is None or args.data_root is None:
            raise SystemExit("error: --checkpoint and --data-root go together")
        gt, pred = predict_from_checkpoint(args.checkpoint, args.data_root, args.split, args.dataset, args.tokenizer,
                                           args.weights, args.device, args.batch_size, args.workers)
        out = args.pred_out or args.checkpoint.with_name(f"predictions_{args.split}.json")
        write_json_atomic(out, pred)
        print(f"wrote predictions: {out}")
    try:
        result = evaluate(gt, pred, protocol=args.protocol)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(format_table(result))
    if args.json is not None:
        write_json_atomic(args.json, result)
        print(f"wrote {args.json}")
    return 0
