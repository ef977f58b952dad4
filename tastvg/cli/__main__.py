"""``python -m tastvg.cli ...``: the ``tastvg`` command (what ``tastvg ablate --jobs N`` starts its workers with)."""

import sys

from tastvg.cli import main

if __name__ == "__main__":
    sys.exit(main())
