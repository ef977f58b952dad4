"""Where the repository's shipped files are, wherever the package is imported from."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TASTVG_DATA_SAMPLES"


def repository_root() -> Path | None:
    """The checkout this package was installed from (editable install or PYTHONPATH), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def data_samples_dir() -> Path:
    """The ``data_samples/`` folder: ``$TASTVG_DATA_SAMPLES`` if set, else the repository's.

    Raises:
        FileNotFoundError: with the fix, when neither exists (e.g. a non-editable pip install).
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise FileNotFoundError(f"${ENV_VAR} points to {path}, which is not a folder")
        return path
    root = repository_root()
    if root is not None and (root / "data_samples").is_dir():
        return root / "data_samples"
    raise FileNotFoundError(
        "data_samples/ not found: install the package from a clone of the repository "
        "(pip install -e .) or set $TASTVG_DATA_SAMPLES to the folder"
    )
