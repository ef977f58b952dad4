"""Reading ablation results back: the run JSONs of :mod:`tastvg.experiments.runner` as a mean ± std table
over seeds (``summary.csv``, ``summary.md``, ``summary_meta.json``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Optional

from tastvg.experiments.grids import GRIDS, METRICS
from tastvg.io import write_json_atomic


def load_records(out: Path, setup_key: Optional[str] = None) -> list[dict[str, Any]]:
    """Every run JSON under ``OUT`` (optionally only those of one setup)."""
    recs = []
    for path in sorted(Path(out).glob("*/seed*.json")):
        if path.name.endswith("_detail.json"):
            continue
        rec = json.loads(path.read_text())
        if setup_key is None or rec.get("setup_key") == setup_key:
            recs.append(rec)
    return recs


def summarize(records: list[dict[str, Any]], grids: Optional[Iterable[str]] = None):
    """A ``pandas.DataFrame``: one row per (grid, variant) with mean and std (over seeds, in %); grids
    with fewer than two finished variants are left out."""
    import pandas as pd

    by_variant: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_variant.setdefault(r["variant"], []).append(r)
    rows = []
    for g in grids or GRIDS:
        if sum(v in by_variant for v in GRIDS[g]) < 2:
            continue  # nothing to compare in this grid yet
        for v in GRIDS[g]:
            rs = by_variant.get(v, [])
            if not rs:
                continue
            row: dict[str, Any] = {"grid": g, "variant": v, "seeds": len(rs)}
            for k in METRICS:
                vals = [100 * r["metrics"][k] for r in rs]
                mean = sum(vals) / len(vals)
                std = math.sqrt(sum((x - mean) ** 2 for x in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
                row[f"{k} mean"], row[f"{k} std"] = round(mean, 2), round(std, 2)
            row["minutes/run"] = round(sum(r["wall_time_s"] for r in rs) / len(rs) / 60, 1)
            rows.append(row)
    return pd.DataFrame(rows)


def format_summary(df) -> str:
    """Markdown table with ``mean ± std`` cells."""
    head = ["grid", "variant", "seeds", *METRICS, "min/run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.iterrows():
        cells = [r["grid"], r["variant"], str(r["seeds"])]
        cells += [f"{r[f'{k} mean']:.1f} ± {r[f'{k} std']:.1f}" for k in METRICS]
        lines.append("| " + " | ".join(cells + [f"{r['minutes/run']:.1f}"]) + " |")
    return "\n".join(lines)


def write_summary(out: Path, setup_key: Optional[str] = None, command: str = "") -> Any:
    """Write ``OUT/summary.csv`` and ``OUT/summary.md`` from the run JSONs; returns the table."""
    records = load_records(out, setup_key)
    df = summarize(records)
    Path(out).mkdir(parents=True, exist_ok=True)
    df.to_csv(Path(out) / "summary.csv", index=False)
    note = f"Made by `{command}`.\n\n" if command else ""
    write_json_atomic(Path(out) / "summary_meta.json", {"command": command, "setup_key": setup_key,
                                                  "runs": len(records),
                                                  "cpu_minutes": round(sum(r["wall_time_s"] for r in records) / 60, 1)})
    (Path(out) / "summary.md").write_text(
        "# SynthSTVG ablations: mean ± std over seeds (%)\n\n" + note + format_summary(df) + "\n")
    return df
