"""The run folder's rules: when to resume, and whether a checkpoint belongs to this configuration.

``--resume`` has three modes: ``no`` (a fresh run; an existing ``last.pth`` is an error, so a typo in
``--out`` never overwrites a run), ``yes`` (``last.pth`` must exist) and ``auto`` (resume if it
exists, start otherwise: what ``torchrun --max-restarts`` needs, since its restarted workers get
the same command line).

Before a resumed run writes anything, the resolved configuration is compared with the one the
checkpoint recorded (in today's shape: :func:`upgrade_run_config`); fields that only steer the run
(how long, how often to log, evaluate or save) may change, everything else must match.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Iterator, Mapping

from tastvg.train.checkpoint import latest_checkpoint

RESUME_MODES = ("no", "yes", "auto")
# may differ between a run and its resumption: paths, and how long / how often the loop acts
MAY_CHANGE = {"data_root", "tokenizer", "init_mdetr", "train.max_steps", "train.log_every", "train.eval_every",
              "train.checkpoint_every", "train.progress", "train.num_workers"}


def resume_source(run_dir: str | Path, mode: str) -> Path | None:
    """The checkpoint to resume from under ``mode`` (None = start a new run), or a clear error."""
    if mode not in RESUME_MODES:
        raise ValueError(f"resume mode must be one of {RESUME_MODES}, got {mode!r}")
    last = latest_checkpoint(run_dir)
    if mode == "yes" and last is None:
        raise SystemExit(f"error: --resume but {Path(run_dir) / 'last.pth'} does not exist "
                         "(`--resume auto` starts a new run when there is nothing to continue)")
    if mode == "no" and last is not None:
        raise SystemExit(f"error: {run_dir} already holds a run: add --resume (or --resume auto) to continue it, "
                         "or choose another --out")
    return last


def check_ranks_agree(sources: list[str | None]) -> None:
    """Stop with one clear line when the ranks' :func:`resume_source` results (one per rank, as
    gathered from every process) differ: a rank that starts fresh while another resumes would hang
    in the first collective."""
    if len(set(sources)) > 1:
        seen = ", ".join(f"rank {r}: {src or 'a new run'}" for r, src in enumerate(sources))
        raise SystemExit(f"error: the ranks disagree on what to resume from ({seen}): "
                         "every process must see the same --out folder")


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, name + ".")
        else:
            yield name, value


def config_differences(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """``"field: checkpoint X, now Y"`` for every field that differs and may not (see ``MAY_CHANGE``)."""
    old, new = dict(_flatten(saved)), dict(_flatten(now))
    missing = object()
    out = []
    for name in sorted(old.keys() | new.keys(), key=lambda n: (not n.endswith("name"), n)):
        if name in MAY_CHANGE:
            continue
        a, b = old.get(name, missing), new.get(name, missing)
        if a != b and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)):
            show = lambda v: "(absent)" if v is missing else repr(v)  # noqa: E731
            out.append(f"{name}: checkpoint {show(a)}, now {show(b)}")
    return out


def upgrade_run_config(saved: Mapping[str, Any]) -> dict[str, Any]:
    """A run's recorded configuration in today's shape, so that a run folder written by an older
    version compares field by field with a new run's:

    * the ``train`` record of before the recipe object (rates as ``lrs``, and ``epochs``,
      ``weight_decay``, ... beside the run fields) gets them moved into ``train.recipe`` under
      their :class:`~tastvg.config.OptimConfig` names;
    * fields added since with a default (e.g. the encoders' ``kind``) get it, in ``model``,
      ``data`` and ``train.recipe``. A record that no longer parses is left as it is (the
      comparison then names its fields).
    """
    from tastvg.config import OptimConfig, config_from_dict, lr_field
    from tastvg.data.config import DataConfig

    out = dict(saved)
    train = dict(out.get("train") or {})
    if train and "recipe" not in train:
        names = {f.name for f in dataclasses.fields(OptimConfig)}
        recipe = {lr_field(g): rate for g, rate in (train.pop("lrs", None) or {}).items()}
        recipe.update({k: train.pop(k) for k in list(train) if k in names})
        train = {"recipe": recipe, **train}
    with contextlib.suppress(TypeError, ValueError):
        if "recipe" in train:
            train["recipe"] = dataclasses.asdict(OptimConfig(**train["recipe"]))
    if train:
        out["train"] = train
    with contextlib.suppress(TypeError, ValueError):
        if isinstance(out.get("model"), Mapping):
            out["model"] = config_from_dict(dict(out["model"])).to_dict()
    with contextlib.suppress(TypeError, ValueError):
        if isinstance(out.get("data"), Mapping):
            out["data"] = DataConfig(**out["data"]).to_dict()
    return out


def check_resume_config(saved: Mapping[str, Any], now: Mapping[str, Any], path: str | Path, limit: int = 8) -> None:
    """Raise ``ValueError`` naming the differing fields if ``path`` was trained with another config
    (``saved`` is first brought to today's shape by :func:`upgrade_run_config`)."""
    diffs = config_differences(upgrade_run_config(saved), now)
    if diffs:
        more = f"; ... (+{len(diffs) - limit} more)" if len(diffs) > limit else ""
        raise ValueError(f"cannot resume from {path}: it was trained with another configuration "
                         f"({len(diffs)} field(s) differ: {'; '.join(diffs[:limit])}{more}); use the same "
                         "--config and overrides, or another --out for a new run")
