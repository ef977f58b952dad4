"""Writing result files safely: nothing is ever left half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as JSON to a temporary file beside ``path``, then rename it onto ``path``.

    A crash leaves the previous file or the new one, never half of one; the temporary name carries
    the process id, so parallel workers writing the same folder do not collide. Objects JSON does
    not know (paths, numpy scalars) are written as strings.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=1, default=str))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
