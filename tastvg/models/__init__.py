"""TA-STVG network modules, one per paper concept; :func:`build_model` assembles them."""

from tastvg.models.tastvg import TASTVG, build_model

__all__ = ["TASTVG", "build_model"]
