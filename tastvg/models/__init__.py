"""TA-STVG network modules, one per paper concept; :func:`build_model` assembles them.

- :mod:`~tastvg.models.build`: ``build_model(cfg)`` and the part registries (``BACKBONE2D``,
  ``BACKBONE3D``, ``TEXT_ENCODERS``);
- :mod:`~tastvg.models.tastvg`: :class:`TASTVG`, the assembled model (receives its parts);
- :mod:`~tastvg.models.outputs`: the typed stage outputs (``EncoderOutput``, ``Queries``,
  ``DecoderOutput``, ``Intermediates``) and the naming rule for counts (B, T, N, L, BT);
- :mod:`~tastvg.models.queries`: the query initialisations (``TargetAware``, ``Zero``,
  ``Oracle``) and their registry ``QUERY_INITS``;
- :mod:`~tastvg.models.attention`: attention modules that keep their weights for inspection;
- the parts: ``backbone2d``, ``video_swin``, ``text``, ``encoder``, ``tts``, ``asa``, ``bca``,
  ``decoder``, ``position``; helpers ``checkpointing``, ``pretrained``.

Names are imported lazily (``import tastvg.models.queries`` does not load the encoders).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_LAZY = {
    "TASTVG": "tastvg.models.tastvg",
    "PARAM_GROUPS": "tastvg.models.tastvg",
    "PARAM_GROUP_PREFIXES": "tastvg.models.tastvg",
    "build_model": "tastvg.models.build",
    "BACKBONE2D": "tastvg.models.build",
    "BACKBONE3D": "tastvg.models.build",
    "TEXT_ENCODERS": "tastvg.models.build",
    "QUERY_INITS": "tastvg.models.queries",
    "QueryInit": "tastvg.models.queries",
    "TargetAware": "tastvg.models.queries",
    "Zero": "tastvg.models.queries",
    "Oracle": "tastvg.models.queries",
    "EncoderOutput": "tastvg.models.outputs",
    "Queries": "tastvg.models.outputs",
    "DecoderOutput": "tastvg.models.outputs",
    "Intermediates": "tastvg.models.outputs",
    "PassIntermediates": "tastvg.models.outputs",
}

__all__ = list(_LAZY)

if TYPE_CHECKING:
    from tastvg.models.build import BACKBONE2D, BACKBONE3D, TEXT_ENCODERS, build_model
    from tastvg.models.outputs import DecoderOutput, EncoderOutput, Intermediates, PassIntermediates, Queries
    from tastvg.models.queries import QUERY_INITS, Oracle, QueryInit, TargetAware, Zero
    from tastvg.models.tastvg import PARAM_GROUP_PREFIXES, PARAM_GROUPS, TASTVG


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tastvg.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
