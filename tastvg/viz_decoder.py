"""Matplotlib helpers for the ASA and decoder chapters: token maps overlaid on frames and
normalised (cx, cy, w, h) boxes drawn in pixels.

Imported only by notebooks (``import tastvg`` never imports matplotlib). Frames back to images:
:func:`tastvg.viz_model.frames_to_images`; pixel ``[x1, y1, x2, y2]`` boxes: :func:`tastvg.viz.draw_box`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from tastvg.viz import GT_COLOR, draw_box


def cxcywh_to_pixels(box: Sequence[float], width: float, height: float) -> list[float]:
    """Normalised ``(cx, cy, w, h)`` -> pixel ``[x1, y1, x2, y2]`` on a ``width x height`` image."""
    cx, cy, w, h = (float(v) for v in box)
    return [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]


def overlay_token_map(ax: Axes, image: np.ndarray, token_map: np.ndarray | Sequence[float], grid: tuple[int, int],
                      box: Sequence[float] | None = None, cmap: str = "magma", alpha: float = 0.55,
                      title: str | None = None, vmin: float = 0.0, vmax: float = 1.0):
    """Show ``image`` [H, W, 3] with a per-token map (``h*w`` values, row-major, or ``[h, w]``)
    stretched over it, one flat cell per token (no smoothing: what the model sees is a grid).

    ``box``: an optional normalised (cx, cy, w, h) ground-truth box drawn in green. Returns the
    image artist of the map (for a colour bar).
    """
    h, w = grid
    values = np.asarray(token_map, dtype=float).reshape(h, w)
    height, width = image.shape[:2]
    ax.imshow(image, extent=(0, width, height, 0))
    art = ax.imshow(values, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax, interpolation="nearest",
                    extent=(0, width, height, 0))
    for k in range(1, w):  # token grid lines
        ax.axvline(k * width / w, color="white", lw=0.4, alpha=0.6)
    for k in range(1, h):
        ax.axhline(k * height / h, color="white", lw=0.4, alpha=0.6)
    if box is not None:
        draw_box(ax, cxcywh_to_pixels(box, width, height), color=GT_COLOR, lw=1.5)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
    return art


def draw_norm_box(ax: Axes, box: Sequence[float], width: float, height: float, color: str, label: str | None = None,
                  lw: float = 1.5, ls: str = "-"):
    """Draw a normalised (cx, cy, w, h) box on an image axis of ``width x height`` pixels."""
    rect = draw_box(ax, cxcywh_to_pixels(box, width, height), color=color, label=label, lw=lw)
    rect.set_linestyle(ls)
    return rect
