"""Build VidSTG ``annos/{split}.json`` from the public files, as the official loader does when the
authors' ``data.tar`` is missing (``VidSTGDataset.make_data_pairs`` in ``datasets/vidstg.py`` of
HengLan/TA-STVG @ 904ad0c).

Inputs: VidSTG's ``sent_annos/{split}_annotations.json`` (a list, one entry per video segment with
``vid``, ``frame_count`` (the video's), ``fps``, ``width``, ``height``, ``used_segment``,
``temporal_gt``, ``subject/objects``, ``captions``, ``questions``) and VidOR's ``<vid>.json``
(``trajectories[frame] = [{tid, bbox}, ...]``). Output: one record per caption (``qtype="declar"``)
and per question (``"inter"``), numbered in that order across the split::

    frame_count   used_segment length            temp_gt   temporal_gt - used_segment.begin_fid,
    ori_temp_gt   temporal_gt (absolute)                   end clipped to frame_count - 1
    target_bboxs  the target's box in frames temporal_gt.begin_fid .. min(end_fid, video frames - 1);
                  missing in the last of them: the previous box is copied; missing elsewhere: spoiled

Deviation: the official code writes spoiled pairs with an empty box and then fails on them when it
reads the file; here they are left out (their ids stay unused, so every other id is the official one
and matches the authors' ``sub`` / attribute labels). A target missing from the only GT frame (the
official copy fails) and a trajectory list shorter than the span are spoiled too. The typo cleaning
happens when the file is read (:mod:`tastvg.data.vidstg`), as officially.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from tqdm.auto import tqdm

from tastvg.io import write_json_atomic

VIDOR_SUBDIRS = ("", "training", "validation")


@dataclass
class SplitReport:
    """What :func:`build_split` wrote: the file, the records, and the spoiled ids with reasons."""

    split: str
    path: Path
    records: int
    spoiled: dict[int, str] = field(default_factory=dict)


def find_sentence_files(vidstg_dir: Path, splits: Optional[Iterable[str]] = None) -> dict[str, Path]:
    """``{split: path}`` of ``{split}_annotations.json`` in ``vidstg_dir/sent_annos`` or ``vidstg_dir``."""
    folder = vidstg_dir / "sent_annos" if (vidstg_dir / "sent_annos").is_dir() else vidstg_dir
    found = {p.name[:-len("_annotations.json")]: p for p in sorted(folder.glob("*_annotations.json"))}
    if splits is not None:
        missing = [s for s in splits if s not in found]
        if missing:
            raise FileNotFoundError(f"{folder}: no {missing[0]}_annotations.json")
        found = {s: found[s] for s in splits}
    if not found:
        raise FileNotFoundError(f"{folder}: no VidSTG sentence file (*_annotations.json)")
    return found


def vidor_file(vidor_dir: Path, vid: str) -> Path:
    """VidOR's box file of ``vid`` (``0000/2401075277``): ``<vid>.json`` directly, under
    ``training/`` or ``validation/`` (VidOR's release), or flat by its base name (the official merge)."""
    candidates = [vidor_dir / sub / f"{vid}.json" for sub in VIDOR_SUBDIRS]
    candidates.append(vidor_dir / f"{Path(vid).name}.json")
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"VidOR box file of video '{vid}' not found under {vidor_dir} "
                            f"(tried {', '.join(str(p.relative_to(vidor_dir)) for p in candidates)})")


def _target_box(frame: Iterable[Mapping[str, Any]], tid: Any) -> Optional[dict[str, Any]]:
    for entry in frame:
        if entry.get("tid") == tid:
            return entry["bbox"]
    return None


def target_boxes(trajectories: list[Any], tid: Any, begin: int, end: int) -> tuple[list[dict[str, Any]], Optional[str]]:
    """Boxes of ``tid`` for frames ``begin .. end - 1`` and why the pair is spoiled (None: it is not)."""
    boxes: list[dict[str, Any]] = []
    if end > len(trajectories):
        return boxes, f"the box file has {len(trajectories)} frames, the span needs frame {end - 1}"
    for idx in range(begin, end):
        box = _target_box(trajectories[idx], tid)
        if box is not None:
            boxes.append(box)
        elif idx == end - 1 and boxes:
            boxes.append(dict(boxes[-1]))  # the official last-frame copy
        else:
            return boxes, f"target {tid} has no box in frame {idx}"
    return boxes, None


def _base_record(entry: Mapping[str, Any]) -> dict[str, Any]:
    seg, gt = entry["used_segment"], entry["temporal_gt"]
    n = seg["end_fid"] - seg["begin_fid"] + 1
    rel = copy.deepcopy(gt)
    rel["begin_fid"] = gt["begin_fid"] - seg["begin_fid"]
    rel["end_fid"] = min(n - 1, gt["end_fid"] - seg["begin_fid"])
    return {"vid": entry["vid"], "fps": entry["fps"], "used_segment": seg, "width": entry["width"],
            "height": entry["height"], "ori_temp_gt": copy.deepcopy(gt), "frame_count": n, "temp_gt": rel}


def _category(entry: Mapping[str, Any], tid: Any, where: str) -> Any:
    for obj in entry.get("subject/objects", []):
        if obj.get("tid") == tid:
            return obj.get("category")
    raise ValueError(f"{where}: target_id {tid} is not in subject/objects")


def split_records(entries: list[Mapping[str, Any]], vidor_dir: Path, source: str = "",
                  progress: bool = True) -> tuple[dict[str, dict[str, Any]], dict[int, str]]:
    """Records keyed by ``str(id)`` in the official order, and ``{id: reason}`` of the spoiled pairs."""
    records: dict[str, dict[str, Any]] = {}
    spoiled: dict[int, str] = {}
    count, cached = 0, ("", None)
    for entry in tqdm(entries, desc=f"build {Path(source).name or 'VidSTG'}", disable=not progress or None):
        where = f"{source}: video '{entry.get('vid')}'"
        try:
            base = _base_record(entry)
            gt, n_video = entry["temporal_gt"], entry["frame_count"]
        except KeyError as err:
            raise ValueError(f"{where}: missing field {err}") from None
        if cached[0] != entry["vid"]:
            path = vidor_file(vidor_dir, entry["vid"])
            cached = (entry["vid"], json.loads(path.read_text())["trajectories"])
        for kind, qtype in (("captions", "declar"), ("questions", "inter")):
            for sentence in entry.get(kind, []):
                tid = sentence["target_id"]
                rec = dict(copy.deepcopy(base), id=count, qtype=qtype, sentence=sentence,
                           target_category=_category(entry, tid, where))
                boxes, problem = target_boxes(cached[1], tid, gt["begin_fid"], min(gt["end_fid"] + 1, n_video))
                if problem is None:
                    records[str(count)] = dict(rec, target_bboxs=boxes)
                else:
                    spoiled[count] = problem
                count += 1
    return records, spoiled


def build_split(sentence_file: Path, vidor_dir: Path, out_file: Path, progress: bool = True) -> SplitReport:
    """Read one ``{split}_annotations.json``, write ``out_file`` (``annos/{split}.json``)."""
    entries = json.loads(Path(sentence_file).read_text())
    if not isinstance(entries, list):
        raise ValueError(f"{sentence_file}: expected a list of video entries, got {type(entries).__name__}")
    records, spoiled = split_records(entries, Path(vidor_dir), str(sentence_file), progress)
    write_json_atomic(out_file, records)
    split = Path(sentence_file).name[:-len("_annotations.json")]
    return SplitReport(split, Path(out_file), len(records), spoiled)


def build_vidstg(vidstg_dir: str | Path, vidor_dir: str | Path, out_dir: str | Path,
                 splits: Optional[Iterable[str]] = None, progress: bool = True) -> list[SplitReport]:
    """Every split found in ``vidstg_dir`` -> ``out_dir/annos/{split}.json``."""
    files = find_sentence_files(Path(vidstg_dir), splits)
    return [build_split(path, Path(vidor_dir), Path(out_dir) / "annos" / f"{split}.json", progress)
            for split, path in files.items()]
