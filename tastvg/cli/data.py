"""Prepare dataset files.

    tastvg data build-vidstg --vidstg DIR --vidor DIR --out DIR [--splits train test] [--no-progress]

``build-vidstg`` writes ``OUT/annos/{split}.json`` from VidSTG's ``sent_annos/{split}_annotations.json``
(in ``--vidstg`` or its ``sent_annos/``) and VidOR's box files ``<vid>.json`` (in ``--vidor``, also
under ``training/`` / ``validation/``), one record per caption and question, as the official loader
builds them (see ``tastvg.data.vidstg_build``). Spoiled pairs are left out and counted.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    build = sub.add_parser("build-vidstg", help="VidSTG annos/{split}.json from the public VidSTG + VidOR files",
                           description="Build VidSTG annos/{split}.json from sent_annos and VidOR box files.")
    build.add_argument("--vidstg", type=Path, required=True, metavar="DIR",
                       help="folder with sent_annos/{split}_annotations.json (or the files themselves)")
    build.add_argument("--vidor", type=Path, required=True, metavar="DIR", help="folder of VidOR's <vid>.json box files")
    build.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset folder; writes DIR/annos/{split}.json")
    build.add_argument("--splits", nargs="+", default=None, metavar="SPLIT",
                       help="splits to build (default: every *_annotations.json found)")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.data_command != "build-vidstg":
        raise SystemExit("error: give an action: tastvg data build-vidstg --vidstg DIR --vidor DIR --out DIR")
    from tastvg.data.vidstg_build import build_vidstg

    for flag, folder in (("--vidstg", args.vidstg), ("--vidor", args.vidor)):
        if not folder.is_dir():
            raise SystemExit(f"error: {flag} {folder} is not a folder")
    try:
        reports = build_vidstg(args.vidstg, args.vidor, args.out, args.splits, progress=not args.no_progress)
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise SystemExit(f"error: {err}") from None
    for r in reports:
        shown = ", ".join(str(i) for i in list(r.spoiled)[:10]) + (" ..." if len(r.spoiled) > 10 else "")
        print(f"{r.split}: {r.records} records -> {r.path}" + (f"; {len(r.spoiled)} spoiled pair(s) left out: {shown}"
                                                               if r.spoiled else ""))
    return 0
