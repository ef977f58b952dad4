"""What a run writes besides checkpoints: a CSV of every logged step, TensorBoard scalars, and the
environment (versions, devices) — on rank 0 only."""

from __future__ import annotations

import csv
import os
import platform
import sys
from pathlib import Path
from typing import Any, Mapping

from tastvg.io import write_json_atomic


def environment_info() -> dict[str, Any]:
    """Versions and devices, for the run folder and for ``tastvg info``."""
    import numpy
    import torch

    import tastvg

    info: dict[str, Any] = {
        "tastvg": tastvg.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    for name in ("transformers", "tokenizers", "av"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["bf16_supported"] = torch.cuda.is_bf16_supported()
    return info


class RunLogger:
    """Append-only CSV log (columns grow as new keys appear) plus optional TensorBoard."""

    def __init__(self, run_dir: str | os.PathLike, enabled: bool = True, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.csv_path = self.run_dir / "log.csv"
        self._rows: list[dict[str, Any]] = []
        self._writer = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.csv_path.exists():  # a resumed run keeps its history
            with open(self.csv_path, newline="") as f:
                self._rows = list(csv.DictReader(f))
        self._tensorboard = tensorboard
        self._open_tensorboard()

    def _open_tensorboard(self, purge_step: int | None = None) -> None:
        if not self._tensorboard:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard not installed: the CSV is enough
            return
        self._writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=purge_step)

    def truncate(self, step: int) -> None:
        """Forget what was logged after ``step`` (a resumed run repeats those steps): CSV rows go,
        and TensorBoard's events from ``step + 1`` on are purged when the writer reopens."""
        if not self.enabled:
            return
        kept = [row for row in self._rows if int(float(row["step"])) <= step]
        if len(kept) != len(self._rows):
            self._rows = kept
            self._write_csv()
        if self._writer is not None:
            self._writer.close()
            self._open_tensorboard(purge_step=step + 1)

    def log(self, step: int, values: Mapping[str, float], prefix: str = "") -> None:
        if not self.enabled:
            return
        row = {"step": step, **{f"{prefix}{k}": float(v) for k, v in values.items()}}
        self._rows.append(row)
        self._write_csv()
        if self._writer is not None:
            for k, v in values.items():
                self._writer.add_scalar(f"{prefix}{k}", float(v), step)

    def _write_csv(self) -> None:
        columns: list[str] = []
        for row in self._rows:
            columns += [k for k in row if k not in columns]
        tmp = self.csv_path.with_name(self.csv_path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self._rows)
        os.replace(tmp, self.csv_path)

    def write_json(self, name: str, data: Any) -> None:
        if self.enabled:
            write_json_atomic(self.run_dir / name, data)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
