"""Data pipeline settings: every size and probability of the official input pipeline as one dataclass.

Defaults are the official values (HC-STVG v1). :meth:`DataConfig.for_dataset` returns the
per-dataset defaults::

    DataConfig.for_dataset("hcstvg")   # fps sampling 3.2 / 6.4 fps, 15 / 60 attributes
    DataConfig.for_dataset("vidstg")   # linspace 64 / 128 frames, 20 / 34 attributes
    DataConfig.for_dataset("synth")    # SynthSTVG: native resolution, all frames, 16 / 16
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

DATASETS = ("hcstvg", "hcstvg2", "vidstg", "synth")
SAMPLINGS = ("fps", "linspace")
EMPTY_GT_CLIP = ("raise", "zeros")


@dataclass
class DataConfig:
    dataset: str = "hcstvg"
    # --- frame sampling (datasets/data_utils.py) ---
    sampling: str = "fps"  # "fps" (HC-STVG) or "linspace" (VidSTG)
    train_fps: float = 3.2  # SAMPLE_FPS; the test clip uses test_density x this rate
    video_seconds: float = 20.0  # HC-STVG assumption: video_fps = frame_count / video_seconds
    drop_last_frame: bool = True  # HC-STVG candidates are 0 .. frame_count-2 (official quirk)
    train_frames: int = 64  # linspace: TRAIN_SAMPLE_NUM
    test_frames: int = 128  # linspace: frames of the (2x-dense) test clip
    test_density: int = 2  # fps sampling: test rate = test_density * train_fps
    split_test_clip: bool = True  # evaluate the dense test clip as even / odd halves (dataset.split_sample)
    temp_crop_prob: float = 0.5  # TEMP_CROP_PROB, train only: HC-STVG crops iff random() >= 1 - p, VidSTG iff < p
    # --- frames and augmentation (load_frames, datasets/transforms.py) ---
    resize_height: Optional[int] = 420  # None: keep the decoded size
    max_width_ratio: float = 1.4  # width = min(int(H * (w / h)), int(H * ratio)); aspect ratio squashed above
    flip_prob: float = 0.7  # FLIP_PROB_TRAIN: frames and boxes (random() drawn for every training sample)
    flip_sentence: bool = False  # official: the swapped text is discarded, the model reads the original
    flip_whole_words: bool = False  # with flip_sentence: official substring swap ("bright" -> "bleft")
    flip_swap_attributes: bool = True  # with flip_sentence: swap attribute ids whose names differ by left/right
    flip_subject: bool = False  # official: the model reads `sub` from the annotation, so it is never flipped
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    # --- attributes (the paper's ASA labels) ---
    app_num: int = 15
    mot_num: int = 60
    # --- robustness ---
    check_frame_count: bool = True  # HC-STVG: the container's frame count must equal img_num (VidSTG: cover the segment)
    skip_bad_videos: bool = False  # True: log a warning, count, and serve another sample instead
    clip_boxes: bool = True  # HC-STVG boxes past the right/bottom edge: clip with a warning (False: error)
    clip_negative_boxes: bool = False  # clip negative x1/y1 to 0 (not official: both loaders keep them)
    strict: bool = False  # VidSTG: raise on the records the official loader silently skips (default: drop, log)
    empty_gt_clip: str = "raise"  # a clip with no sampled frame in the ground truth: "raise" or "zeros"
    vidstg_typos: Optional[str] = None  # typo table file (JSON, or the official datasets/words.py); None: built-in
    removed_videos: list[str] = field(default_factory=lambda: ["10__Gvp-cj3bmIY.mp4", "1_aMYcLyh9OhU.mkv"])

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"DataConfig.dataset: '{self.dataset}' is not one of {DATASETS}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"DataConfig.sampling: '{self.sampling}' is not one of {SAMPLINGS}")
        for name in ("temp_crop_prob", "flip_prob"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"DataConfig.{name}: {p} is not a probability")
        if self.empty_gt_clip not in EMPTY_GT_CLIP:
            raise ValueError(f"DataConfig.empty_gt_clip: '{self.empty_gt_clip}' is not one of {EMPTY_GT_CLIP}")
        if self.test_density < 1 or self.train_frames < 1 or self.test_frames < 1:
            raise ValueError("DataConfig: test_density, train_frames and test_frames must be >= 1")

    @property
    def max_width(self) -> Optional[int]:
        """Width cap of the resize rule: int(420 * 1.4) = 588 for the official setting."""
        return None if self.resize_height is None else int(self.resize_height * self.max_width_ratio)

    @classmethod
    def for_dataset(cls, dataset: str, **overrides: Any) -> "DataConfig":
        """Official defaults of ``dataset`` (see module doc), then ``overrides``."""
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset '{dataset}' (known: {', '.join(DATASETS)})")
        base: dict[str, Any] = {"dataset": dataset}
        if dataset == "vidstg":
            base.update(sampling="linspace", app_num=20, mot_num=34, removed_videos=[])
        elif dataset == "synth":
            # Short synthetic clips: every frame, no resize, no dense test clip.
            # The sentence follows a flip (not official, whose loaders discard the swapped text).
            base.update(sampling="linspace", train_frames=32, test_frames=32, split_test_clip=False,
                        resize_height=None, app_num=16, mot_num=16, removed_videos=[], flip_sentence=True)
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
