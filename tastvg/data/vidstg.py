"""VidSTG ``annos/{split}.json`` -> :class:`STVGRecord` lists, record for record as the official
loader (``datasets/vidstg.py`` of HengLan/TA-STVG @ 904ad0c, ``VidSTGDataset.load_data``).

A record is a dict keyed by sentence-pair id with absolute ``used_segment`` and ``ori_temp_gt``
(inclusive), the segment-relative ``temp_gt``, ``frame_count`` (the *segment* length, unused by the
loader) and one ``{xmin, ymin, xmax, ymax}`` box per frame from ``ori_temp_gt.begin_fid``::

    candidates   used_segment.begin_fid .. used_segment.end_fid        (absolute ids)
    span         ori_temp_gt.begin_fid .. min(ori_temp_gt.end_fid, used_segment.end_fid)
                 (the begin is not clipped: a span may start before the segment)
    box k        belongs to frame ori_temp_gt.begin_fid + k, used as given

The official loader silently skips two kinds of record; here they are dropped too, with one log
line per file that counts them and lists their ids (``strict=True`` raises instead):

* ``len(target_bboxs) != temp_gt.end_fid - temp_gt.begin_fid + 1`` ("box count");
* ``ori_temp_gt`` does not overlap ``used_segment`` ("outside the segment").

Records it would crash on (a ``temp_gt`` that disagrees with ``ori_temp_gt``, an empty box dict, an
empty span) are :class:`AnnotationError` s naming file, record and field. Sentences are cleaned as
``clean_anno`` does; the default typo table holds a few entries of the official
``datasets/words.py`` (pass that file to :func:`read_typo_table` for all 168).
"""

from __future__ import annotations

import ast
import json
import logging
import re
from pathlib import Path
from typing import Any, Mapping, Optional

from tastvg.data.annotations import (AnnotationError, BoxChecker, STVGRecord, _int, _need, _sentence, attributes,
                                     load_json)

log = logging.getLogger(__name__)

# A few entries of the official typo table (datasets/words.py), verbatim; read_typo_table() loads all.
VIDSTG_TYPOS: dict[str, str] = {"next_to": "next to", "dimgrey": "gray", "yelow": "yellow", "smll": "small"}
_SPLIT = re.compile(r"(\W+)")
_LETTER = re.compile(r"[A-Za-z]")
BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def clean_vidstg_sentence(text: str, typos: Mapping[str, str] = VIDSTG_TYPOS) -> str:
    """Official VidSTG cleaning: split the stripped text on runs of non-word characters, lower-case
    each piece, keep pieces with an ASCII letter, replace typos, join with single spaces.
    ``"A man, next_to 2 dogs!"`` -> ``"a man next to dogs"``."""
    words = [w.lower() for w in _SPLIT.split(text.strip()) if len(w) > 0 and w != " "]
    return " ".join(typos.get(w, w) for w in words if _LETTER.search(w))


def read_typo_table(path: str | Path) -> dict[str, str]:
    """A typo table from a JSON object or from the official ``datasets/words.py``
    (``replace_dict = {...}``, read as data with :func:`ast.literal_eval`, never executed)."""
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".json":
        table = json.loads(text)
    else:
        nodes = [n for n in ast.parse(text).body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Dict)]
        if not nodes:
            raise ValueError(f"{path}: no dict assignment (like replace_dict = {{...}}) found")
        table = ast.literal_eval(nodes[0].value)
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise ValueError(f"{path}: expected a mapping of strings to strings")
    return table


def _fids(rec: Mapping[str, Any], key: str, file: Path, rid: str, minimum: int = 0) -> tuple[int, int]:
    """``(begin_fid, end_fid)`` of ``rec[key]``, not yet checked for order."""
    pair = _need(rec, key, file, rid)
    if not isinstance(pair, Mapping):
        raise AnnotationError(file, rid, key, f"expected {{begin_fid, end_fid}}, got {pair!r}")
    return (_int(_need(pair, "begin_fid", file, rid), file, rid, f"{key}.begin_fid", minimum),
            _int(_need(pair, "end_fid", file, rid), file, rid, f"{key}.end_fid", minimum))


def _relative_span(rec: Mapping[str, Any], seg: tuple[int, int], ori: tuple[int, int], file: Path,
                   rid: str) -> tuple[int, int]:
    """``temp_gt`` as stored; when absent, what the official builder writes."""
    if "temp_gt" in rec:
        return _fids(rec, "temp_gt", file, rid, minimum=-(2**62))  # negative when the GT begins earlier
    seg_len = seg[1] - seg[0] + 1
    return ori[0] - seg[0], min(seg_len - 1, ori[1] - seg[0])


def drop_reason(rec: Mapping[str, Any], file: Path, rid: str) -> Optional[str]:
    """Why the official loader skips this record (``None``: it keeps it). Checked in its order."""
    seg, ori = _fids(rec, "used_segment", file, rid), _fids(rec, "ori_temp_gt", file, rid)
    rel = _relative_span(rec, seg, ori, file, rid)
    boxes = _need(rec, "target_bboxs", file, rid)
    if not isinstance(boxes, list):
        raise AnnotationError(file, rid, "target_bboxs", f"expected a list of boxes, got {boxes!r}")
    if len(boxes) != rel[1] - rel[0] + 1:
        return (f"target_bboxs: {len(boxes)} boxes, temp_gt {rel[0]}..{rel[1]} spans {rel[1] - rel[0] + 1} frames")
    if ori[1] < seg[0] or ori[0] > seg[1]:
        return f"ori_temp_gt: {ori[0]}..{ori[1]} does not overlap used_segment {seg[0]}..{seg[1]}"
    return None


def _boxes(raw: list[Any], t_start: int, t_end: int, rec_size: tuple[int, int], file: Path, rid: str,
           check: BoxChecker) -> list[list[float]]:
    if len(raw) != t_end - t_start + 1:
        raise AnnotationError(file, rid, "temp_gt", f"{len(raw)} boxes match temp_gt, but the span "
                              f"ori_temp_gt.begin_fid..min(end_fid, used_segment.end_fid) = {t_start}..{t_end} "
                              f"has {t_end - t_start + 1} frames (the official loader fails on this record)")
    boxes = []
    for i, b in enumerate(raw):
        if not isinstance(b, Mapping):
            raise AnnotationError(file, rid, f"target_bboxs[{i}]", f"expected {{xmin, ymin, xmax, ymax}}, got {b!r}")
        missing = [k for k in BOX_KEYS if k not in b]
        if missing:
            raise AnnotationError(file, rid, f"target_bboxs[{i}].{missing[0]}", "missing")
        boxes.append(check([b[k] for k in BOX_KEYS], rid, f"target_bboxs[{i}]", *rec_size))
    return boxes


def parse_vidstg_record(rid: str, rec: Mapping[str, Any], file: Path, video_dir: Path, check: BoxChecker,
                        typos: Mapping[str, str] = VIDSTG_TYPOS) -> STVGRecord:
    """One record the official loader keeps (call :func:`drop_reason` first)."""
    vid = _need(rec, "vid", file, rid)
    if not isinstance(vid, str) or not vid:
        raise AnnotationError(file, rid, "vid", f"expected a video id, got {vid!r}")
    width = _int(_need(rec, "width", file, rid), file, rid, "width", 1)
    height = _int(_need(rec, "height", file, rid), file, rid, "height", 1)
    seg, ori = _fids(rec, "used_segment", file, rid), _fids(rec, "ori_temp_gt", file, rid)
    if seg[1] < seg[0]:
        raise AnnotationError(file, rid, "used_segment", f"end_fid {seg[1]} < begin_fid {seg[0]}")
    t_start, t_end = ori[0], min(ori[1], seg[1])
    if t_end < t_start:
        raise AnnotationError(file, rid, "ori_temp_gt", f"empty span {t_start}..{t_end}")
    boxes = _boxes(rec["target_bboxs"], t_start, t_end, (width, height), file, rid, check)
    sent = _need(rec, "sentence", file, rid)
    desc = sent.get("description") if isinstance(sent, Mapping) else sent
    sentence = clean_vidstg_sentence(_sentence(desc, file, rid, "sentence.description"), typos)
    if not sentence.strip():
        raise AnnotationError(file, rid, "sentence.description", f"no word left after cleaning {desc!r}")
    qtype = rec.get("qtype", "declar")
    if qtype not in ("declar", "inter"):
        raise AnnotationError(file, rid, "qtype", f"expected 'declar' or 'inter', got {qtype!r}")
    fps = rec.get("fps")
    sub, app, mot = attributes(rec, file, rid)
    return STVGRecord(item_id=rid, video_id=vid, video_path=video_dir / f"{vid}.mp4", sentence=sentence,
                      t_start=t_start, t_end=t_end, boxes=boxes, width=width, height=height,
                      frame_count=seg[1] + 1, exact_frame_count=False, segment=seg,
                      fps=float(fps) if isinstance(fps, (int, float)) else None, qtype=qtype, subject=sub,
                      app_ids=app, mot_ids=mot, source=str(file),
                      extra={"target_category": rec.get("target_category"),
                             "segment_frame_count": rec.get("frame_count")})


def vidstg_records(data: Mapping[str, Any], source: str | Path, video_dir: str | Path, clip_boxes: bool = True,
                   typos: Mapping[str, str] = VIDSTG_TYPOS, strict: bool = False,
                   clip_negative: bool = False) -> tuple[list[STVGRecord], dict[str, str]]:
    """Records the official loader keeps, and ``{id: reason}`` of those it skips.

    ``clip_boxes=False`` makes a box outside the frame an error; by default boxes are used as
    given, like the official loader. ``strict=True`` raises on the first skipped record.
    """
    file = Path(source)
    check = BoxChecker(file, None if clip_boxes else False, clip_negative)
    records, dropped = [], {}
    for key in sorted(data, key=lambda k: (len(k), k)):
        rid, rec = str(key), data[key]
        if not isinstance(rec, Mapping):
            raise AnnotationError(file, rid, "-", f"expected an object, got {type(rec).__name__}")
        reason = drop_reason(rec, file, rid)
        if reason is not None:
            if strict:
                name, problem = reason.split(": ", 1)
                raise AnnotationError(file, rid, name, f"{problem} (the official loader skips this record)")
            dropped[rid] = reason
            continue
        records.append(parse_vidstg_record(rid, rec, file, Path(video_dir), check, typos))
    check.report()
    return records, dropped


def load_vidstg(anno_file: str | Path, video_dir: str | Path, clip_boxes: bool = True,
                typos: Mapping[str, str] = VIDSTG_TYPOS, strict: bool = False,
                clip_negative: bool = False) -> list[STVGRecord]:
    """Read VidSTG ``annos/{split}.json``; skipped records are logged once (see module doc)."""
    file = Path(anno_file)
    records, dropped = vidstg_records(load_json(file), file, video_dir, clip_boxes, typos, strict, clip_negative)
    log_dropped(file, dropped)
    return records


def log_dropped(file: Path, dropped: Mapping[str, str]) -> None:
    """One warning line: how many records were skipped, for which reasons, and their ids."""
    if not dropped:
        return
    kinds: dict[str, int] = {}
    for reason in dropped.values():
        kind = "box count" if reason.startswith("target_bboxs") else "outside the segment"
        kinds[kind] = kinds.get(kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    log.warning("%s: dropped %d record(s) that the official loader skips (%s): %s", file, len(dropped), summary,
                ", ".join(dropped))
