"""The per-video outputs a run keeps (``OUT/VARIANT/seedS_detail.json``) and the SynthSTVG videos
they belong to, regenerated from the run's recorded setup (no video files needed).

A detail file maps each test video id (``synth_00150.mp4``) to one entry, ``T`` sampled frames
and an ``h × w`` feature grid:

* ``sentence``; ``frame_ids`` [T] (absolute frame ids); ``gt_frames`` [T] (bool, in the
  ground-truth span);
* ``tts`` [T] TTS relevance ``a_t`` and ``selected`` [T] (the frames that built the queries),
  ``None`` without TTS;
* ``map_app``, ``map_mot`` [T, h·w] ASA's activation maps (``None`` without that branch);
* ``attn_last`` [T, h·w] the last spatial decoder layer's cross-attention on the visual tokens;
* ``tattn_last`` [T, h·w] the last temporal decoder layer's cross-attention on the 3D tokens
  (absent in runs made before it was kept);
* ``feature_hw`` (h, w); ``prediction``: ``t_start``, ``t_end`` and ``boxes`` ``{str(frame): xyxy}``.

The video of an id is ``make_video(data_seed, index, knobs)`` with the index read from the id
(:func:`synth_index`) and ``data_seed``/``knobs`` from the run's ``setup``; its annotation is an
HC-STVG record, read by :func:`tastvg.data.annotations.hcstvg_records` like the runner's data.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Mapping, Optional

from tastvg.experiments.runner import detail_path

_SYNTH_ID = re.compile(r"synth_(\d+)\.mp4")


def load_detail(out: str | Path, variant: str, seed: int) -> Optional[dict[str, dict[str, Any]]]:
    """``{video id: entry}`` of one run (module docstring), or ``None`` when the run kept none."""
    path = detail_path(Path(out), variant, seed)
    return json.loads(path.read_text()) if path.is_file() else None


def synth_index(video_id: str) -> int:
    """The generator index of a SynthSTVG video id: ``"synth_00150.mp4"`` -> 150."""
    m = _SYNTH_ID.fullmatch(Path(video_id).name)
    if m is None:
        raise ValueError(f"not a SynthSTVG video id (synth_<index>.mp4): {video_id!r}")
    return int(m.group(1))


@functools.lru_cache(maxsize=128)
def _make(data_seed: int, index: int, knobs: str) -> Any:
    from tastvg.data.synth import SynthKnobs, make_video

    return make_video(data_seed, index, SynthKnobs(**json.loads(knobs)))


def synth_video(setup: Mapping[str, Any], video_id: str) -> Any:
    """The :class:`~tastvg.data.synth.SynthVideo` of ``video_id`` (frames uint8 [T, S, S, 3] and
    its HC-STVG annotation), regenerated from a run's ``setup`` (``data_seed``, ``knobs``); cached."""
    return _make(int(setup["data_seed"]), synth_index(video_id), json.dumps(dict(setup["knobs"]), sort_keys=True))


def synth_record(video: Any) -> Any:
    """The :class:`~tastvg.data.annotations.STVGRecord` of a SynthSTVG video (its annotation read
    as the runner's data reads it: 0-based span, ``xyxy`` pixel boxes)."""
    from tastvg.data.annotations import hcstvg_records

    return hcstvg_records({video.name: video.annotation}, "<memory>", Path("<memory>"))[0]


def annotation_box(video: Any, frame: int) -> Optional[list[float]]:
    """The ground-truth ``xyxy`` pixel box of ``video`` at absolute ``frame``; ``None`` outside the span."""
    record = synth_record(video)
    return record.box_at(frame) if record.t_start <= frame <= record.t_end else None


def middle_gt_frame(entry: Mapping[str, Any]) -> int:
    """The absolute id of the middle sampled frame in the ground-truth span of a detail entry."""
    gt = [f for f, inside in zip(entry["frame_ids"], entry["gt_frames"]) if inside]
    if not gt:
        raise ValueError("the entry has no sampled frame in the ground-truth span")
    return int(gt[len(gt) // 2])
