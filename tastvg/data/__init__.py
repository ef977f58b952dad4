"""Data: HC-STVG / VidSTG formats, frame sampling, PyAV decoding, transforms, collate, the
attribute vocabulary and labeler, and the SynthSTVG generator.

Importing this package is cheap; submodules load on first use::

    from tastvg.data import DataConfig, build_dataset, collate_stvg
    ds = build_dataset("synth", data_samples_dir() / "synth", "train")

Every record the official loaders (HengLan/TA-STVG @ 904ad0c, ``datasets/hcstvg.py``,
``datasets/vidstg.py``, ``datasets/data_utils.py``) accept gives the same frame ids, actioness,
ground truth, boxes, sizes, test sub-clips and, for the same Python ``random`` state, crop windows.
The remaining deviations, each where the official code fails or stays silent:

=========================================  ==========================================  ===========================================
official behaviour                         ours                                        why
=========================================  ==========================================  ===========================================
HC-STVG box past the right/bottom edge:    clipped to the frame, one warning per file  the real v2 files have such boxes;
assertion, the dataset is not built        (``clip_boxes=False``: AnnotationError)     ``min(x + w, W)`` is the official formula
HC-STVG ``ed_frame``: never read           never read; one warning per file when it    the span follows ``len(bbox)`` either way
                                           disagrees with ``st_frame + len(bbox) - 1``
box with ``x2 < x1`` or ``y2 < y1``:       AnnotationError naming record and field     the official GIoU loss asserts on it later
kept at construction
empty sentence (after VidSTG cleaning):    AnnotationError                             the text encoder needs a word
kept
record with a span outside the video, GT   AnnotationError naming file, record, field  the official construction fails (assertion
only on an HC-STVG video's last frame,                                                 or ``IndexError``) on the whole split
inconsistent VidSTG ``temp_gt``, empty
VidSTG box dict
VidSTG records with a box-count mismatch   dropped too, one log line per file with     silent drops hide data loss;
or a GT outside the segment: silently      the count and the ids (``strict=True``:     ``strict`` for curated files
skipped                                    AnnotationError)
clip without a GT frame: ``IndexError``    ``EmptyClipError`` naming the sample        a clear message instead of a crash deep in
in ``__getitem__``                         (``empty_gt_clip="zeros"``: zero actioness)  the loader; "zeros" keeps a run going
VidSTG crop whose ``linspace`` misses a    the uncropped clip, no extra random draw    the official sample fails; every other crop
short GT: ``IndexError``                                                               is drawn exactly as officially
HC-STVG video that fails to decode: an     ``VideoError`` naming file and sample       a blank clip silently corrupts training
all-ones dummy clip                        (``skip_bad_videos``: skip and count)
video length: never checked                HC-STVG: must equal ``img_num``; VidSTG:    a mismatch means boxes on the wrong frames
                                           must cover ``used_segment``
                                           (``check_frame_count=False``: off)
VidSTG builder writes spoiled pairs,       spoiled pairs left out, their ids unused    the official file cannot be loaded; the ids
then fails to load them                    (``tastvg data build-vidstg``)              stay those of the authors' labels
VidSTG typo table (168 entries)            a few of its entries; ``vidstg_typos``       the table is the authors' data; point
                                           reads the official ``datasets/words.py``     ``vidstg_typos`` at it for exact sentences
=========================================  ==========================================  ===========================================

Switches that are not official and off by default: ``clip_negative_boxes`` (the old clipping of
negative coordinates), ``flip_sentence`` (swap "left"/"right" in the text on a flip; the official
loaders compute the swapped text and return the original one; SynthSTVG turns it on).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataConfig": "config",
    "STVGRecord": "annotations", "AnnotationError": "annotations", "load_hcstvg": "annotations",
    "ground_truth": "annotations",
    "load_vidstg": "vidstg", "clean_vidstg_sentence": "vidstg", "read_typo_table": "vidstg",
    "build_vidstg": "vidstg_build",
    "sample_frame_ids": "sampling", "split_interleaved": "sampling",
    "VideoError": "video", "read_frames": "video", "write_video": "video",
    "STVGDataset": "dataset", "build_dataset": "dataset", "load_records": "dataset", "split_sample": "dataset",
    "EmptyClipError": "dataset",
    "collate_stvg": "collate", "Collator": "collate",
    "AttributeLabeler": "attributes", "AttributeVocabulary": "attributes",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tastvg.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tastvg.data' has no attribute '{name}'")
