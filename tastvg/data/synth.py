"""SynthSTVG: generate a procedural STVG benchmark (mp4 videos + HC-STVG-format annotations).

Each video shows several actors (shapes with a size, texture, colour). One sentence describes the
target by a subject phrase that names some of its attributes plus the action it performs only
inside the ground-truth span: ``"the striped red circle jumps"``. Distractors share some of the
named attributes (``--overlap``), one may perform the same action at another time
(``--same-action``), and clutter specks and a sweeping occluder bar make frames harder. The
subject phrase always identifies the target uniquely; ``stats.json`` reports how often no single
named attribute does, i.e. the target is identifiable only by combining attributes.

    tastvg synth --out data/synth --videos 200 --seed 0
    -> videos/synth_00000.mp4 ...  annos/{train,test}.json  vocabulary.json  stats.json

Generation is deterministic: video ``i`` depends only on ``(seed, i)`` and the knobs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from tastvg.data.synth_scene import (APPEARANCE, COLOURS, GROUPS, MOTION, SHAPES, SIZES, TEXTURES, Actor, Scene,
                                     place, render)

GROUP_VALUES = {"size": list(SIZES), "texture": list(TEXTURES), "colour": list(COLOURS), "shape": list(SHAPES)}


@dataclass
class SynthKnobs:
    size: int = 64  # frame side (pixels, even)
    frames: int = 32  # frames per video
    fps: float = 10.0
    distractors: int = 3
    overlap: float = 0.7  # P(a distractor copies the named attributes but one)
    same_action: float = 0.5  # P(one distractor performs the target's action at another time)
    clutter: float = 0.3  # 0..1: density of static background specks
    occlusion: float = 0.2  # P(a grey bar sweeps across the video)


@dataclass
class SynthVideo:
    name: str
    frames: np.ndarray  # uint8 [T, S, S, 3]
    annotation: dict[str, Any]  # one HC-STVG record (plus a "synth" block of generator facts)


def vocabulary() -> dict[str, Any]:
    """The SynthSTVG attribute vocabulary (16 appearance, 16 motion ids) as written to vocabulary.json."""
    return {"appearance": APPEARANCE, "motion": MOTION,
            "groups": {g: [v for v in GROUP_VALUES[g] if v != "plain"] for g in GROUPS}}


def _attributes(rng: np.random.Generator) -> dict[str, str]:
    texture = "plain" if rng.random() < 0.4 else str(rng.choice(TEXTURES[1:]))
    return {"size": str(rng.choice(list(SIZES))), "texture": texture,
            "colour": str(rng.choice(list(COLOURS))), "shape": str(rng.choice(SHAPES))}


def _other(rng: np.random.Generator, group: str, value: str) -> str:
    return str(rng.choice([v for v in GROUP_VALUES[group] if v != value]))


def _span(rng: np.random.Generator, total: int, lo: int, hi: int) -> tuple[int, int]:
    length = int(rng.integers(lo, hi + 1))
    start = int(rng.integers(0, total - length + 1))
    return start, start + length - 1


def _action(rng: np.random.Generator, attrs: dict[str, str], exclude: str = "") -> str:
    while True:
        a = str(rng.choice(MOTION))
        rotation_invisible = attrs["shape"] == "circle" and attrs["texture"] == "plain" and a in ("spins", "wobbles")
        if a != exclude and not rotation_invisible:
            return a


def make_scene(seed: int, index: int, k: SynthKnobs) -> tuple[Scene, dict[str, Any]]:
    """Sample one scene; returns it with the sentence facts (named groups, stats)."""
    rng = np.random.default_rng([seed, index])
    total = k.frames
    target = _attributes(rng)
    adjectives = [g for g in ("size", "texture", "colour") if not (g == "texture" and target[g] == "plain")]
    n_adj = min(len(adjectives), int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15])))
    named = sorted(rng.choice(adjectives, n_adj, replace=False).tolist(), key=GROUPS.index) + ["shape"]
    action = _action(rng, target)
    gt = _span(rng, total, max(3, int(0.3 * total)), max(4, int(0.6 * total)))
    actors = [Actor(**target, action=action, span=gt)]
    same_action = False
    for i in range(k.distractors):
        attrs = _attributes(rng)
        if rng.random() < k.overlap:  # share every named attribute but one
            attrs.update({g: target[g] for g in named})
        if all(attrs[g] == target[g] for g in named):
            g = str(rng.choice(named))
            attrs[g] = _other(rng, g, target[g])
        before, after = gt[0], total - 1 - gt[1]
        if i == 0 and rng.random() < k.same_action and max(before, after) >= 3:
            lo, hi = (0, gt[0] - 1) if before >= after else (gt[1] + 1, total - 1)
            length = int(rng.integers(min(3, hi - lo + 1), hi - lo + 2))
            start = int(rng.integers(lo, hi - length + 2))
            act, span = action, (start, start + length - 1)
            if act in ("spins", "wobbles") and attrs["shape"] == "circle" and attrs["texture"] == "plain":
                attrs["texture"] = "striped" if target["texture"] != "striped" or "texture" not in named else "dotted"
            same_action = True
        else:
            act, span = _action(rng, attrs, exclude=action), _span(rng, total, 3, max(4, int(0.6 * total)))
        actors.append(Actor(**attrs, action=act, span=span))
    for a in actors:
        a.phase = float(rng.uniform(0, 2 * np.pi))
        place(a, total, k.size, rng)
    order = rng.permutation(len(actors))
    actors = [actors[j] for j in order]
    target_index = int(np.nonzero(order == 0)[0][0])
    specks = [(float(rng.uniform(0, k.size)), float(rng.uniform(0, k.size)), float(rng.uniform(0.8, 2.0)),
               COLOURS[str(rng.choice(list(COLOURS)))]) for _ in range(int(round(k.clutter * 20)))]
    occluder = None
    if rng.random() < k.occlusion:
        width = float(rng.uniform(0.08, 0.15) * k.size)
        speed = float(rng.choice([-1, 1]) * (k.size + width) / total)
        occluder = (-width if speed > 0 else float(k.size), speed, width)
    scene = Scene(size=k.size, frames=total, actors=actors, target=target_index, specks=specks, occluder=occluder)
    distractors = [a for j, a in enumerate(actors) if j != target_index]
    unique_alone = [g for g in named if all(d.attribute(g) != target[g] for d in distractors)]
    facts = {"named": named, "target": target, "action": action, "span": gt, "same_action_distractor": same_action,
             "needs_combination": not unique_alone, "unique_alone": unique_alone}
    return scene, facts


def sentence(facts: dict[str, Any]) -> tuple[str, str]:
    """The subject phrase and the caption of a scene's facts: ``("the striped red circle",
    "the striped red circle jumps")``."""
    subject = "the " + " ".join(facts["target"][g] for g in facts["named"])
    return subject, f"{subject} {facts['action']}"


def make_video(seed: int, index: int, k: SynthKnobs) -> SynthVideo:
    """One video: frames plus its HC-STVG annotation record."""
    scene, facts = make_scene(seed, index, k)
    frames, boxes = render(scene)
    t = facts["target"]
    subject, caption = sentence(facts)
    s, e = facts["span"]
    tb = boxes[scene.target, s:e + 1]
    anno = {"width": k.size, "height": k.size, "img_num": k.frames, "st_frame": s + 1,
            "bbox": [[int(x1), int(y1), int(x2 - x1), int(y2 - y1)] for x1, y1, x2, y2 in tb],
            "st_time": round(s / k.fps, 3), "ed_time": round((e + 1) / k.fps, 3),
            "caption": caption, "sub": subject,
            "adj_index_list": [APPEARANCE.index(t[g]) for g in facts["named"]],
            "verb_index_list": [MOTION.index(facts["action"])],
            "synth": {"needs_combination": facts["needs_combination"], "unique_alone": facts["unique_alone"],
                      "same_action_distractor": facts["same_action_distractor"],
                      "target_attributes": t, "actors": [dict(size=a.size, texture=a.texture, colour=a.colour,
                                                               shape=a.shape, action=a.action, span=list(a.span))
                                                          for a in scene.actors], "target_index": scene.target}}
    return SynthVideo(name=f"synth_{index:05d}.mp4", frames=frames, annotation=anno)


def generate(n: int, seed: int = 0, knobs: Optional[SynthKnobs] = None, start: int = 0) -> list[SynthVideo]:
    """``n`` videos in memory (indices ``start .. start+n-1``), for fast training without files."""
    k = knobs or SynthKnobs()
    return [make_video(seed, i, k) for i in range(start, start + n)]


def memory_dataset(n: int, seed: int = 0, train: bool = True, knobs: Optional[SynthKnobs] = None,
                   cfg: Any = None, start: int = 0) -> Any:
    """An :class:`~tastvg.data.dataset.STVGDataset` over ``n`` videos generated in memory (no mp4
    round trip, so frames are exact), e.g. ``memory_dataset(200)`` for training and
    ``memory_dataset(50, start=200, train=False)`` for testing."""
    from tastvg.data.annotations import hcstvg_records
    from tastvg.data.config import DataConfig
    from tastvg.data.dataset import STVGDataset

    videos = generate(n, seed, knobs, start)
    records = hcstvg_records({v.name: v.annotation for v in videos}, "<synth in memory>", Path("<memory>"))
    return STVGDataset(records, cfg or DataConfig.for_dataset("synth"), train=train, seed=seed,
                       app_names=APPEARANCE, mot_names=MOTION, frames={v.name: v.frames for v in videos})


def statistics(videos: list[SynthVideo]) -> dict[str, Any]:
    """Share of videos needing an attribute combination / a time cue, and attribute counts."""
    n = max(len(videos), 1)
    syn = [v.annotation["synth"] for v in videos]
    app = np.zeros(len(APPEARANCE), int)
    mot = np.zeros(len(MOTION), int)
    for v in videos:
        app[v.annotation["adj_index_list"]] += 1
        mot[v.annotation["verb_index_list"]] += 1
    return {"videos": len(videos),
            "needs_combination": sum(s["needs_combination"] for s in syn) / n,
            "same_action_distractor": sum(s["same_action_distractor"] for s in syn) / n,
            "appearance_counts": dict(zip(APPEARANCE, app.tolist())), "motion_counts": dict(zip(MOTION, mot.tolist()))}


def survey(n: int, seed: int = 0, knobs: Optional[SynthKnobs] = None) -> dict[str, Any]:
    """The statistics of :func:`statistics` from scenes alone (no rendering): fast knob sweeps."""
    k = knobs or SynthKnobs()
    facts = [make_scene(seed, i, k)[1] for i in range(n)]
    m = max(n, 1)
    return {"videos": n, "needs_combination": sum(f["needs_combination"] for f in facts) / m,
            "same_action_distractor": sum(f["same_action_distractor"] for f in facts) / m,
            "named_attributes": [len(f["named"]) for f in facts]}


def write_dataset(out: str | Path, n: int, seed: int = 0, knobs: Optional[SynthKnobs] = None,
                  test_fraction: float = 0.25) -> dict[str, Any]:
    """Write ``n`` videos under ``out`` (the last ``round(n * test_fraction)`` form the test split)."""
    from tastvg.data.video import write_video

    out, k = Path(out), knobs or SynthKnobs()
    n_test = int(round(n * test_fraction))
    splits: dict[str, dict[str, Any]] = {"train": {}, "test": {}}
    videos = []
    for i in range(n):
        v = make_video(seed, i, k)
        write_video(out / "videos" / v.name, v.frames, fps=k.fps)
        splits["test" if i >= n - n_test else "train"][v.name] = v.annotation
        videos.append(SynthVideo(v.name, np.empty(0, np.uint8), v.annotation))
    (out / "annos").mkdir(parents=True, exist_ok=True)
    for split, data in splits.items():
        (out / "annos" / f"{split}.json").write_text(json.dumps(data, indent=None, separators=(",", ":")))
    (out / "vocabulary.json").write_text(json.dumps(vocabulary(), indent=1))
    stats = statistics(videos) | {"seed": seed, "knobs": asdict(k), "train": n - n_test, "test": n_test}
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats
