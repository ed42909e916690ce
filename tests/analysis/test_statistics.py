"""The chi-square tests against scipy and Pearson's formula on hand-built tables, the
verdict thresholds and the degenerate tables (ok with a warning, never a division error)."""

from __future__ import annotations

import pytest
from scipy import stats

from qualevents.analysis.statistics import qualification_balance, sample_ratio, verdict


def test_sample_ratio_against_pearsons_formula_and_scipy() -> None:
    observed = {"control": 5100, "test": 4900}
    result = sample_ratio(observed, {"control": 1, "test": 1}, "exposed units")
    by_hand = (5100 - 5000) ** 2 / 5000 + (4900 - 5000) ** 2 / 5000
    assert result.chi_square == pytest.approx(by_hand)
    assert result.p_value == pytest.approx(stats.chi2.sf(by_hand, 1))
    assert result.degrees_of_freedom == 1
    assert result.p_value == pytest.approx(stats.chisquare([5100, 4900]).pvalue)


def test_weights_are_normalized_and_a_missing_arm_counts_zero() -> None:
    result = sample_ratio({"a": 300, "b": 700}, {"a": 3, "b": 7, "c": 10}, "units")
    expected = [1000 * 3 / 20, 1000 * 7 / 20, 1000 * 10 / 20]
    assert result.chi_square == pytest.approx(stats.chisquare([300, 700, 0], expected).statistic)
    assert result.degrees_of_freedom == 2
    assert result.verdict == "alert"


def test_qualification_balance_against_scipy_without_continuity_correction() -> None:
    qualified, exposed = [120, 150, 90], [1000, 1000, 1000]
    result = qualification_balance(qualified, exposed)
    table = [[q, e - q] for q, e in zip(qualified, exposed, strict=True)]
    reference = stats.chi2_contingency(table, correction=False)
    assert result.chi_square == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.degrees_of_freedom == 2
    # 2x2: without the correction the statistic is Pearson's, larger than Yates'
    two = qualification_balance([30, 50], [100, 100])
    yates = stats.chi2_contingency([[30, 70], [50, 50]], correction=True).statistic
    assert two.chi_square > yates
    n, a, b, c, d = 200, 30, 70, 50, 50
    assert two.chi_square == pytest.approx(n * (a * d - b * c) ** 2 / (100 * 100 * 80 * 120))


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.0009, "alert"), (0.001, "warning"), (0.0099, "warning"), (0.01, "ok"), (0.5, "ok")],
)
def test_verdict_thresholds(p: float, expected: str) -> None:
    assert verdict(p) == expected


@pytest.mark.parametrize(
    ("qualified", "exposed", "why"),
    [
        ([0, 0], [100, 120], "Nobody qualified"),
        ([100, 120], [100, 120], "Everybody qualified"),
        ([5], [10], "at least two groups"),
        ([0, 0], [0, 0], "at least two groups"),
    ],
)
def test_degenerate_balance_tables_are_ok_with_a_warning(qualified, exposed, why) -> None:
    result = qualification_balance(qualified, exposed)
    assert (result.chi_square, result.p_value, result.verdict) == (0.0, 1.0, "ok")
    assert why in result.warnings[0]


def test_degenerate_sample_ratio() -> None:
    empty = sample_ratio({}, {"a": 1, "b": 1}, "kept units")
    assert (empty.verdict, empty.degrees_of_freedom) == ("ok", 1)
    assert "no units" in empty.warnings[0]
    single = sample_ratio({"a": 10}, {"a": 1}, "exposed units")
    assert (single.verdict, single.degrees_of_freedom) == ("ok", 0)
