"""``python -m tastvg.train ...`` (what ``torchrun -m tastvg.train`` runs): same as ``tastvg train``."""

import argparse
import sys

from tastvg.train.cli import add_arguments, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tastvg.train", description="Train TA-STVG.")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
