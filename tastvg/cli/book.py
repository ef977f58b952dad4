"""The book's chapters: ``tastvg book sync [--check]`` writes every chapter's Colab install cell and badge.

The address comes from ``_config.yml`` (``repository.url``, the one place it is written); the
helpers are :mod:`tastvg.book`. ``--check`` only lists the chapters that are out of date and exits
with status 1 when there are any.
"""

from __future__ import annotations

import argparse

from tastvg.book import repository_branch, repository_url, sync_colab_cells


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["sync"], help="sync: rewrite the install cells and badges from _config.yml")
    parser.add_argument("--check", action="store_true", help="only list chapters that are out of date")


def run(args: argparse.Namespace) -> int:
    changed = sync_colab_cells(repository_url(env=False), write=not args.check, branch=repository_branch())
    for path in changed:
        print(("out of date: " if args.check else "rewrote: ") + str(path))
    return 1 if (args.check and changed) else 0
