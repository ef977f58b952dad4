"""Ablations on SynthSTVG: ``tastvg ablate``, a named grid of configurations over seeds, one JSON per run.

    tastvg ablate --grids queries tts_asa --seeds 0 1 2 --out results/ablations --jobs 2
    tastvg ablate --summary-only --out results/ablations     # rewrite summary.{csv,md}

The runner is :mod:`tastvg.experiments.runner`; ``--jobs N`` starts N workers, each
``python -m tastvg.cli ablate ... --jobs 1``, that claim runs through lock files.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tastvg.experiments import runner
from tastvg.experiments.grids import GRIDS, PRIORITY, VARIANTS
from tastvg.experiments.runner import Setup, prepare_data, run_grid
from tastvg.experiments.summary import format_summary, write_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = Setup()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = runner.__doc__ + "\nvariants:\n" + "\n".join(f"  {k}: {v}" for k, v in VARIANTS.items()) + \
        "\ngrids:\n" + "\n".join(f"  {k}: {', '.join(v)}" for k, v in GRIDS.items())
    parser.add_argument("--grids", nargs="+", default=PRIORITY, metavar="GRID", help=f"grids to run (default: all: {' '.join(PRIORITY)})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("results/ablations"), help="results folder (run JSONs, summary)")
    parser.add_argument("--cache", type=Path, default=None, help="dataset and work folder (default: ~/.cache/tastvg/ablations)")
    parser.add_argument("--preset", default=d.preset)
    parser.add_argument("--videos", type=int, default=d.videos)
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--data-seed", type=int, default=d.data_seed)
    parser.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                        help="a SynthKnobs field (e.g. distractors=2); repeatable")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes, one thread each (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    parser.add_argument("--summary-only", action="store_true", help="only rewrite summary.{csv,md}")


def setup_from_args(args: argparse.Namespace) -> Setup:
    import yaml

    from tastvg.data.synth import SynthKnobs

    knobs: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(SynthKnobs)}
    for item in args.knob:
        k, sep, v = item.partition("=")
        if not sep or k not in names:
            raise SystemExit(f"error: --knob {item!r}: expected NAME=VALUE with NAME in {', '.join(sorted(names))}")
        knobs[k] = yaml.safe_load(v)
    return Setup(preset=args.preset, videos=args.videos, data_seed=args.data_seed, knobs=knobs,
                 epochs=args.epochs, batch_size=args.batch_size, threads=args.threads)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    setup = setup_from_args(args)
    out = args.out
    cache = args.cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tastvg" / "ablations"
    command = os.environ.get("TASTVG_ABLATE_COMMAND") or canonical_command(args)
    if not args.summary_only:
        unknown = [g for g in args.grids if g not in GRIDS]
        if unknown:
            raise SystemExit(f"error: unknown grid {unknown[0]!r} (known: {', '.join(GRIDS)})")
        prepare_data(setup, cache)  # once, before the workers start
        if args.jobs > 1:
            base = [sys.executable, "-m", "tastvg.cli", "ablate", *_argv_without_jobs(sys.argv[1:])]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
            procs = [subprocess.Popen(base + ["--jobs", "1"], env=env) for _ in range(args.jobs)]
            codes = [p.wait() for p in procs]
            if any(codes):
                print(f"error: workers exited with {codes}", file=sys.stderr)
                return 1
        else:
            run_grid(args.grids, args.seeds, setup, out, cache, log=lambda s: print(s, flush=True))
    df = write_summary(out, setup.key(), command=command)
    print(format_summary(df))
    return 0


def canonical_command(args: argparse.Namespace) -> str:
    """The ``tastvg ablate`` command line that reproduces ``args`` (for the summary's label)."""
    parts = ["tastvg ablate", "--grids", *args.grids, "--seeds", *map(str, args.seeds), "--out", str(args.out),
             "--preset", args.preset, "--videos", str(args.videos), "--epochs", str(args.epochs),
             "--batch-size", str(args.batch_size), "--data-seed", str(args.data_seed)]
    parts += [f"--knob {k}" for k in args.knob] + ["--jobs", str(args.jobs)]
    return " ".join(parts)


def _argv_without_jobs(argv: list[str]) -> list[str]:
    """This process's arguments minus ``--jobs N`` (and the subcommand name under ``tastvg ablate``)."""
    out, skip = [], False
    if argv[:1] == ["ablate"]:
        argv = argv[1:]
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--jobs":
            skip = True
            continue
        if a.startswith("--jobs="):
            continue
        out.append(a)
    return out
