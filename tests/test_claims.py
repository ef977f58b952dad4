"""Claims against made-up run records whose answer is known: paired differences by seed, the 95 %
Student-t interval, the verdict and the claims table."""

from __future__ import annotations

import math

import pytest

from tastvg.experiments import claims as cl
from tastvg.experiments.grids import VARIANTS


def run(variant: str, seed: int, **metrics: float) -> dict:
    """A run record as the runner writes it (metrics as fractions)."""
    return {"variant": variant, "seed": seed, "metrics": metrics}


def runs(variant: str, values: dict[int, float], metric: str = "m_tIoU") -> list[dict]:
    return [run(variant, s, **{metric: v}) for s, v in values.items()]


def test_t_quantile_table_and_expansion() -> None:
    assert cl.t_quantile_975(1) == pytest.approx(12.7062, abs=1e-4)
    assert cl.t_quantile_975(2) == pytest.approx(4.3027, abs=1e-4)
    assert cl.t_quantile_975(30) == pytest.approx(2.0423, abs=1e-4)
    assert cl.t_quantile_975(60) == pytest.approx(2.0003, abs=1e-4)  # Cornish-Fisher past the table
    assert cl.t_quantile_975(10_000) == pytest.approx(1.96, abs=1e-3)
    assert [cl.t_quantile_975(d) for d in range(1, 80)] == sorted((cl.t_quantile_975(d) for d in range(1, 80)),
                                                                   reverse=True)
    with pytest.raises(ValueError):
        cl.t_quantile_975(0)


def test_t_expansion_continues_the_table_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    monkeypatch.setitem(sys.modules, "scipy", None)  # import scipy raises ImportError
    assert cl.t_quantile_975(3) == pytest.approx(3.182446305)
    z, df = cl._Z975, 30  # the expansion at the table's last entry agrees with it
    expansion = (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
                 + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))
    assert expansion == pytest.approx(cl.t_quantile_975(30), abs=1e-5)


def test_paired_difference_by_hand() -> None:
    records = runs("a", {0: 0.50, 1: 0.40, 2: 0.45}) + runs("b", {0: 0.40, 1: 0.36, 2: 0.37})
    d = cl.paired_difference(records, "a", "b", "m_tIoU")
    assert d.seeds == (0, 1, 2) and d.n == 3
    assert d.differences == pytest.approx((10.0, 4.0, 8.0))
    assert d.mean == pytest.approx(22 / 3)
    sd = math.sqrt(((10 - 22 / 3) ** 2 + (4 - 22 / 3) ** 2 + (8 - 22 / 3) ** 2) / 2)
    assert d.std == pytest.approx(sd)
    half = 4.302652730 * sd / math.sqrt(3)
    assert (d.low, d.high) == pytest.approx((22 / 3 - half, 22 / 3 + half))
    assert cl.paired_difference(records, "a", "b", "m_tIoU", scale=1.0).mean == pytest.approx(22 / 300)


def test_clear_win_is_as_the_paper_claims() -> None:
    records = (runs("baseline", {s: 0.40 + 0.05 * s + 0.001 * (s % 2) for s in range(5)})
               + runs("zero_queries", {s: 0.30 + 0.05 * s for s in range(5)}))
    d = cl.paired_difference(records, "baseline", "zero_queries", "m_tIoU")
    assert d.low > 0
    assert cl.outcome(d) == cl.AS_CLAIMED
    text = cl.verdict(d)
    assert text.startswith("as the paper claims (95 % CI +") and f"{d.high:+.1f})" in text


def test_clear_loss_is_opposite_to_the_paper() -> None:
    records = runs("a", {0: 0.30, 1: 0.31, 2: 0.29}) + runs("b", {0: 0.40, 1: 0.40, 2: 0.40})
    d = cl.paired_difference(records, "a", "b", "m_tIoU")
    assert d.high < 0 and cl.outcome(d) == cl.OPPOSITE
    assert cl.verdict(d) == f"opposite to the paper (95 % CI {d.low:+.1f} to {d.high:+.1f})"


def test_noise_around_zero_is_inconclusive() -> None:
    records = runs("a", {0: 0.41, 1: 0.39, 2: 0.42, 3: 0.38}) + runs("b", {0: 0.40, 1: 0.40, 2: 0.40, 3: 0.40})
    d = cl.paired_difference(records, "a", "b", "m_tIoU")
    assert d.low < 0 < d.high
    assert cl.verdict(d).startswith("inconclusive (95 % CI -")


def test_an_interval_just_off_zero_never_prints_zero() -> None:
    d = cl.PairedDifference("a", "b", "m_vIoU", (0, 1), (-0.6, -0.1), -0.35, 0.35, -0.65, -0.04)
    assert cl.format_interval(d) == "95 % CI -0.65 to -0.04"
    assert cl.verdict(d) == "opposite to the paper (95 % CI -0.65 to -0.04)"
    d = cl.PairedDifference("a", "b", "m_vIoU", (0, 1), (1.0, 3.0), 2.0, 1.4, -10.7, 14.7)
    assert cl.format_interval(d) == "95 % CI -10.7 to +14.7"
    d = cl.PairedDifference("a", "b", "m_vIoU", (0, 1), (0.0, 0.0), 0.0, 0.0, 0.0, 0.0)
    assert cl.format_interval(d) == "95 % CI +0.0 to +0.0" and cl.outcome(d) == cl.INCONCLUSIVE


def test_one_seed_has_no_interval() -> None:
    d = cl.paired_difference(runs("a", {3: 0.5}) + runs("b", {3: 0.4}), "a", "b", "m_tIoU")
    assert d.n == 1 and d.mean == pytest.approx(10.0)
    assert math.isnan(d.std) and math.isnan(d.low) and math.isnan(d.high)
    assert cl.outcome(d) == cl.ONE_SEED
    assert cl.verdict(d) == "one seed (+10.0): no interval, no verdict"
    assert cl.format_interval(d) == "no interval"


def test_missing_seeds_are_paired_by_seed_id() -> None:
    # a has seeds 0, 1, 2, 5; b has 1, 2, 5, 7 (listed in another order): pairs are 1, 2, 5
    records = (runs("a", {0: 0.9, 1: 0.5, 2: 0.6, 5: 0.7})
               + runs("b", {7: 0.1, 5: 0.6, 2: 0.5, 1: 0.45}))
    d = cl.paired_difference(records, "a", "b", "m_tIoU")
    assert d.seeds == (1, 2, 5)
    assert d.differences == pytest.approx((5.0, 10.0, 10.0))
    none = cl.paired_difference(runs("a", {0: 0.5}) + runs("b", {1: 0.4}), "a", "b", "m_tIoU")
    assert none.n == 0 and math.isnan(none.mean)
    assert cl.outcome(none) == cl.NO_SEED and cl.verdict(none) == "no seed in common"


def test_a_metric_a_run_lacks_is_left_out_and_duplicates_are_errors() -> None:
    records = [run("a", 0, m_tIoU=0.5), run("a", 1), run("b", 0, m_tIoU=0.4), run("b", 1, m_tIoU=0.3)]
    assert cl.paired_difference(records, "a", "b", "m_tIoU").seeds == (0,)
    with pytest.raises(ValueError, match="two runs of 'a' with seed 0"):
        cl.paired_difference(records + [run("a", 0, m_tIoU=0.1)], "a", "b", "m_tIoU")


def test_claims_table() -> None:
    win = [run("baseline", s, m_tIoU=0.40 + 0.01 * s, m_vIoU=0.10) for s in range(3)]
    zero = [run("zero_queries", s, m_tIoU=0.30 + 0.01 * s + 0.002 * (s == 1), m_vIoU=0.10 + 0.01 * (s - 1))
            for s in range(3)]
    claim = cl.Claim("target-aware beat zero", "baseline", "zero_queries", "TA-STVG paper, abstract")
    absent = cl.Claim("needs a variant that did not run", "baseline", "tts_only", "TA-STVG paper, Table 4")
    table = cl.claims_table(win + zero, [claim, absent])
    assert list(table.columns) == ["claim", "source", "paper direction", "metric", "mean diff", "95 % CI", "n seeds",
                                   "verdict", "outcome"]
    assert list(table["metric"]) == ["m_tIoU", "m_vIoU"]
    assert set(table["claim"]) == {"target-aware beat zero"}
    assert set(table["paper direction"]) == {"baseline > zero_queries"}
    t, v = table.iloc[0], table.iloc[1]
    assert t["outcome"] == cl.AS_CLAIMED and t["n seeds"] == 3 and t["verdict"].endswith(f"({t['95 % CI']})")
    assert v["outcome"] == cl.INCONCLUSIVE and v["mean diff"] == pytest.approx(0.0, abs=1e-9)
    assert t["verdict"] == cl.verdict(cl.paired_difference(win + zero, "baseline", "zero_queries", "m_tIoU"))
    assert cl.claims_table([], [claim]).empty


def test_the_paper_claims_name_existing_variants() -> None:
    assert len(cl.CLAIMS) == 9
    for c in cl.CLAIMS:
        assert c.better in VARIANTS and c.worse in VARIANTS, c
        assert c.source.startswith("TA-STVG paper") and c.metrics == ("m_tIoU", "m_vIoU")


def test_seed_differences() -> None:
    records = (runs("baseline", {0: 0.40, 1: 0.41, 2: 0.42}) + runs("theta_0.5", {0: 0.38, 1: 0.41})
               + runs("delta_0", {0: 0.40, 1: 0.43, 2: 0.40}))
    dev = cl.seed_differences(records, ["theta_0.5", "delta_0"], metrics=["m_tIoU"])
    assert list(dev.index) == [("theta_0.5", 0), ("theta_0.5", 1), ("delta_0", 0), ("delta_0", 1), ("delta_0", 2)]
    assert list(dev["m_tIoU"]) == pytest.approx([-2.0, 0.0, 0.0, 2.0, -2.0])
    assert list(dev.unstack("seed").index) == ["theta_0.5", "delta_0"]  # the order given, not sorted
    empty = cl.seed_differences(records, [], metrics=["m_tIoU"])
    assert empty.empty and list(empty.columns) == ["m_tIoU"] and list(empty.index.names) == ["variant", "seed"]
