"""The ``tastvg`` command line: one entry point, one thin module per subcommand in this package.

Each subcommand module (``tastvg/cli/train.py``, ``evaluate.py``, ...) exposes two functions::

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int

and calls the library (``tastvg.train.setup``, ``tastvg.train.predict``, ``tastvg.experiments``,
...), which holds no argparse. They are imported lazily, so a broken optional piece cannot stop
the others from working. ``python -m tastvg.cli ...`` is the same command.

Options and ``SECTION.FIELD=VALUE`` overrides may come in any order (``parse_intermixed_args``).
The project's own errors (bad configs, annotations, videos, missing or unreadable files, a run
whose loss blew up) end in one line, ``error: <message>``, with exit status 2 (1 for a failed run,
128 + the signal for an interrupted one); ``--debug`` or ``TASTVG_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn, Sequence

DEBUG_ENV = "TASTVG_DEBUG"

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("tastvg.cli.train", "train TA-STVG (CPU, one GPU, or many under torchrun)"),
    "evaluate": ("tastvg.cli.evaluate", "score predictions against ground truth (m_tIoU, m_vIoU, vIoU@R)"),
    "synth": ("tastvg.cli.synth", "generate a SynthSTVG dataset (mp4 videos + HC-STVG-format annotations)"),
    "convert-official": ("tastvg.cli.convert_official", "convert an official TA-STVG checkpoint to this package's names"),
    "ablate": ("tastvg.cli.ablate", "run ablation grids on SynthSTVG (one JSON per run, mean ± std summary)"),
    "data": ("tastvg.cli.data", "prepare dataset files (build-vidstg: VidSTG annos from the public files)"),
    "pretrain": ("tastvg.cli.pretrain", "pretrain the CPU backbones on dense SynthSTVG labels (motion / appearance per cell)"),
    "info": ("tastvg.cli.info", "print versions, devices and presets (for bug reports)"),
    "book": ("tastvg.cli.book", "the book's chapters (sync: write the Colab install cells and badges from _config.yml)"),
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
        p.add_argument("--debug", action="store_true", help=f"show the traceback of an error (or {DEBUG_ENV}=1)")
        p.set_defaults(_run=module.run)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``, letting a subcommand's options and positionals (overrides) interleave."""
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if sub is None or not argv or argv[0] not in sub.choices:
        return parser.parse_args(argv)
    try:
        args = sub.choices[argv[0]].parse_intermixed_args(argv[1:])
    except TypeError:  # a parser that intermixed parsing does not support
        return parser.parse_args(argv)
    args.command = argv[0]
    return args


def _rank_prefix() -> str:
    return f"[rank {os.environ.get('RANK', '0')}] " if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""


def _clean_exit(message: str, code: int) -> NoReturn:
    message = message[len("error: "):] if message.startswith("error: ") else message
    print(f"error: {_rank_prefix()}{message}", file=sys.stderr)
    raise SystemExit(code)


def _known_errors() -> tuple[type[BaseException], ...]:
    """The project's own error types (one-line messages); everything else keeps its traceback."""
    import yaml

    from tastvg.data.annotations import AnnotationError
    from tastvg.data.video import VideoError

    return (AnnotationError, VideoError, ValueError, OSError, yaml.YAMLError)


def handle_error(err: BaseException) -> NoReturn:
    """Turn ``err`` into one ``error:`` line and an exit status, or re-raise it if it is not ours."""
    from tastvg.train.guards import NonFiniteLossError
    from tastvg.train.interrupt import TrainingInterrupted

    if isinstance(err, SystemExit):
        if isinstance(err.code, str):  # `raise SystemExit("error: ...")` in a subcommand
            _clean_exit(err.code, 2)
        raise err
    if isinstance(err, TrainingInterrupted):
        print(f"{_rank_prefix()}{err}; to continue, run the same command with --resume auto", file=sys.stderr)
        raise SystemExit(err.exit_code)
    if isinstance(err, KeyboardInterrupt):
        _clean_exit("interrupted", 130)
    if isinstance(err, NonFiniteLossError):
        _clean_exit(str(err), 1)
    if isinstance(err, _known_errors()):
        _clean_exit(str(err) or type(err).__name__, 2)
    raise err


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tastvg`` command; exits with status 2 after one ``error:`` line on a known error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0") or "--debug" in argv
    argv = argv[1:] if argv[:1] == ["--debug"] else argv
    try:
        parser = build_parser()
        args = parse(parser, argv)
        if getattr(args, "_run", None) is None:
            parser.print_help()
            return 2
        return int(args._run(args) or 0)
    except BaseException as err:  # noqa: BLE001 - sorted by handle_error, unknown ones re-raised
        if debug and not isinstance(err, SystemExit):
            raise
        handle_error(err)
