"""SynthSTVG scenes: actors with appearance attributes, motion programs, and the numpy renderer.

An actor is a shape (square, circle, triangle, diamond) with a colour, a size and a texture. Its
motion is a *program*: idle (still, or a slow wander for an actor whose action is "stays still")
except during one action span, where it performs one of 16 actions. :func:`render` turns a
:class:`Scene` into ``uint8 [T, S, S, 3]`` frames and one tight ``xyxy`` box per actor per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

COLOURS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 90, 230), "yellow": (235, 215, 40),
           "purple": (150, 60, 200), "orange": (245, 140, 20), "white": (235, 235, 235)}
SIZES = {"small": 0.075, "big": 0.13}  # radius as a fraction of the frame side
SHAPES = ("square", "circle", "triangle", "diamond")
TEXTURES = ("plain", "striped", "hollow", "dotted")  # "plain" is never said
# Appearance vocabulary (16 ids) and attribute groups, in subject-phrase order.
APPEARANCE = list(SIZES) + [t for t in TEXTURES if t != "plain"] + list(COLOURS) + list(SHAPES)
GROUPS = ("size", "texture", "colour", "shape")
MOTION = ["moves left", "moves right", "moves up", "moves down", "jumps", "bounces", "spins", "wobbles",
          "grows", "shrinks", "blinks", "fades", "shakes", "loops", "zigzags", "stays still"]
BACKGROUND = (40, 40, 48)


@dataclass
class Actor:
    size: str
    texture: str
    colour: str
    shape: str
    action: str
    span: tuple[int, int]  # inclusive frames of the action
    x: float = 0.0  # base centre (pixels), set by place()
    y: float = 0.0
    phase: float = 0.0  # wander phase

    def attribute(self, group: str) -> str:
        return getattr(self, group)


@dataclass
class Scene:
    size: int  # frame side S
    frames: int  # T
    actors: list[Actor]  # actors[target] is the one the sentence describes
    target: int
    specks: list[tuple[float, float, float, tuple[int, int, int]]] = field(default_factory=list)  # clutter
    occluder: tuple[float, float, float] | None = None  # (x at t=0, speed px/frame, width)


def offsets(actor: Actor, t: int, total: int, side: int) -> tuple[float, float, float, float, float]:
    """``(dx, dy, scale, angle, alpha)`` of ``actor`` at frame ``t``: zero motion outside its action
    span, except that translations, growth and shrinking persist after it."""
    s, e = actor.span
    length = max(e - s, 1)
    p = min(max((t - s) / length, 0.0), 1.0)  # phase: 0 before the span, 1 after it
    inside = s <= t <= e
    a, dx, dy, scale, angle, alpha = actor.action, 0.0, 0.0, 1.0, 0.0, 1.0
    travel = 0.35 * side
    if a == "moves left":
        dx = -travel * p
    elif a == "moves right":
        dx = travel * p
    elif a == "moves up":
        dy = -travel * p
    elif a == "moves down":
        dy = travel * p
    elif a == "jumps":
        dy = -0.25 * side * math.sin(math.pi * p)
    elif a == "bounces":
        dy = -0.1 * side * abs(math.sin(3 * math.pi * p))
    elif a == "spins":
        angle = 4 * math.pi * p
    elif a == "wobbles":
        angle = 0.6 * math.sin(4 * math.pi * p)
    elif a == "grows":
        scale = 1 + 0.7 * p
    elif a == "shrinks":
        scale = 1 - 0.45 * p
    elif a == "blinks" and inside:
        alpha = 0.0 if ((t - s) // 2) % 2 else 1.0
    elif a == "fades":
        alpha = 1 - 0.85 * math.sin(math.pi * p)
    elif a == "shakes" and inside:
        dx = 0.05 * side * (1 if (t - s) % 2 else -1)
    elif a == "loops":
        dx = 0.12 * side * math.sin(2 * math.pi * p)
        dy = -0.12 * side * (1 - math.cos(2 * math.pi * p))
    elif a == "zigzags":
        dx = 0.3 * side * p
        dy = 0.08 * side * (1 - abs((4 * p) % 2 - 1) * 2)
    elif a == "stays still":  # wanders everywhere but inside its span (time frozen there)
        tau = min(t, s) + max(t - e, 0)
        dx = 0.1 * side * math.sin(2 * math.pi * 1.5 * tau / total + actor.phase)
        dy = 0.06 * side * math.sin(2 * math.pi * tau / total + actor.phase)
    return dx, dy, scale, angle, alpha


def place(actor: Actor, total: int, side: int, rng: np.random.Generator) -> None:
    """Pick the base centre so that the whole motion stays inside the frame."""
    r = SIZES[actor.size] * side * 1.75  # worst case: grown, rotated
    xs, ys = zip(*[offsets(actor, t, total, side)[:2] for t in range(total)])
    lo_x, hi_x = r - min(xs), side - r - max(xs)
    lo_y, hi_y = r - min(ys), side - r - max(ys)
    actor.x = float(rng.uniform(lo_x, hi_x)) if hi_x > lo_x else (lo_x + hi_x) / 2
    actor.y = float(rng.uniform(lo_y, hi_y)) if hi_y > lo_y else (lo_y + hi_y) / 2


def shape_mask(actor: Actor, t: int, total: int, grid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """Boolean silhouette ``[S, S]``, the texture's dark pixels ``[S, S]`` and alpha at frame ``t``."""
    yy, xx = grid
    side = xx.shape[1]
    dx, dy, scale, angle, alpha = offsets(actor, t, total, side)
    r = SIZES[actor.size] * side * scale
    c, s = math.cos(angle), math.sin(angle)
    u0, v0 = (xx - actor.x - dx) / r, (yy - actor.y - dy) / r
    u, v = c * u0 + s * v0, -s * u0 + c * v0
    if actor.shape == "square":
        inside = np.maximum(np.abs(u), np.abs(v)) <= 0.85
    elif actor.shape == "circle":
        inside = u * u + v * v <= 1.0
    elif actor.shape == "diamond":
        inside = np.abs(u) + np.abs(v) <= 1.1
    else:  # triangle pointing up
        inside = (v <= 0.8) & (v >= 2.0 * np.abs(u) - 1.0)
    if actor.texture == "striped":
        dark = inside & (np.floor((u + 2) * 2.5).astype(int) % 2 == 0)
    elif actor.texture == "hollow":
        dark = inside & (np.maximum(np.abs(u), np.abs(v)) < 0.45) if actor.shape == "square" else inside & (u * u + v * v < 0.2)
    elif actor.texture == "dotted":
        fu, fv = (u * 2.2) % 1 - 0.5, (v * 2.2) % 1 - 0.5
        dark = inside & (fu * fu + fv * fv < 0.07)
    else:
        dark = np.zeros_like(inside)
    return inside, dark, alpha


def render(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``uint8 [T, S, S, 3]`` and boxes ``float32 [A, T, 4]`` (``xyxy`` pixels, exclusive
    right/bottom edges, the silhouette's extent even when the actor is blinked out or occluded)."""
    side, total = scene.size, scene.frames
    grid = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    yy, xx = grid[0], grid[1]
    base = np.empty((side, side, 3), np.float32)
    base[:] = BACKGROUND
    for (sx, sy, sr, col) in scene.specks:
        base[(xx - sx) ** 2 + (yy - sy) ** 2 <= sr * sr] = col
    frames = np.empty((total, side, side, 3), np.uint8)
    boxes = np.zeros((len(scene.actors), total, 4), np.float32)
    for t in range(total):
        img = base.copy()
        for k, actor in enumerate(scene.actors):
            inside, dark, alpha = shape_mask(actor, t, total, (yy, xx))
            rows, cols = np.nonzero(inside.any(1))[0], np.nonzero(inside.any(0))[0]
            if len(rows):
                boxes[k, t] = [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]
            colour = np.array(COLOURS[actor.colour], np.float32)
            paint = np.where(dark[..., None], BACKGROUND if actor.texture == "hollow" else colour * 0.35, colour)
            img[inside] = alpha * paint[inside] + (1 - alpha) * img[inside]
        if scene.occluder is not None:
            x0, speed, width = scene.occluder
            left = x0 + speed * t
            img[:, max(int(left), 0):max(int(left + width), 0)] = (120, 120, 120)
        frames[t] = img.astype(np.uint8)
    return frames, boxes
