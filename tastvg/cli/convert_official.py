"""Convert an official TA-STVG checkpoint (``HengLan/TA-STVG``) to this package's parameter names.

``tastvg convert-official IN OUT [--preset paper-hcstvg]``: IN is a ``.pth`` holding ``model_ema``
and/or ``model`` (``model_ema`` is preferred, like the official test script) or a bare state_dict;
OUT is a ``.pth`` with ``{"model": state_dict, "config": <resolved config dict>}``, readable by
``tastvg evaluate --checkpoint``. The mapping is :mod:`tastvg.convert`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tastvg.convert import convert_official_checkpoint, extract_state_dict, read_official


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="official checkpoint (.pth with model/model_ema, or a state_dict)")
    parser.add_argument("output", metavar="OUT", help="converted checkpoint to write (.pth)")
    parser.add_argument("--preset", default="paper-hcstvg",
                        help="preset (or YAML config) the checkpoint belongs to (default: paper-hcstvg)")
    parser.add_argument("--key", default=None, choices=["model_ema", "model"],
                        help="which entry to convert (default: model_ema if present, else model)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow arbitrary pickled objects in IN (only for files you trust)")


def run(args: argparse.Namespace) -> int:
    from tastvg.config import resolve_config

    src = Path(args.input)
    if not src.is_file():
        raise SystemExit(f"error: convert-official: {src} does not exist (or is not a file)")
    obj = read_official(src, trust_pickle=args.trust_pickle)
    cfg = resolve_config(args.preset)
    state = convert_official_checkpoint(extract_state_dict(obj, args.key), cfg)
    from tastvg.train.checkpoint import CONVERTED, atomic_torch_save
    from tastvg.train.setup import preset_dataset

    dst = Path(args.output)
    # readable by `tastvg evaluate --checkpoint` (the weights serve as both "model" and EMA)
    atomic_torch_save({"format": CONVERTED, "model": state, "source": str(src),
                       "config": {"model": cfg.to_dict(), "dataset": preset_dataset(cfg.name)}}, dst)
    print(f"converted {len(state)} tensors ({sum(v.numel() for v in state.values()):,} numbers) -> {dst}")
    return 0
