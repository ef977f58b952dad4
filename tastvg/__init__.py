"""tastvg: TA-STVG (ICLR 2025), the target-aware transformer for spatio-temporal video grounding.

``import tastvg`` is light: heavy pieces (torch models, data loaders) load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first attribute access)
_LAZY = {
    "evaluate": "tastvg.evaluation",
    "build_model": "tastvg.models.tastvg",
    "convert_official_checkpoint": "tastvg.convert",
    "data_samples_dir": "tastvg.paths",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tastvg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
