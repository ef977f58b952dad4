"""Matplotlib helpers shared by the chapters: boxes and spans, frames back to images, per-frame
scores against the ground-truth span, token layouts, and token maps overlaid on frames.

Imported only by notebooks (``import tastvg`` never imports matplotlib).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.patches as mpatches
import numpy as np
import torch
from matplotlib.axes import Axes

from tastvg.boxes import cxcywh_to_pixels
from tastvg.data.config import DataConfig

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


# ---------------------------------------------------------------- frames, scores, token layouts
IMAGENET_MEAN = tuple(DataConfig().mean)  # the normalisation the data pipeline applies
IMAGENET_STD = tuple(DataConfig().std)


def frames_to_images(frames: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
                     std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """Undo the input normalisation: ``frames`` [T, 3, H, W] (float) -> uint8 ``[T, H, W, 3]``."""
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames_to_images expects [T, 3, H, W], got {tuple(frames.shape)}")
    m = torch.tensor(mean, dtype=frames.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=frames.dtype).view(1, 3, 1, 1)
    img = (frames.detach().cpu() * s + m).clamp(0, 1) * 255
    return img.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def gt_runs(actioness: Sequence[float] | np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of frames with ``actioness > 0.5`` as inclusive ``(first, last)`` index pairs."""
    on = np.asarray(actioness, dtype=float) > 0.5
    runs, start = [], None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        if not v and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(on) - 1))
    return runs


def plot_frame_scores(ax: Axes, scores: Sequence[float] | np.ndarray, actioness: Sequence[float] | np.ndarray,
                      threshold: float | None = None, selected: Sequence[bool] | np.ndarray | None = None,
                      label: str = "score", color: str = "C0", shade: bool = True) -> None:
    """One curve of per-frame ``scores`` [T] over the frame index, with the ground-truth frames
    (``actioness`` [T], 1 = inside the span) shaded green, an optional horizontal ``threshold`` and
    optional markers on the ``selected`` [T] frames (drawn at the bottom of the axis)."""
    scores = np.asarray(scores, dtype=float)
    t = np.arange(len(scores))
    if shade:
        for a, b in gt_runs(actioness):
            ax.axvspan(a - 0.5, b + 0.5, color=GT_COLOR, alpha=0.15, lw=0)
    ax.plot(t, scores, color=color, marker=".", ms=4, lw=1.2, label=label)
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8)
    if selected is not None:
        sel = np.asarray(selected, dtype=bool)
        ax.plot(t[sel], np.full(int(sel.sum()), 0.02), "|", color=color, ms=8, mew=2,
                transform=ax.get_xaxis_transform())
    ax.set_xlim(-0.5, len(scores) - 0.5)
    ax.set_xlabel("frame")


def draw_token_layout(ax: Axes, groups: Sequence[tuple[str, int]], colors: Sequence[str] | None = None,
                      y: float = 0.0, height: float = 0.8) -> None:
    """A horizontal strip of consecutive token groups, e.g. ``[("2D", N), ("text", L), ("3D", N)]``,
    one cell per token, each group labelled with its name and length."""
    start = 0
    for i, (name, n) in enumerate(groups):
        c = colors[i] if colors else f"C{i}"
        for k in range(n):
            ax.add_patch(_cell(start + k, y, height, c))
        ax.text(start + n / 2, y + height / 2, f"{name} ({n})", ha="center", va="center", fontsize=9,
                color="white", fontweight="bold")
        start += n
    ax.set_xlim(0, start)
    ax.set_ylim(y - 0.1, y + height + 0.1)
    ax.set_yticks([])
    ax.set_xlabel("token index")


def _cell(x: float, y: float, h: float, color: str):  # one token of draw_token_layout
    import matplotlib.patches as mpatches

    return mpatches.Rectangle((x, y), 1, h, facecolor=color, edgecolor="white", lw=0.5)


# ---------------------------------------------------------------- token maps and normalised boxes
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


def draw_detail_row(axes: Sequence[Axes], entry: Mapping, image: np.ndarray, frame: int,
                    gt_box: Sequence[float] | None, title: str, sentence: str) -> None:
    """One row of a run's per-video detail (:mod:`tastvg.experiments.details`) at ``frame``: the frame
    with the ground-truth (green) and predicted (orange) boxes, ASA's appearance map over it, and
    TTS relevance over the clip with both spans. ``axes``: three axes; ``image`` [H, W, 3]."""
    frames = np.array(entry["frame_ids"], dtype=int)
    gt = np.array(entry["gt_frames"])
    for ax in axes[:2]:
        ax.imshow(image); ax.set_xticks([]); ax.set_yticks([])
    if gt_box is not None:
        draw_box(axes[0], gt_box, GT_COLOR)
    p = entry["prediction"]
    if p["t_start"] <= frame <= p["t_end"] and str(frame) in p["boxes"]:
        draw_box(axes[0], p["boxes"][str(frame)], PRED_COLOR)
    axes[0].set_title(f"{title}, frame {frame}", fontsize=10)
    if entry["map_app"] is not None:
        hh, ww = entry["feature_hw"]
        m = np.array(entry["map_app"])[list(frames).index(frame)].reshape(hh, ww)
        heat = axes[1].imshow(m, cmap="magma", alpha=0.55, extent=(0, image.shape[1], image.shape[0], 0), vmin=0, vmax=1)
        bar = axes[1].figure.colorbar(heat, ax=axes[1], fraction=0.046, pad=0.03)
        bar.set_label("ASA appearance activation", fontsize=9)
        bar.ax.tick_params(labelsize=9)
        axes[1].set_title("ASA appearance map", fontsize=10)
    else:
        axes[1].set_title("(no ASA in this variant)", fontsize=10)
    ax = axes[2]
    ax.axvspan(frames[gt].min() - 0.5, frames[gt].max() + 0.5, color=GT_COLOR, alpha=0.2, label="GT span")
    ax.axvspan(p["t_start"] - 0.5, p["t_end"] + 0.5, color=PRED_COLOR, alpha=0.15, label="predicted span")
    if entry["tts"] is not None:
        ax.plot(frames, entry["tts"], marker=".", label="TTS relevance")
    ax.axvline(frame, color="black", lw=1)
    ax.set_ylim(0, 1); ax.set_xlabel("frame", fontsize=10); ax.set_ylabel("relevance", fontsize=10)
    ax.tick_params(labelsize=9); ax.legend(fontsize=9, loc="upper right")
    ax.set_title(sentence, fontsize=10)
