"""Print versions and devices: ``tastvg info`` (paste it into bug reports)."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of aligned text")


def run(args: argparse.Namespace) -> int:
    from tastvg.train.logger import environment_info

    info = environment_info()
    try:
        from tastvg.config import available_presets

        info["presets"] = available_presets()
    except ImportError:
        pass
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0
