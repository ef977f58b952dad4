"""Writing result files safely: nothing is ever left half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path`` (named with the process id), then rename
    it onto ``path``: a crash leaves the previous file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as JSON atomically (a temporary file beside ``path``, then a rename).

    Objects JSON does not know (paths, numpy scalars) are written as strings; see
    :func:`write_text_atomic`.
    """
    return write_text_atomic(path, json.dumps(data, indent=1, default=str))
