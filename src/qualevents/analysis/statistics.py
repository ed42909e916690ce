"""The statistics of exposure filtering, in Python with scipy: the sample-ratio test (SRM)
before and after filtering and the qualification balance (the bias guard), each with a
verdict. Imports ``scipy``.

A test that cannot be made (no units, one group, nobody or everybody qualified) is ``ok``
with a warning saying why, with ``chiSquare`` 0 and ``pValue`` 1: never a division error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

ALERT_P = 0.001
WARNING_P = 0.01


def verdict(p_value: float) -> str:
    """``alert`` below p 0.001, ``warning`` below 0.01, else ``ok``."""
    if p_value < ALERT_P:
        return "alert"
    if p_value < WARNING_P:
        return "warning"
    return "ok"


@dataclass
class TestResult:
    chi_square: float
    degrees_of_freedom: int
    p_value: float
    warnings: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return verdict(self.p_value)

    def to_data(self) -> dict[str, Any]:
        return {
            "chiSquare": self.chi_square,
            "degreesOfFreedom": self.degrees_of_freedom,
            "pValue": self.p_value,
            "verdict": self.verdict,
        }


def _untestable(degrees_of_freedom: int, why: str) -> TestResult:
    return TestResult(0.0, max(0, degrees_of_freedom), 1.0, [why])


def sample_ratio(
    observed: Mapping[str, int], weights: Mapping[str, float], what: str
) -> TestResult:
    """Pearson's chi-square goodness of fit of units per group against ``weights``
    (normalized over the groups in ``weights``; ``observed`` counts 0 for a group missing
    from it). ``what`` names the counts in warnings ("exposed units")."""
    groups = list(weights)
    counts = [int(observed.get(g, 0)) for g in groups]
    total = sum(counts)
    dof = len(groups) - 1
    if len(groups) < 2:
        return _untestable(0, f"The sample-ratio test of {what} needs at least two groups")
    if total == 0:
        return _untestable(dof, f"The sample-ratio test of {what} has no units to test")
    weight_sum = float(sum(weights[g] for g in groups))
    expected = [total * weights[g] / weight_sum for g in groups]
    chi_square, p_value = stats.chisquare(counts, expected)
    return TestResult(float(chi_square), dof, _finite_p(p_value))


def qualification_balance(qualified: Sequence[int], exposed: Sequence[int]) -> TestResult:
    """Pearson's chi-square test of independence of group and qualification, on the table
    groups x {qualified, not qualified}, without continuity correction."""
    table = [[int(q), int(e) - int(q)] for q, e in zip(qualified, exposed, strict=True)]
    table = [row for row in table if sum(row) > 0]
    dof = max(0, len(table) - 1)
    if len(table) < 2:
        return _untestable(dof, "The qualification balance needs units in at least two groups")
    if all(row[0] == 0 for row in table):
        return _untestable(dof, "Nobody qualified: the qualification balance cannot be tested")
    if all(row[1] == 0 for row in table):
        return _untestable(dof, "Everybody qualified: the qualification balance cannot be tested")
    result = stats.chi2_contingency(table, correction=False)
    return TestResult(float(result.statistic), int(result.dof), _finite_p(result.pvalue))


def _finite_p(p_value: float) -> float:
    value = float(p_value)
    return value if math.isfinite(value) else 1.0
