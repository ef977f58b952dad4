"""Ctrl-C and pre-emption: finish the current optimiser step, save, and stop cleanly.

SIGINT (Ctrl-C) and SIGTERM (what a cluster scheduler or ``torchrun`` sends before killing a job)
only set a flag while :class:`GracefulStop` is active. The engine looks at the flag after every
optimiser step (all ranks agree through one tiny all-reduce), writes ``last.pth`` at that step and
raises :class:`TrainingInterrupted`. A second Ctrl-C stops at once without saving.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(Exception):
    """The run stopped on a signal after saving ``path`` at optimiser step ``step``."""

    def __init__(self, signum: int, step: int, path: Path) -> None:
        self.signum, self.step, self.path = signum, step, Path(path)
        super().__init__(f"interrupted by {signal.Signals(signum).name} at step {step}: saved {self.path}")

    @property
    def exit_code(self) -> int:
        """The shell's convention for death by a signal (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + self.signum


class GracefulStop:
    """A context in which SIGINT/SIGTERM request a stop instead of killing the process."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without saving
        self.signum = signum

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def ignore_stop_signals_in_worker(worker_id: int) -> None:
    """``worker_init_fn`` of the data loaders: Ctrl-C goes to the trainer, not to its workers."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
