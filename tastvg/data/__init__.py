"""Data: HC-STVG / VidSTG formats, frame sampling, PyAV decoding, transforms, collate, the
attribute vocabulary and labeler, and the SynthSTVG generator.

Importing this package is cheap; submodules load on first use::

    from tastvg.data import DataConfig, build_dataset, collate_stvg
    ds = build_dataset("synth", data_samples_dir() / "synth", "train")
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataConfig": "config",
    "STVGRecord": "annotations", "AnnotationError": "annotations", "load_hcstvg": "annotations",
    "load_vidstg": "annotations", "ground_truth": "annotations", "clean_vidstg_sentence": "annotations",
    "sample_frame_ids": "sampling", "split_interleaved": "sampling",
    "VideoError": "video", "read_frames": "video", "write_video": "video",
    "STVGDataset": "dataset", "build_dataset": "dataset", "load_records": "dataset", "split_sample": "dataset",
    "collate_stvg": "collate", "Collator": "collate",
    "AttributeLabeler": "attributes", "AttributeVocabulary": "attributes",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tastvg.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tastvg.data' has no attribute '{name}'")
