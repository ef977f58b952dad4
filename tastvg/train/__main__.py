"""``python -m tastvg.train ...`` (what ``torchrun -m tastvg.train`` runs): same as ``tastvg train``."""

import sys

from tastvg.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
