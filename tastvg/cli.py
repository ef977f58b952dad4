"""The ``tastvg`` command line: one entry point, one module per subcommand.

Each subcommand lives next to the concept it serves and exposes two functions::

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int

They are imported lazily, so ``tastvg --help`` stays fast and a broken optional piece cannot stop
the others from working.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("tastvg.train.cli", "train TA-STVG (CPU, one GPU, or many under torchrun)"),
    "evaluate": ("tastvg.evaluation_cli", "score predictions against ground truth (m_tIoU, m_vIoU, vIoU@R)"),
    "synth": ("tastvg.data.synth", "generate a SynthSTVG dataset (mp4 videos + HC-STVG-format annotations)"),
    "convert-official": ("tastvg.convert", "convert an official TA-STVG checkpoint to this package's names"),
    "ablate": ("tastvg.experiments", "run ablation grids on SynthSTVG (one JSON per run, mean ± std summary)"),
    "info": ("tastvg.info_cli", "print versions, devices and presets (for bug reports)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tastvg",
        description="TA-STVG: target-aware transformer for spatio-temporal video grounding.",
    )
    from tastvg import __version__

    parser.add_argument("--version", action="version", version=f"tastvg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and module_name.startswith(err.name):
                continue  # this subcommand is not part of the installed version yet
            raise
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip().splitlines()[0])
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
