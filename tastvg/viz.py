"""Small matplotlib helpers shared by the chapters: boxes, tubes and spans.

Imported only by notebooks (``import tastvg`` never imports matplotlib).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.patches as mpatches
from matplotlib.axes import Axes

GT_COLOR = "#2ca02c"    # ground truth: green
PRED_COLOR = "#ff7f0e"  # prediction: orange


def draw_box(ax: Axes, box: Sequence[float], color: str = GT_COLOR, label: str | None = None,
             fill_alpha: float = 0.0, lw: float = 2.0) -> mpatches.Rectangle:
    """Draw one ``[x1, y1, x2, y2]`` pixel box on an image axis (y grows downwards)."""
    x1, y1, x2, y2 = box
    rect = mpatches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=fill_alpha > 0, lw=lw,
                              edgecolor=color, facecolor=color if fill_alpha > 0 else "none",
                              alpha=1.0 if fill_alpha == 0 else fill_alpha, label=label)
    ax.add_patch(rect)
    return rect


def draw_spans(ax: Axes, spans: Mapping[str, tuple[float, float]], colors: Mapping[str, str] | None = None,
               n_frames: int | None = None) -> None:
    """Draw named spans as horizontal bars over a frame axis, from their first to last frame.

    ``spans`` maps a label to ``(start, end)``; the bar covers ``[start, end]`` as drawn.
    """
    colors = dict(colors or {})
    for row, (name, (start, end)) in enumerate(spans.items()):
        ax.barh(row, end - start, left=start, height=0.5, color=colors.get(name, f"C{row}"), alpha=0.85)
        ax.text(end, row, f"  [{start:g}, {end:g}]", va="center", fontsize=9)
    ax.set_yticks(range(len(spans)), list(spans))
    ax.invert_yaxis()
    ax.set_xlabel("frame id")
    if n_frames is not None:
        ax.set_xlim(0, n_frames)


def blank_frame(ax: Axes, width: int, height: int, title: str | None = None) -> None:
    """Set up an image-like axis of ``width x height`` pixels (origin top-left), without an image."""
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f2f2f2")
    if title:
        ax.set_title(title, fontsize=9)
