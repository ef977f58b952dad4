"""What the SynthSTVG generator knows about a video, as dense labels for free: every actor's box,
action span and motion state per frame, and the motion state per token cell
(:func:`scene_labels`; read by the diagnosis ladder's probes, :mod:`tastvg.experiments.ladder`, and
by synthetic pretraining, :mod:`tastvg.pretrain`), plus frame differences pooled per cell, the
motion probe's own positive control (:func:`frame_difference_features`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def scene_labels(seed: int, index: int, knobs: Any, grid: tuple[int, int] = (2, 2)) -> dict[str, np.ndarray]:
    """What the generator knows about video ``index`` (as :func:`tastvg.data.synth.make_video`):
    ``in_action`` [A, T] (each actor inside its action span), ``boxes`` [A, T, 4] (``xyxy`` px),
    ``changing`` [A, T] (the actor's pose, size or opacity differs from the previous or the next
    frame: the action-agnostic motion state; "stays still" changes *outside* its span),
    ``target`` (index), ``action`` [A] (motion ids) and ``cell_action`` [T, h*w]: per token cell
    and frame, 1 + the motion id of the actor whose box centre lies in the cell while it is in
    its span, else 0 (the dense motion-state label of synthetic pretraining)."""
    from tastvg.boxes import box_centre_cell, box_xyxy_to_cxcywh
    from tastvg.data.synth import make_scene
    from tastvg.data.synth_scene import MOTION, offsets, render

    scene, _ = make_scene(seed, index, knobs)
    _, boxes = render(scene)
    t_total, side = scene.frames, scene.size
    h, w = grid
    in_action = np.zeros((len(scene.actors), t_total), bool)
    changing = np.zeros((len(scene.actors), t_total), bool)
    cells = np.zeros((t_total, h * w), np.int64)
    for k, actor in enumerate(scene.actors):
        s, e = actor.span
        in_action[k, s:e + 1] = True
        pose = np.array([offsets(actor, t, t_total, side) for t in range(t_total)])  # [T, 5]
        step = np.abs(np.diff(pose, axis=0)).max(1) > 1e-6  # [T-1]: frame t -> t+1 differs
        changing[k, 1:] |= step
        changing[k, :-1] |= step
        centre = box_xyxy_to_cxcywh(torch.from_numpy(boxes[k, s:e + 1])) / side  # [frames, 4] normalised
        cells[np.arange(s, e + 1), box_centre_cell(centre, h, w).numpy()] = 1 + MOTION.index(actor.action)
    return {"in_action": in_action, "changing": changing, "boxes": boxes, "target": np.array(scene.target),
            "action": np.array([MOTION.index(a.action) for a in scene.actors]), "cell_action": cells}


def frame_difference_features(frames: np.ndarray, grid: tuple[int, int] = (2, 2)) -> np.ndarray:
    """The probe's positive control: per frame, the mean absolute difference to the previous and
    the next frame, pooled on a ``grid`` of cells per colour channel. ``frames`` [T, S, S, 3]
    uint8 -> [T, 2 * 3 * h * w] float32. Motion is visible here by construction."""
    f = np.asarray(frames, np.float32) / 255.0
    prev = np.abs(f - np.concatenate([f[:1], f[:-1]]))
    nxt = np.abs(np.concatenate([f[1:], f[-1:]]) - f)
    t, s, _, c = f.shape
    h, w = grid

    def pool(x: np.ndarray) -> np.ndarray:
        return x.reshape(t, h, s // h, w, s // w, c).mean((2, 4)).reshape(t, -1)

    return np.concatenate([pool(prev), pool(nxt)], axis=1)
