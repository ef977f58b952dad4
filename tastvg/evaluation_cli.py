"""Score predicted tubes against ground truth: ``tastvg evaluate --gt GT.json --pred PRED.json``.

Both JSON files map a video id to ``{"t_start", "t_end", "boxes": {frame_id: [x1, y1, x2, y2]}}``
(inclusive frame ids, pixel boxes; ground truth may add ``"qtype"``). See ``tastvg.evaluation``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from tastvg.evaluation import PROTOCOLS, evaluate, format_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", type=Path, required=True, metavar="GT.json",
                        help="ground-truth tubes: {video_id: {t_start, t_end, boxes, [qtype]}}")
    parser.add_argument("--pred", type=Path, required=True, metavar="PRED.json",
                        help="predicted tubes in the same format (one entry per ground-truth video)")
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


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to its final place, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    gt = load_json(args.gt, "ground-truth")
    pred = load_json(args.pred, "prediction")
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
