"""The power-analysis math (issue 13): per duration, the metric's mean and per-unit
variance (the delta method for mean and ratio metrics), the CUPED correlation and the
minimum detectable effect. Imports ``scipy``.

With n units, n_c = n * allocation * controlShare and n_t = n * allocation *
(1 - controlShare) / (groups - 1), and alpha' = alpha / (groups - 1) under Bonferroni:

    mdeAbsolute = (z(1 - alpha'/sides) + z(power)) * sqrt(variance * (1/n_t + 1/n_c))
    mdeRelative = mdeAbsolute / |mean|                      (null when the mean is 0)
    varianceCuped = variance * (1 - rho^2)

The delta method for R = mean(num) / mean(den), per unit (so that Var(R) = variance / n):

    variance = var_num / mu_den^2 - 2 mu_num cov / mu_den^3 + mu_num^2 var_den / mu_den^4
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm


@dataclass(frozen=True)
class Design:
    """The experiment being sized."""

    alpha: float = 0.05
    power: float = 0.8
    two_sided: bool = True
    groups: int = 2
    control_share: float = 0.5
    allocation: float = 1.0
    bonferroni: bool = False

    @property
    def effective_alpha(self) -> float:
        return self.alpha / (self.groups - 1) if self.bonferroni else self.alpha

    @property
    def z(self) -> float:
        sides = 2 if self.two_sided else 1
        return float(norm.ppf(1 - self.effective_alpha / sides) + norm.ppf(self.power))

    def arms(self, units: float) -> tuple[float, float]:
        """(n_c, n_t): the units in control and in each treatment group (not rounded)."""
        control = units * self.allocation * self.control_share
        treatment = units * self.allocation * (1 - self.control_share) / (self.groups - 1)
        return control, treatment

    def mde(self, variance: float | None, units: float) -> float | None:
        control, treatment = self.arms(units)
        if variance is None or control <= 0 or treatment <= 0 or not math.isfinite(variance):
            return None
        return self.z * math.sqrt(max(variance, 0.0) * (1 / treatment + 1 / control))


def _number(value: Any) -> float | None:
    """A warehouse aggregate as a float (Decimal from PostgreSQL, None for NULL)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def delta_variance(
    mean_num: float, mean_den: float, var_num: float, var_den: float, cov: float
) -> float:
    """The per-unit variance of mean(num) / mean(den) by the delta method."""
    return (
        var_num / mean_den**2
        - 2 * mean_num * cov / mean_den**3
        + mean_num**2 * var_den / mean_den**4
    )


def relative(mde: float | None, mean: float | None) -> float | None:
    if mde is None or mean is None or mean == 0:
        return None
    return mde / abs(mean)


def duration(
    row: dict[str, Any],
    design: Design,
    metric_type: str,
    cuped: bool,
    warnings: list[str],
    label: str,
) -> dict[str, Any]:
    """One entry of ``durations`` (without ``weeks``, ``start``, ``end``) from the per-k
    aggregates ``row`` of ``power_sql.power_query``."""
    units = int(row.get("units") or 0)
    mean: float | None
    variance: float | None
    result: dict[str, Any] = {}
    if metric_type in ("mean", "ratio"):
        mean_num, mean_den = _number(row.get("mean_num")), _number(row.get("mean_den"))
        var_num, var_den = _number(row.get("var_num")), _number(row.get("var_den"))
        cov = _number(row.get("cov_num_den"))
        result["unitsWithoutDenominator"] = int(row.get("units_without_denominator") or 0)
        if not units or mean_num is None or not mean_den:
            mean = variance = None
            warnings.append(f"{label}: no unit has a non-zero denominator")
        else:
            mean = mean_num / mean_den
            variance = (
                delta_variance(mean_num, mean_den, var_num, var_den, cov)
                if None not in (var_num, var_den, cov)
                else None
            )
    else:
        mean, variance = _number(row.get("mean_y")), _number(row.get("var_y"))
        if units == 0:
            mean = None
    if units < 2:
        warnings.append(f"{label}: {units} unit(s); a variance needs at least two")
        variance = None
    control, treatment = design.arms(units)
    mde = design.mde(variance, units)
    result = {
        "units": units,
        "unitsControl": control,
        "unitsTreatment": treatment,
        "mean": mean,
        "variance": variance,
        "mdeAbsolute": mde,
        "mdeRelative": relative(mde, mean),
        **result,
    }
    if cuped:
        rho = _rho(row, variance)
        if rho is None and variance is not None:
            warnings.append(
                f"{label}: rho is undefined (the metric or its pre-period does not vary); "
                "CUPED is reported with rho 0"
            )
            rho = 0.0
        cuped_variance = (
            variance * (1 - rho**2) if variance is not None and rho is not None else None
        )
        cuped_mde = design.mde(cuped_variance, units)
        result.update(
            rho=rho,
            varianceCuped=cuped_variance,
            mdeAbsoluteCuped=cuped_mde,
            mdeRelativeCuped=relative(cuped_mde, mean),
        )
    return result


def _rho(row: dict[str, Any], variance: float | None) -> float | None:
    var_x, cov = _number(row.get("var_x")), _number(row.get("cov_xy"))
    var_y = _number(row.get("var_y"))
    if variance is None or not var_x or not var_y or cov is None:
        return None
    return max(-1.0, min(1.0, cov / math.sqrt(var_x * var_y)))
