"""The paper's ablation claims, tested on run records: paired differences over seeds, a 95 %
interval from Student's t, and a verdict against the claimed direction.

A :class:`Claim` says "variant ``better`` scores higher than variant ``worse``" and where the
paper says so. :func:`paired_difference` pairs the runs of two variants by seed (same seed, same
data, same data order), so the seed-to-seed spread that both variants share cancels; the mean of
the per-seed differences gets a two-sided 95 % confidence interval

    mean ± t_{0.975, n-1} · sd / √n,

with ``sd`` the sample standard deviation (``ddof=1``) of the ``n`` differences. :func:`verdict`
reads the interval: above 0 is the paper's direction, below 0 the opposite, an interval that holds
0 is inconclusive; with one seed there is no interval and no verdict. :func:`claims_table` puts
every claim and metric in one table.

Records are the run dicts of :func:`tastvg.experiments.summary.load_records`
(``variant``, ``seed``, ``metrics`` as fractions); differences are in percentage points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

CLAIM_METRICS: tuple[str, ...] = ("m_tIoU", "m_vIoU")

# The four outcomes a verdict can have (the first words of its text).
AS_CLAIMED = "as the paper claims"
OPPOSITE = "opposite to the paper"
INCONCLUSIVE = "inconclusive"
ONE_SEED = "one seed"
NO_SEED = "no seed in common"
OUTCOMES: tuple[str, ...] = (AS_CLAIMED, INCONCLUSIVE, OPPOSITE, ONE_SEED, NO_SEED)


@dataclass(frozen=True)
class Claim:
    """The paper's claim that ``better`` scores higher than ``worse`` on each of ``metrics``.

    ``source`` says where the paper makes it (the table numbers are those of the arXiv version).
    """

    name: str
    better: str
    worse: str
    source: str
    metrics: tuple[str, ...] = CLAIM_METRICS

    @property
    def direction(self) -> str:
        """The claimed direction, e.g. ``"baseline > zero_queries"``."""
        return f"{self.better} > {self.worse}"


_PAPER = "TA-STVG paper (arXiv 2502.11168)"

# The ablation claims of the TA-STVG paper that the SynthSTVG grids can test (book chapter 8).
CLAIMS: tuple[Claim, ...] = (
    Claim("target-aware queries beat zero-initialised queries", "baseline", "zero_queries",
          f"{_PAPER}, abstract"),
    Claim("queries from the ground truth beat zero queries (upper bound)", "oracle_queries", "zero_queries",
          f"{_PAPER}, Fig. 2"),
    Claim("TTS helps", "tts_only", "no_tts_no_asa", f"{_PAPER}, Table 4"),
    Claim("ASA helps", "asa_only", "no_tts_no_asa", f"{_PAPER}, Table 4"),
    Claim("TTS + ASA beat TTS alone", "baseline", "tts_only", f"{_PAPER}, Table 4"),
    Claim("TTS + ASA beat ASA alone", "baseline", "asa_only", f"{_PAPER}, Table 4"),
    Claim("attribute activation beats instance activation", "baseline", "instance_activation",
          f"{_PAPER}, Table 7"),
    Claim("appearance + motion branches beat the appearance branch alone", "baseline", "appearance_branch_only",
          f"{_PAPER}, Tables 5-6"),
    Claim("appearance + motion branches beat the motion branch alone", "baseline", "motion_branch_only",
          f"{_PAPER}, Tables 5-6"),
)

# t_{0.975, df} for df = 1 .. 30 (two-sided 95 %), used when scipy is not installed.
_T975 = (12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
         2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
         2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
         2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
         2.045229642, 2.042272456)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """Student's t 0.975 quantile with ``df`` degrees of freedom (the 95 % two-sided factor).

    scipy's when installed; else the table above for ``df <= 30`` and the Cornish-Fisher expansion
    in ``1/df`` beyond (error below 1e-6 there).
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    try:
        from scipy import stats
    except ImportError:
        pass
    else:
        return float(stats.t.ppf(0.975, df))
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


@dataclass(frozen=True)
class PairedDifference:
    """``a − b`` on ``metric``, one difference per seed that both variants have.

    ``differences[i]`` belongs to ``seeds[i]``; ``mean``, ``std`` (``ddof=1``) and the 95 % interval
    ``[low, high]`` are in percentage points. ``std``, ``low`` and ``high`` are NaN with fewer than
    two seeds, ``mean`` too with none.
    """

    a: str
    b: str
    metric: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float
    std: float
    low: float
    high: float

    @property
    def n(self) -> int:
        return len(self.seeds)


def _by_seed(records: Iterable[Mapping[str, Any]], variant: str, metric: str, scale: float) -> dict[int, float]:
    """``{seed: scale · metric}`` of one variant's runs; a seed recorded twice is an error."""
    out: dict[int, float] = {}
    for r in records:
        if r["variant"] != variant or metric not in r["metrics"]:
            continue
        seed = int(r["seed"])
        if seed in out:
            raise ValueError(f"two runs of {variant!r} with seed {seed}: pass records of one setup")
        out[seed] = scale * float(r["metrics"][metric])
    return out


def paired_difference(records: Iterable[Mapping[str, Any]], a: str, b: str, metric: str,
                      scale: float = 100.0) -> PairedDifference:
    """Variant ``a`` minus variant ``b`` on ``metric``, paired by seed (seeds only one has are left out).

    Args:
        records: run dicts (``variant``, ``seed``, ``metrics``).
        a, b: variant names.
        metric: a key of ``metrics``, e.g. ``"m_vIoU"``.
        scale: factor applied to the metric before subtracting (100: fractions to points).
    """
    records = list(records)
    va, vb = _by_seed(records, a, metric, scale), _by_seed(records, b, metric, scale)
    seeds = tuple(sorted(set(va) & set(vb)))
    diffs = tuple(va[s] - vb[s] for s in seeds)
    n = len(diffs)
    nan = float("nan")
    if n == 0:
        return PairedDifference(a, b, metric, seeds, diffs, nan, nan, nan, nan)
    mean = sum(diffs) / n
    if n == 1:
        return PairedDifference(a, b, metric, seeds, diffs, mean, nan, nan, nan)
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    return PairedDifference(a, b, metric, seeds, diffs, mean, std, mean - half, mean + half)


def outcome(diff: PairedDifference) -> str:
    """One of :data:`OUTCOMES` for ``diff`` = better − worse (the paper's direction is > 0)."""
    if diff.n == 0:
        return NO_SEED
    if diff.n == 1:
        return ONE_SEED
    if diff.low > 0:
        return AS_CLAIMED
    if diff.high < 0:
        return OPPOSITE
    return INCONCLUSIVE


def format_interval(diff: PairedDifference, digits: int = 1) -> str:
    """``"95 % CI -1.1 to +5.3"``, or ``"no interval"`` with fewer than two seeds.

    A bound that is not 0 never prints as 0: both get more digits until it does not (at most 4),
    so an interval just below 0 reads ``-0.65 to -0.05``, not ``-0.7 to -0.0``.
    """
    low, high = diff.low, diff.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval"
    while digits < 4 and any(x != 0 and round(x, digits) == 0 for x in (low, high)):
        digits += 1
    return f"95 % CI {low:+.{digits}f} to {high:+.{digits}f}"


def verdict(diff: PairedDifference, digits: int = 1) -> str:
    """The outcome of ``diff`` with its interval, e.g. ``"inconclusive (95 % CI -1.1 to +5.3)"``.

    ``diff`` is better − worse of a :class:`Claim`: "as the paper claims" when the 95 % interval
    lies above 0, "opposite to the paper" when below, "inconclusive" when it holds 0; with one seed
    the text says so and gives the single difference.
    """
    kind = outcome(diff)
    if kind == NO_SEED:
        return kind
    if kind == ONE_SEED:
        return f"{ONE_SEED} ({diff.mean:+.{digits}f}): no interval, no verdict"
    return f"{kind} ({format_interval(diff, digits)})"


def claims_table(records: Iterable[Mapping[str, Any]], claims: Sequence[Claim] = CLAIMS,
                 scale: float = 100.0, digits: int = 1) -> Any:
    """One row per claim and metric: a pandas DataFrame with the columns ``claim``, ``source``,
    ``paper direction``, ``metric``, ``mean diff`` (points), ``95 % CI`` (text), ``n seeds``,
    ``verdict`` (text with the interval) and ``outcome`` (one of :data:`OUTCOMES`).

    Claims whose variants are not both among the records are left out.
    """
    import pandas as pd

    records = list(records)
    present = {r["variant"] for r in records}
    rows = []
    for c in claims:
        if not {c.better, c.worse} <= present:
            continue
        for metric in c.metrics:
            d = paired_difference(records, c.better, c.worse, metric, scale)
            rows.append({"claim": c.name, "source": c.source, "paper direction": c.direction, "metric": metric,
                         "mean diff": d.mean, "95 % CI": format_interval(d, digits), "n seeds": d.n,
                         "verdict": verdict(d, digits), "outcome": outcome(d)})
    columns = ["claim", "source", "paper direction", "metric", "mean diff", "95 % CI", "n seeds", "verdict",
               "outcome"]
    return pd.DataFrame(rows, columns=columns)


def seed_differences(records: Iterable[Mapping[str, Any]], variants: Sequence[str], reference: str = "baseline",
                     metrics: Sequence[str] = CLAIM_METRICS, scale: float = 100.0) -> Any:
    """Per-seed differences ``variant − reference`` (points): a DataFrame indexed by
    ``(variant, seed)`` (variants in the order given) with one column per metric, over the seeds
    both runs have."""
    import pandas as pd

    records = list(records)
    frames = {}
    for v in variants:
        diffs = {m: paired_difference(records, v, reference, m, scale) for m in metrics}
        seeds = sorted(set.intersection(*(set(d.seeds) for d in diffs.values()))) if diffs else []
        if seeds:
            frames[v] = pd.DataFrame({m: [d.differences[d.seeds.index(s)] for s in seeds] for m, d in diffs.items()},
                                     index=pd.Index(seeds, name="seed"), columns=list(metrics))
    if not frames:
        return pd.DataFrame(columns=list(metrics), index=pd.MultiIndex.from_tuples([], names=["variant", "seed"]))
    return pd.concat(frames, names=["variant"])
