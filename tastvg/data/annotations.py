"""HC-STVG (v1, v2) and VidSTG annotation files -> validated :class:`STVGRecord` lists (spec §6).

Both formats become one normalised record: 0-based *inclusive* ground-truth span, one ``xyxy``
pixel box per ground-truth frame, frame size and count, the sentence, and the TA-STVG fields
``sub`` / ``adj_index_list`` / ``verb_index_list`` when the file has them.

Validation is strict: a malformed record raises :class:`AnnotationError` naming the file, the
record id and the field. One exception, as in the real HC-STVG v2 files (HC-STVG issue #18): a
box that sticks out of the frame (negative or too large coordinates) is clipped to the frame and
a single warning per file counts such boxes. A box with negative size, or nothing left inside
the frame after clipping, is an error.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

# A few typo fixes in the spirit of the official VidSTG table (datasets/words.py, 168 entries, not
# reproduced). Pass your own table to load_vidstg(typos=...).
VIDSTG_TYPOS: dict[str, str] = {"next_to": "next to", "infront": "in front", "grey": "gray", "colour": "color"}


class AnnotationError(ValueError):
    """A malformed annotation record; ``file``, ``record`` and ``field`` say where."""

    def __init__(self, file: str | Path, record: str, field: str, problem: str) -> None:
        self.file, self.record, self.field = str(file), str(record), field
        super().__init__(f"{file}: record '{record}', field '{field}': {problem}")


@dataclass
class STVGRecord:
    """One sentence grounded in one video. Frame ids are 0-based absolute ids of the video.

    ``boxes`` holds one ``[x1, y1, x2, y2]`` pixel box per frame ``t_start .. t_end`` (inclusive),
    so ``len(boxes) == t_end - t_start + 1``. ``segment`` is the inclusive range of frames the
    sampler may use (HC-STVG: the whole video; VidSTG: ``used_segment``).
    """

    item_id: str  # unique key: HC-STVG video file name, VidSTG sentence-pair id
    video_id: str
    video_path: Path
    sentence: str
    t_start: int
    t_end: int
    boxes: list[list[float]]
    width: int
    height: int
    frame_count: int
    segment: tuple[int, int]
    fps: Optional[float] = None
    qtype: Optional[str] = None
    subject: Optional[str] = None
    app_ids: Optional[list[int]] = None
    mot_ids: Optional[list[int]] = None
    source: str = ""  # annotation file, for error messages
    extra: dict[str, Any] = field(default_factory=dict)

    def box_at(self, frame_id: int) -> list[float]:
        return self.boxes[frame_id - self.t_start]


# ----------------------------------------------------------------------------------------------
def _need(rec: Mapping[str, Any], key: str | tuple[str, ...], file: Path, rid: str) -> Any:
    keys = (key,) if isinstance(key, str) else key
    for k in keys:
        if k in rec:
            return rec[k]
    raise AnnotationError(file, rid, " or ".join(keys), "missing")


def _int(value: Any, file: Path, rid: str, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise AnnotationError(file, rid, name, f"expected an integer, got {value!r}")
    if value < minimum:
        raise AnnotationError(file, rid, name, f"{value} is below {minimum}")
    return int(value)


def _sentence(value: Any, file: Path, rid: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnnotationError(file, rid, name, f"empty or not a string: {value!r}")
    return value.strip()


class _BoxChecker:
    """Checks and clips xyxy boxes; counts clipped boxes for one warning per file."""

    def __init__(self, file: Path, clip: bool) -> None:
        self.file, self.clip, self.clipped, self.examples = file, clip, 0, []

    def __call__(self, box: Iterable[Any], rid: str, name: str, width: int, height: int) -> list[float]:
        try:
            x1, y1, x2, y2 = (float(v) for v in box)
        except (TypeError, ValueError):
            raise AnnotationError(self.file, rid, name, f"expected four numbers, got {box!r}") from None
        if not all(v == v and abs(v) != float("inf") for v in (x1, y1, x2, y2)):
            raise AnnotationError(self.file, rid, name, f"non-finite coordinate in {box!r}")
        if x2 < x1 or y2 < y1:
            raise AnnotationError(self.file, rid, name, f"negative box size: {[x1, y1, x2, y2]}")
        c = [min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
        if c != [x1, y1, x2, y2]:
            if not self.clip:
                raise AnnotationError(self.file, rid, name, f"box {[x1, y1, x2, y2]} is outside the {width}x{height} frame")
            if c[2] <= c[0] or c[3] <= c[1]:
                raise AnnotationError(self.file, rid, name, f"box {[x1, y1, x2, y2]} lies entirely outside the {width}x{height} frame")
            self.clipped += 1
            if len(self.examples) < 3:
                self.examples.append(f"{rid}:{name}")
        return c

    def report(self) -> None:
        if self.clipped:
            warnings.warn(f"{self.file}: clipped {self.clipped} out-of-frame box(es) to the frame "
                          f"(e.g. {', '.join(self.examples)})", stacklevel=3)


def _attributes(rec: Mapping[str, Any], file: Path, rid: str) -> tuple[Optional[str], Optional[list[int]], Optional[list[int]]]:
    sub = rec.get("sub")
    if sub is not None and not isinstance(sub, str):
        raise AnnotationError(file, rid, "sub", f"expected a string, got {sub!r}")
    lists = []
    for key in ("adj_index_list", "verb_index_list"):
        ids = rec.get(key)
        if ids is not None:
            if not isinstance(ids, list):
                raise AnnotationError(file, rid, key, f"expected a list of integers, got {ids!r}")
            ids = [_int(i, file, rid, key) for i in ids]
        lists.append(ids)
    return sub, lists[0], lists[1]


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path) as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as err:
            raise AnnotationError(path, "-", "-", f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise AnnotationError(path, "-", "-", f"expected a JSON object keyed by id, got {type(data).__name__}")
    return data


# ----------------------------------------------------------------------------------------------
def parse_hcstvg_record(rid: str, rec: Mapping[str, Any], file: Path, video_dir: Path, check: _BoxChecker) -> STVGRecord:
    """One HC-STVG entry (v1 field names, or v2's ``img_size`` [h, w] / ``English``)."""
    if not isinstance(rec, Mapping):
        raise AnnotationError(file, rid, "-", f"expected an object, got {type(rec).__name__}")
    if "width" in rec or "height" in rec or "img_size" not in rec:
        width = _int(_need(rec, "width", file, rid), file, rid, "width", 1)
        height = _int(_need(rec, "height", file, rid), file, rid, "height", 1)
    else:
        size = rec["img_size"]
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise AnnotationError(file, rid, "img_size", f"expected [height, width], got {size!r}")
        height, width = (_int(v, file, rid, "img_size", 1) for v in size)
    n = _int(_need(rec, "img_num", file, rid), file, rid, "img_num", 1)
    st = _int(_need(rec, "st_frame", file, rid), file, rid, "st_frame", 1)  # 1-based
    raw = _need(rec, "bbox", file, rid)
    if not isinstance(raw, list) or not raw:
        raise AnnotationError(file, rid, "bbox", "expected a non-empty list of [x, y, w, h]")
    t_start, t_end = st - 1, st - 1 + len(raw) - 1
    if "ed_frame" in rec:
        ed = _int(rec["ed_frame"], file, rid, "ed_frame", 1)
        if ed - st + 1 != len(raw):
            raise AnnotationError(file, rid, "bbox", f"{len(raw)} boxes for the span st_frame={st}..ed_frame={ed} "
                                  f"({ed - st + 1} frames)")
    if t_end > n - 1:
        raise AnnotationError(file, rid, "st_frame", f"span {t_start}..{t_end} (0-based, {len(raw)} boxes) "
                              f"ends after the last frame {n - 1} (img_num={n})")
    boxes = []
    for i, b in enumerate(raw):
        if not isinstance(b, (list, tuple)) or len(b) != 4:
            raise AnnotationError(file, rid, f"bbox[{i}]", f"expected [x, y, w, h], got {b!r}")
        x, y, w, h = b
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b):
            raise AnnotationError(file, rid, f"bbox[{i}]", f"expected four numbers, got {b!r}")
        boxes.append(check([x, y, x + w, y + h], rid, f"bbox[{i}]", width, height))
    sentence = _sentence(_need(rec, ("caption", "English"), file, rid), file, rid, "caption").lower()
    sub, app, mot = _attributes(rec, file, rid)
    return STVGRecord(item_id=rid, video_id=rid, video_path=video_dir / rid, sentence=sentence,
                      t_start=t_start, t_end=t_end, boxes=boxes, width=width, height=height, frame_count=n,
                      segment=(0, n - 1), fps=None, qtype=None, subject=sub, app_ids=app, mot_ids=mot,
                      source=str(file))


def load_hcstvg(anno_file: str | Path, video_dir: str | Path, clip_boxes: bool = True,
                removed: Iterable[str] = ()) -> list[STVGRecord]:
    """Read ``annos/{train,test}.json`` of HC-STVG v1 or v2; records sorted by video name.

    Args:
        anno_file: a dict keyed by video file name (spec §6.2).
        video_dir: folder of the videos (``v1_video`` / ``v2_video``).
        clip_boxes: clip out-of-frame boxes with a warning (True) or raise (False).
        removed: video names to drop (the official loader hard-removes two broken v1 videos).
    """
    file = Path(anno_file)
    return hcstvg_records(_load_json(file), file, video_dir, clip_boxes, removed)


def hcstvg_records(data: Mapping[str, Any], source: str | Path, video_dir: str | Path, clip_boxes: bool = True,
                   removed: Iterable[str] = ()) -> list[STVGRecord]:
    """HC-STVG records from an already loaded dict (``source`` names it in errors)."""
    file, drop = Path(source), set(removed)
    check = _BoxChecker(file, clip_boxes)
    records = [parse_hcstvg_record(str(k), data[k], file, Path(video_dir), check) for k in sorted(data) if k not in drop]
    check.report()
    return records


# ----------------------------------------------------------------------------------------------
def clean_vidstg_sentence(text: str, typos: Mapping[str, str] = VIDSTG_TYPOS) -> str:
    """Official VidSTG cleaning: lower-case, split on non-word characters, drop tokens without a
    letter, replace typos, join with single spaces. ``"A man, next_to 2 dogs!"`` -> ``"a man next to dogs"``."""
    tokens = [t for t in re.split(r"\W+", text.lower()) if re.search(r"[a-z]", t)]
    return " ".join(typos.get(t, t) for t in tokens)


def _fid_pair(rec: Mapping[str, Any], key: str, file: Path, rid: str) -> tuple[int, int]:
    seg = _need(rec, key, file, rid)
    if not isinstance(seg, Mapping):
        raise AnnotationError(file, rid, key, f"expected {{begin_fid, end_fid}}, got {seg!r}")
    b = _int(_need(seg, "begin_fid", file, rid), file, rid, f"{key}.begin_fid")
    e = _int(_need(seg, "end_fid", file, rid), file, rid, f"{key}.end_fid")
    if e < b:
        raise AnnotationError(file, rid, key, f"end_fid {e} < begin_fid {b}")
    return b, e


def parse_vidstg_record(rid: str, rec: Mapping[str, Any], file: Path, video_dir: Path, check: _BoxChecker,
                        typos: Mapping[str, str]) -> STVGRecord:
    if not isinstance(rec, Mapping):
        raise AnnotationError(file, rid, "-", f"expected an object, got {type(rec).__name__}")
    vid = _need(rec, "vid", file, rid)
    if not isinstance(vid, str) or not vid:
        raise AnnotationError(file, rid, "vid", f"expected a video id, got {vid!r}")
    width = _int(_need(rec, "width", file, rid), file, rid, "width", 1)
    height = _int(_need(rec, "height", file, rid), file, rid, "height", 1)
    n = _int(_need(rec, "frame_count", file, rid), file, rid, "frame_count", 1)
    seg_b, seg_e = _fid_pair(rec, "used_segment", file, rid)
    seg_e = min(seg_e, n - 1)
    if seg_b > seg_e:
        raise AnnotationError(file, rid, "used_segment", f"starts at {seg_b}, after the last frame {n - 1}")
    gt_b, gt_e = _fid_pair(rec, "ori_temp_gt", file, rid)
    gt_e = min(gt_e, seg_e)
    if not seg_b <= gt_b <= gt_e:
        raise AnnotationError(file, rid, "ori_temp_gt", f"span {gt_b}..{gt_e} is outside the used segment {seg_b}..{seg_e}")
    raw = _need(rec, "target_bboxs", file, rid)
    if not isinstance(raw, list) or len(raw) != gt_e - gt_b + 1:
        got = len(raw) if isinstance(raw, list) else repr(raw)
        raise AnnotationError(file, rid, "target_bboxs", f"{got} boxes for the {gt_e - gt_b + 1}-frame span {gt_b}..{gt_e}")
    boxes = []
    for i, b in enumerate(raw):
        if not isinstance(b, Mapping):
            raise AnnotationError(file, rid, f"target_bboxs[{i}]", f"expected {{xmin, ymin, xmax, ymax}}, got {b!r}")
        missing = [k for k in ("xmin", "ymin", "xmax", "ymax") if k not in b]
        if missing:
            raise AnnotationError(file, rid, f"target_bboxs[{i}].{missing[0]}", "missing")
        coords = [b[k] for k in ("xmin", "ymin", "xmax", "ymax")]
        boxes.append(check(coords, rid, f"target_bboxs[{i}]", width, height))
    sent = _need(rec, "sentence", file, rid)
    desc = sent.get("description") if isinstance(sent, Mapping) else sent
    sentence = clean_vidstg_sentence(_sentence(desc, file, rid, "sentence.description"), typos)
    if not sentence:
        raise AnnotationError(file, rid, "sentence.description", f"no word left after cleaning {desc!r}")
    qtype = rec.get("qtype", "declar")
    if qtype not in ("declar", "inter"):
        raise AnnotationError(file, rid, "qtype", f"expected 'declar' or 'inter', got {qtype!r}")
    fps = rec.get("fps")
    sub, app, mot = _attributes(rec, file, rid)
    return STVGRecord(item_id=rid, video_id=vid, video_path=video_dir / f"{vid}.mp4", sentence=sentence,
                      t_start=gt_b, t_end=gt_e, boxes=boxes, width=width, height=height, frame_count=n,
                      segment=(seg_b, seg_e), fps=float(fps) if isinstance(fps, (int, float)) else None,
                      qtype=qtype, subject=sub, app_ids=app, mot_ids=mot, source=str(file),
                      extra={"target_category": rec.get("target_category")})


def load_vidstg(anno_file: str | Path, video_dir: str | Path, clip_boxes: bool = True,
                typos: Mapping[str, str] = VIDSTG_TYPOS) -> list[STVGRecord]:
    """Read VidSTG ``annos/{split}.json`` (dict keyed by sentence-pair id, spec §6.3)."""
    file = Path(anno_file)
    data, check = _load_json(file), _BoxChecker(file, clip_boxes)
    keys = sorted(data, key=lambda k: (len(k), k))
    records = [parse_vidstg_record(str(k), data[k], file, Path(video_dir), check, typos) for k in keys]
    check.report()
    return records


# ----------------------------------------------------------------------------------------------
def ground_truth(records: Iterable[STVGRecord]) -> dict[str, dict[str, Any]]:
    """Records -> the evaluator's ground truth ``{item_id: {"t_start", "t_end", "boxes", "qtype"?}}``.

    Inclusive frame ids and absolute ``xyxy`` pixel boxes (``tastvg.evaluation``). Keyed by
    ``item_id``: the video name for HC-STVG, the sentence-pair id for VidSTG (several sentences
    can share one VidSTG video).
    """
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.item_id in out:
            raise ValueError(f"{r.source}: duplicate item id '{r.item_id}'")
        entry: dict[str, Any] = {"t_start": r.t_start, "t_end": r.t_end,
                                 "boxes": {r.t_start + i: list(b) for i, b in enumerate(r.boxes)}}
        if r.qtype is not None:
            entry["qtype"] = r.qtype
        out[r.item_id] = entry
    return out
