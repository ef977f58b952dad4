"""Score predicted tubes against ground truth, from files or from a trained model.

    tastvg evaluate --gt GT.json --pred PRED.json [--protocol official|inclusive] [--json OUT]
    tastvg evaluate --checkpoint RUN/best.pth --data-root DIR [--split test] [--pred-out PRED.json]

In the first mode both JSON files map a video id to ``{"t_start", "t_end", "boxes": {frame_id:
[x1, y1, x2, y2]}}`` (inclusive frame ids, pixel boxes; ground truth may add ``"qtype"``). In the
second the model of a ``tastvg train`` checkpoint (its EMA weights, as the official code) predicts
the split, the predictions are written, and they are scored. See ``tastvg.evaluation``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tastvg.evaluation import PROTOCOLS, evaluate, format_table
from tastvg.io import write_json_atomic


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


def _build_eval_dataset(name: str, args: argparse.Namespace, data_cfg: Any, from_flag: bool) -> Any:
    """The split to evaluate; an annotation error names the dataset format it was read as and --dataset."""
    from tastvg.data.annotations import AnnotationError
    from tastvg.data.config import DATASETS
    from tastvg.data.dataset import build_dataset

    try:
        return build_dataset(name, args.data_root, args.split, data_cfg, train=False)
    except AnnotationError as err:
        source = "--dataset" if from_flag else "the checkpoint's dataset"
        raise SystemExit(f"error: {err} (read as {name!r}, {source}; if {args.data_root} holds another dataset, "
                         f"pass --dataset {'|'.join(DATASETS)} and a checkpoint trained on it)") from None


def predict_from_checkpoint(args: argparse.Namespace) -> tuple[dict, dict]:
    """Ground truth and predictions of a trained model on ``args.split`` of ``args.data_root``."""
    import torch
    from torch.utils.data import DataLoader

    from tastvg.config import config_from_dict
    from tastvg.data.collate import Collator
    from tastvg.data.config import DataConfig
    from tastvg.data.dataset import build_dataset
    from tastvg.losses import TASTVGLoss
    from tastvg.models.tastvg import build_model
    from tastvg.train.checkpoint import load_checkpoint
    from tastvg.train.cli import load_tokenizer
    from tastvg.train.distributed import pick_device
    from tastvg.train.task import GroundingTask

    if not args.data_root.is_dir():
        raise SystemExit(f"error: --data-root {args.data_root} is not a folder")
    state = load_checkpoint(args.checkpoint, allow_converted=True)
    run_cfg = state.get("config") or {}
    if "model" not in run_cfg:
        raise SystemExit(f"error: {args.checkpoint} does not record its model configuration")
    cfg = config_from_dict(run_cfg["model"], where=f"{args.checkpoint}:config.model")
    dataset = args.dataset or run_cfg.get("dataset")
    if dataset is None:
        raise SystemExit(f"error: {args.checkpoint} does not say its dataset: pass --dataset")
    # a converted official checkpoint has no data settings: the dataset's official ones apply
    data_cfg = DataConfig(**run_cfg["data"]) if "data" in run_cfg else DataConfig.for_dataset(
        dataset, app_num=cfg.model.app_num, mot_num=cfg.model.mot_num)
    tokenizer_dir = args.tokenizer or (Path(run_cfg["tokenizer"]) if run_cfg.get("tokenizer") else None)
    tokenizer = load_tokenizer(tokenizer_dir, cfg.name)
    device = pick_device(args.device)
    model = build_model(cfg)
    weights = state["ema"]["module"] if args.weights == "ema" and "ema" in state else state["model"]
    model.load_state_dict(weights)
    model.to(device).eval()
    dataset = _build_eval_dataset(dataset, args, data_cfg, from_flag=args.dataset is not None)
    task = GroundingTask(TASTVGLoss(cfg.loss, cfg.model), device, split_test=data_cfg.split_test_clip)
    if args.batch_size < 1 or args.workers < 0:
        raise SystemExit("error: --batch-size must be >= 1 and --workers >= 0")
    loader = DataLoader(dataset, batch_size=args.batch_size, collate_fn=Collator(tokenizer),
                        num_workers=args.workers)
    predictions: dict = {}
    from tqdm.auto import tqdm

    with torch.no_grad():
        for batch in tqdm(loader, desc=f"predict {args.split}", disable=None):
            predictions.update(task.predict(model, batch))
    return task.ground_truth(dataset), predictions


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
        gt, pred = predict_from_checkpoint(args)
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
