"""Small helpers shared by the benchmark scripts: tables, wall-time budgets, subprocesses, machine facts."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], digits: int = 3) -> str:
    """``rows`` as a Markdown table of ``columns`` (missing cells empty, floats to ``digits`` places)."""
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


@dataclass
class Budget:
    """A wall-time allowance that starts when created: ``left()`` seconds remain, ``over()`` when spent."""

    seconds: float
    start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()

    def over(self) -> bool:
        return self.left() <= 0


def peak_rss_gib() -> float:
    """This process's resident-set high-water mark in GiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def available_memory_gib() -> float:
    """MemAvailable of /proc/meminfo in GiB (inf where there is no /proc)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def machine_info(device: str) -> dict[str, Any]:
    """What a result needs to be read later: device name, versions, date, host facts."""
    import torch

    info: dict[str, Any] = {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                            "torch": torch.__version__, "python": platform.python_version(),
                            "cpu_threads": torch.get_num_threads(), "device": device}
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=torch.cuda.get_device_name(0), gpu_memory_GiB=round(props.total_memory / 2**30, 1),
                    cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    bf16_supported=torch.cuda.is_bf16_supported(),
                    tf32_matmul=torch.backends.cuda.matmul.allow_tf32, tf32_cudnn=torch.backends.cudnn.allow_tf32)
    else:
        info["cpu"] = platform.processor() or platform.machine()
    return info


def run_command(cmd: Sequence[str], timeout: float, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd``; returns rc (None on timeout), wall seconds and the tail of its output."""
    t0 = time.perf_counter()
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(list(cmd), cwd=cwd or REPO, env=full_env, capture_output=True, text=True,
                              timeout=max(timeout, 1.0))
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        rc = None
        out = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                      for x in (err.stdout, err.stderr))
    return {"cmd": " ".join(map(str, cmd)), "rc": rc, "seconds": time.perf_counter() - t0,
            "timed_out": rc is None, "output_tail": out[-3000:], "error_line": error_line(out)}


def error_line(output: str) -> str:
    """The last ``error: ...`` line (the CLI's own message) or, failing that, the last exception line."""
    lines = [line.strip() for line in output.splitlines()]
    own = [line for line in lines if line.startswith("error:")]
    raised = [line for line in lines if line.split(":")[0].endswith(("Error", "Exception"))]
    return (own or raised or [""])[-1][:500]
